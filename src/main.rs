//! The `agen` command line.

use std::process::ExitCode;

use clap::{Args, FromArgMatches, Parser, Subcommand};

use std::sync::Arc;

use agen::config::{Config, LogFormat, Source};
use agen::github::{GitHub, RetryPolicy};
use agen::server::Options;
use tokio::sync::Notify;

#[derive(Parser)]
#[command(
    name = "agen",
    version,
    about = "Hand GitHub issues to coding agents in throw-away sandboxes; get pull requests back"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Receive GitHub webhooks and turn them into jobs.
    Serve {
        /// Only receive and store deliveries; `agen intake` processes them.
        #[arg(long)]
        web_only: bool,
    },
    /// Process stored deliveries (for a `serve --web-only` process on the same database).
    Intake,
    /// Run queued jobs (for `serve` processes with AGEN_WORKERS=0 on the same database).
    Worker,
    /// Run the whole flow against the built-in GitHub simulator (no account, no network).
    #[cfg_attr(
        not(feature = "sim"),
        command(about = "Run the whole flow against the GitHub simulator (not in this build)")
    )]
    Demo,
    /// The agent `agen demo` runs in its sandbox (asks the model through the gateway).
    #[cfg(feature = "sim")]
    #[command(hide = true)]
    DemoAgent,
    /// Model spend by month and repository (or installation).
    Spend(agen::cli::SpendArgs),
    /// Delete session logs.
    Logs {
        #[command(subcommand)]
        command: LogsCmd,
    },
    /// Read and check the audit log.
    Audit {
        #[command(subcommand)]
        command: agen::cli::AuditCmd,
    },
    /// Inspect jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCmd,
    },
    /// Try the sandbox by hand.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCmd,
    },
}

#[derive(Subcommand)]
enum SandboxCmd {
    Run(agen::cli_sandbox::RunArgs),
}

#[derive(Subcommand)]
enum LogsCmd {
    /// Delete the session logs of one job, or of a repository's jobs (before a day).
    Delete(agen::cli::LogsDeleteArgs),
}

#[derive(Subcommand)]
enum JobsCmd {
    /// List every job, oldest first.
    List {
        /// Print JSON (an array of objects) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // The sandbox's own init: must run before anything starts a thread.
    if std::env::args_os().nth(1).as_deref() == Some(agen::sandbox::init::INIT_ARG.as_ref()) {
        return status(agen::sandbox::init::main());
    }
    if let Some(args) = sandbox_run_args() {
        return sandbox_run(args);
    }
    let cli = Cli::parse();
    // Synchronous and needing only AGEN_DATA_DIR: runs without the async runtime, whose
    // start-up would slow every launch.
    let command = match cli.command {
        Cmd::Sandbox {
            command: SandboxCmd::Run(args),
        } => return sandbox_run(args),
        command => command,
    };
    #[cfg(not(feature = "sim"))]
    if let Cmd::Demo = command {
        eprintln!(
            "agen: this agen was built without the simulator; build with the default features \
             (cargo build) to run agen demo"
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("agen: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Cmd::Serve { web_only } => serve(web_only).await,
            Cmd::Intake => intake().await,
            Cmd::Worker => worker().await,
            #[cfg(feature = "sim")]
            Cmd::Demo => agen::demo::run().await,
            #[cfg(not(feature = "sim"))]
            Cmd::Demo => Err(anyhow::anyhow!("agen demo needs the simulator")),
            #[cfg(feature = "sim")]
            Cmd::DemoAgent => agen::demo_agent::run().await,
            Cmd::Jobs {
                command: JobsCmd::List { json },
            } => agen::cli::jobs_list(json).await,
            Cmd::Spend(args) => agen::cli::spend(args).await,
            Cmd::Logs {
                command: LogsCmd::Delete(args),
            } => agen::cli::logs_delete(args).await,
            Cmd::Audit { command } => match agen::cli::audit(command).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(anyhow::anyhow!(
                    "the audit log does not verify; the entry named above is the first bad one"
                )),
                Err(e) => Err(e),
            },
            Cmd::Sandbox { .. } => Err(anyhow::anyhow!("agen sandbox runs before the runtime")),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `agen sandbox run …`'s own arguments, parsed without building the whole command tree (which
/// would cost each launch a tenth of a millisecond); None for any other command line.
fn sandbox_run_args() -> Option<agen::cli_sandbox::RunArgs> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != "sandbox" || args.next()? != "run" {
        return None;
    }
    let command = agen::cli_sandbox::RunArgs::augment_args(clap::Command::new("agen sandbox run"));
    let parsed = command
        .try_get_matches_from(std::iter::once("agen sandbox run".into()).chain(args))
        .and_then(|matches| agen::cli_sandbox::RunArgs::from_arg_matches(&matches));
    Some(parsed.unwrap_or_else(|e| e.exit()))
}

/// `agen sandbox run` exits with the command's own status (124 on timeout, 125 when the
/// sandbox itself failed).
fn sandbox_run(args: agen::cli_sandbox::RunArgs) -> ExitCode {
    match agen::cli_sandbox::run(args) {
        Ok(code) => status(code),
        Err(e) => {
            eprintln!("agen: {e}");
            ExitCode::from(125)
        }
    }
}

fn status(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

async fn serve(web_only: bool) -> anyhow::Result<()> {
    let config = Config::load(&Source::from_env()?)?;
    init_logging(config.log_format);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (AGEN_LISTEN): {e}", config.listen))?;
    let running = if web_only {
        agen::server::start_web(&config, listener).await?
    } else {
        agen::server::start(&config, listener, Options::default()).await?
    };
    tracing::info!("agen listening on http://{}", running.addr);
    tokio::select! {
        served = running.served => served??,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
    Ok(())
}

async fn intake() -> anyhow::Result<()> {
    let config = Config::load(&Source::from_env()?)?;
    init_logging(config.log_format);
    let store = agen::store::Store::open(&config.database_url).await?;
    let arrived = Arc::new(Notify::new());
    // Workers in other processes poll the queue; nothing here to wake.
    let queued = Arc::new(Notify::new());
    agen::server::spawn_intake(&config, store, arrived, queued, RetryPolicy::default()).await?;
    tracing::info!("agen intake running");
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn worker() -> anyhow::Result<()> {
    let config = Config::load(&Source::from_env()?)?;
    init_logging(config.log_format);
    if config.jobs.workers == 0 {
        anyhow::bail!(
            "config: AGEN_WORKERS is 0, so `agen worker` would run nothing; set it to 1 or more"
        );
    }
    let store = agen::store::Store::open(&config.database_url).await?;
    let github = Arc::new(GitHub::new(
        &config.github_api_url,
        &config.app,
        RetryPolicy::default(),
    )?);
    let queued = Arc::new(Notify::new());
    agen::server::spawn_workers(&config, store, github, queued, &Options::default()).await?;
    tracing::info!("agen worker running {} jobs at once", config.jobs.workers);
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}
