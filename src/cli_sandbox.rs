//! `agen sandbox run`: one command in one fresh session, by hand or from a benchmark.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Source;
use crate::sandbox::{
    Allowlist, Limits, Namespaces, NamespacesConfig, Sandbox, SessionSpec, StopHandle,
};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Run one command in a fresh session; exits with its status (124 on timeout).
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Directory mounted read-write at /work (default: a fresh, empty tmpfs, gone with the
    /// session; nothing of it is left on the host).
    /// When agen runs as root, it is lent to the session's unprivileged uid and given back.
    #[arg(long)]
    pub worktree: Option<PathBuf>,
    /// Directory used read-only as the session's system in place of the host's /usr, /bin,
    /// /lib and /etc (an unpacked image, say; its work, tmp, proc and dev are not used).
    #[arg(long, value_name = "DIR")]
    pub system: Option<PathBuf>,
    /// Host the command may reach through the egress proxy, besides AGEN_EGRESS_ALLOW
    /// (repeatable).
    #[arg(long = "allow", value_name = "HOST")]
    pub allow: Vec<String>,
    /// Extra environment variable for the command, NAME=VALUE (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Wall-clock limit in seconds (exit status 124 when it ends the command).
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// CPU-time limit in seconds.
    #[arg(long, default_value_t = 600)]
    pub cpu: u64,
    /// Memory limit in MiB.
    #[arg(long, default_value_t = 2048)]
    pub memory_mib: u64,
    /// Most processes at once.
    #[arg(long, default_value_t = 256)]
    pub pids: u64,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Runs the command; returns its exit status (124 on timeout, 128 + n when killed by signal n).
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let source = Source::from_env()?;
    let mut env = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".to_string(), "/tmp".to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ];
    for pair in &args.env {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--env {pair}: expected NAME=VALUE"))?;
        env.retain(|(n, _)| n != name);
        env.push((name.to_string(), value.to_string()));
    }
    let spec = SessionSpec {
        binds: Vec::new(),
        worktree: args.worktree,
        command: args.command,
        env,
        limits: Limits {
            wall_clock: Duration::from_secs(args.timeout),
            cpu_time: Duration::from_secs(args.cpu),
            memory_bytes: args.memory_mib << 20,
            max_processes: args.pids,
            ..Limits::default()
        },
        egress_only: None,
        services: Vec::new(),
        programs: Vec::new(),
        system: args.system,
        workdir: None,
    };
    let sandbox = Namespaces::new(NamespacesConfig {
        hide: source.sandbox_hidden_paths(),
        egress_allow: Allowlist::new(source.egress_allow().into_iter().chain(args.allow)),
        egress_allow_private: source.egress_allow_private()?,
        // agen exits right after its one session: the session's PID 1 need not be waited for.
        leave_init: true,
        ..NamespacesConfig::default()
    });
    let mut stdout = std::io::stdout();
    let report = sandbox.run(&spec, &StopHandle::new(), &mut |chunk| {
        let _ = stdout.write_all(chunk);
        let _ = stdout.flush();
    })?;
    for host in &report.refused_hosts {
        eprintln!("agen sandbox: egress refused for {host}");
    }
    if report.output_truncated {
        eprintln!(
            "agen sandbox: output cut at {} bytes",
            spec.limits.output_bytes
        );
    }
    Ok(report.outcome.exit_code())
}
