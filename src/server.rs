//! Wires the parts into a running server: store, inbox writer, HTTP edge and, unless the
//! process is web-only, the GitHub client, intake and the job workers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Config;
use crate::edge;
use crate::github::{GitHub, RetryPolicy};
use crate::image::Images;
use crate::job::intake::{Intake, IntakeSettings};
use crate::job::worker;
use crate::job::worker::context::JobContext;
use crate::repo_config::ServerCaps;
use crate::sandbox::{Allowlist, Namespaces, NamespacesConfig};
use crate::store::inbox::InboxWriter;
use crate::store::Store;
use crate::web::Metrics;
use crate::webhook::delivery::EdgeLimits;
use crate::webhook::signature::Verifier;
use crate::webhook::{self, WebhookState};
use crate::workspace::{Identity, Workspaces};

pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    pub inbox: InboxWriter,
    pub served: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Woken whenever the inbox stored something new.
    pub arrived: Arc<Notify>,
    /// Woken whenever intake queued a job.
    pub queued: Arc<Notify>,
}

/// The HTTP edge alone: verify, store, answer. Returns once it accepts requests.
pub async fn start_web(config: &Config, listener: TcpListener) -> anyhow::Result<Running> {
    match edge::raise_descriptor_limit() {
        Ok(limit) if (limit as usize) < config.serve.max_connections + 64 => tracing::warn!(
            "the descriptor limit ({limit}) is below AGEN_MAX_CONNECTIONS ({}) and what the \
             rest of agen needs; raise the hard limit (ulimit -Hn) or lower the cap",
            config.serve.max_connections
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot raise the descriptor limit (RLIMIT_NOFILE): {e}"),
    }
    let store = Store::open(&config.database_url).await?;
    let arrived = Arc::new(Notify::new());
    let inbox = InboxWriter::start(&store, arrived.clone()).await?;
    let metrics = Arc::new(Metrics::default());
    let router = webhook::routes(WebhookState {
        limits: EdgeLimits {
            verifier: Verifier::new(&config.webhook_secrets.0),
            max_bytes: config.webhook_max_bytes,
        },
        inbox: inbox.clone(),
        metrics: metrics.clone(),
    })
    .merge(crate::web::routes(
        store.clone(),
        inbox.clone(),
        metrics,
        config.data_dir.join("logs"),
    ));
    let addr = listener.local_addr()?;
    let limits = config.serve.clone();
    let served = tokio::spawn(async move {
        edge::serve(listener, router, limits).await;
        Ok(())
    });
    Ok(Running {
        addr,
        store,
        inbox,
        served,
        arrived,
        queued: Arc::new(Notify::new()),
    })
}

/// How the non-HTTP parts run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub retry: RetryPolicy,
    /// The agen binary sandboxes re-execute (default: this process's own executable; tests,
    /// whose executable is not agen, name it).
    pub sandbox_exe: Option<PathBuf>,
    /// Host programs every session finds under `/opt/agen/bin` (the demo's agent).
    pub programs: Vec<crate::sandbox::Program>,
}

/// The edge, intake and workers in one process.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    options: Options,
) -> anyhow::Result<Running> {
    let running = start_web(config, listener).await?;
    let github = spawn_intake(
        config,
        running.store.clone(),
        running.arrived.clone(),
        running.queued.clone(),
        options.retry.clone(),
    )
    .await?;
    spawn_workers(
        config,
        running.store.clone(),
        github,
        running.queued.clone(),
        &options,
    )
    .await?;
    Ok(running)
}

/// Job workers (`AGEN_WORKERS` of them; none when it is 0), each running jobs in the
/// namespace sandbox.
pub async fn spawn_workers(
    config: &Config,
    store: Store,
    github: Arc<GitHub>,
    queued: Arc<Notify>,
    options: &Options,
) -> anyhow::Result<()> {
    if config.jobs.workers == 0 {
        return Ok(());
    }
    let workspaces = Workspaces::new(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot prepare the data dir (AGEN_DATA_DIR): {e}"))?;
    let swept = workspaces.sweep_leftovers();
    if swept > 0 {
        tracing::info!(swept, "removed job workspaces left by a crash");
    }
    let mut sandbox = NamespacesConfig {
        hide: config.jobs.sandbox_hidden.clone(),
        mounts: config.jobs.environment.mounts.clone(),
        egress_allow: Allowlist::new(config.jobs.egress_allow.iter().cloned()),
        egress_allow_private: config.jobs.egress_allow_private.clone(),
        ..NamespacesConfig::default()
    };
    if let Some(exe) = &options.sandbox_exe {
        sandbox.agen_exe = exe.clone();
    }
    let sandbox = Arc::new(Namespaces::new(sandbox));
    let bot = match github.app().await {
        Ok(app) => Identity::github_bot(&app.slug, app.id),
        Err(e) => {
            tracing::warn!("cannot read the App's name from GitHub ({e}); commits name agen[bot]");
            Identity::github_bot("agen", config.app.app_id)
        }
    };
    let mut ctx = JobContext::new(config, store, github, sandbox, workspaces, bot);
    ctx.programs = options.programs.clone();
    let images = Images::open(
        config.jobs.image_registries.clone(),
        config.jobs.image_credentials.clone(),
        config.jobs.image_max_bytes,
        &config.data_dir.join("images"),
    )
    .map_err(|e| anyhow::anyhow!("cannot prepare the image cache (AGEN_DATA_DIR): {e}"))?;
    ctx.images = Some(Arc::new(images));
    worker::spawn_workers(Arc::new(ctx), queued);
    Ok(())
}

/// Intake: grants reconciled from GitHub, then the inbox processed as it fills (woken by
/// `arrived`, and polled every few seconds for deliveries stored by another process).
pub async fn spawn_intake(
    config: &Config,
    store: Store,
    arrived: Arc<Notify>,
    queued: Arc<Notify>,
    retry: RetryPolicy,
) -> anyhow::Result<Arc<GitHub>> {
    let github = Arc::new(GitHub::new(&config.github_api_url, &config.app, retry)?);
    // One intake runs per database, so any claim still held is from a run that died.
    store.release_delivery_claims().await?;
    let intake = Intake {
        store,
        github: github.clone(),
        queued,
        settings: IntakeSettings {
            app_id: config.app.app_id,
            caps: ServerCaps::of(config),
            log_dir: config.data_dir.join("logs"),
        },
    };
    tokio::spawn(async move {
        match crate::job::intake::installations::reconcile_all(&intake.store, &intake.github).await
        {
            Ok(n) => tracing::info!("grants reconciled from GitHub: {n} installations"),
            Err(e) => tracing::warn!("could not reconcile grants from GitHub at start: {e}"),
        }
        intake.run(arrived).await
    });
    Ok(github)
}
