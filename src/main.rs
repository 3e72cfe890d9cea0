//! The `agen` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use agen::config::{Config, LogFormat, Source};
use agen::github::RetryPolicy;

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
    Serve,
    /// Inspect jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCmd,
    },
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
    let cli = Cli::parse();
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
        match cli.command {
            Cmd::Serve => serve().await,
            Cmd::Jobs {
                command: JobsCmd::List { json },
            } => agen::cli::jobs_list(json).await,
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

async fn serve() -> anyhow::Result<()> {
    let config = Config::load(&Source::from_env()?)?;
    init_logging(config.log_format);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (AGEN_LISTEN): {e}", config.listen))?;
    let running = agen::server::start(&config, listener, RetryPolicy::default()).await?;
    tracing::info!("agen listening on http://{}", running.addr);
    tokio::select! {
        served = running.served => served??,
        _ = tokio::signal::ctrl_c() => tracing::info!("shutting down"),
    }
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
