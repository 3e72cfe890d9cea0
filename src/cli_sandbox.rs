//! `agen sandbox run`: one command in one fresh session, by hand or from a benchmark.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Source;
use crate::sandbox::session_dir::{sweep_leftovers, SessionDir};
use crate::sandbox::{
    Allowlist, Limits, Namespaces, NamespacesConfig, Sandbox, SessionSpec, StopHandle,
};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Directory mounted read-write at /work (default: a fresh, empty one, removed after; on
    /// tmpfs, /dev/shm, where there is one).
    /// When agen runs as root, it is lent to the session's unprivileged uid and given back.
    #[arg(long)]
    pub worktree: Option<PathBuf>,
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
    let data_dir = source.data_dir();
    let scratch_base = scratch_base(&data_dir);
    sweep_leftovers(&scratch_base);
    let scratch;
    let worktree = match args.worktree {
        Some(dir) => dir,
        None => {
            scratch = SessionDir::create(&scratch_base)?;
            let dir = scratch.path().join("work");
            std::fs::create_dir(&dir)?;
            dir
        }
    };

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
        worktree,
        command: args.command,
        env,
        limits: Limits {
            wall_clock: Duration::from_secs(args.timeout),
            cpu_seconds: args.cpu,
            memory_bytes: args.memory_mib << 20,
            max_processes: args.pids,
            ..Limits::default()
        },
        egress_only: Vec::new(),
    };
    let mut config = NamespacesConfig::new(&data_dir);
    config.hide = source.sandbox_hidden_paths();
    config.egress_allow = Allowlist::new(source.egress_allow().into_iter().chain(args.allow));
    // agen exits right after its one session: the session's PID 1 need not be waited for.
    config.leave_init = true;
    let sandbox = Namespaces::new_sweeping_later(config);
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

/// Where scratch worktrees live: `/dev/shm/agen-scratch-<uid>` (tmpfs) when that is usable and
/// private, else `<data dir>/scratch`. Not on disk if it can be helped: on a disk mounted with
/// `discard` (ext4 often is), removing a directory costs a synchronous discard, milliseconds
/// per run.
fn scratch_base(data_dir: &Path) -> PathBuf {
    let shm = Path::new("/dev/shm");
    // SAFETY: geteuid has no arguments.
    let euid = unsafe { libc::geteuid() };
    let tmpfs_base = shm.join(format!("agen-scratch-{euid}"));
    if shared_tmpfs_is_safe(shm) && own_private_dir(&tmpfs_base, euid) {
        tmpfs_base
    } else {
        data_dir.join("scratch")
    }
}

/// `dir` is a tmpfs owned by root where nobody can rename or remove others' entries (sticky,
/// or writable by root alone).
fn shared_tmpfs_is_safe(dir: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    let sticky_or_private = meta.mode() & 0o1000 != 0 || meta.mode() & 0o022 == 0;
    if !meta.is_dir() || meta.uid() != 0 || !sticky_or_private {
        return false;
    }
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs on a valid path into a zeroed struct it fills.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    let ret = unsafe { libc::statfs(path.as_ptr(), &mut fs) };
    ret == 0 && fs.f_type == libc::TMPFS_MAGIC
}

/// Creates `dir` (0700) if needed; true when it is a real directory of `uid`'s that nobody else
/// may enter.
fn own_private_dir(dir: &Path, uid: u32) -> bool {
    let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
}
