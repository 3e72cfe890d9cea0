//! Wires the parts into a running server: store, inbox writer, HTTP edge and, unless the
//! process is web-only, the GitHub client and intake.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Config;
use crate::github::{GitHub, RetryPolicy};
use crate::job::intake::{Intake, IntakeSettings};
use crate::store::inbox::InboxWriter;
use crate::store::Store;
use crate::web::Metrics;
use crate::webhook::delivery::EdgeLimits;
use crate::webhook::signature::Verifier;
use crate::webhook::{self, WebhookState};

pub struct Running {
    pub addr: SocketAddr,
    pub store: Store,
    pub served: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Woken whenever the inbox stored something new.
    pub arrived: Arc<Notify>,
}

/// The HTTP edge alone: verify, store, answer. Returns once it accepts requests.
pub async fn start_web(config: &Config, listener: TcpListener) -> anyhow::Result<Running> {
    let store = Store::open(&config.database_url).await?;
    let arrived = Arc::new(Notify::new());
    let inbox = InboxWriter::start(&store, arrived.clone()).await?;
    let metrics = Arc::new(Metrics::default());
    let router = webhook::routes(WebhookState {
        limits: EdgeLimits {
            verifier: Verifier::new(&config.webhook_secrets.0),
            max_bytes: config.webhook_max_bytes,
        },
        inbox,
        metrics: metrics.clone(),
    })
    .merge(crate::web::routes(store.clone(), metrics));
    let addr = listener.local_addr()?;
    let served = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running {
        addr,
        store,
        served,
        arrived,
    })
}

/// The edge plus intake in one process.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    retry: RetryPolicy,
) -> anyhow::Result<Running> {
    let running = start_web(config, listener).await?;
    spawn_intake(
        config,
        running.store.clone(),
        running.arrived.clone(),
        retry,
    )
    .await?;
    Ok(running)
}

/// Intake: grants reconciled from GitHub, then the inbox processed as it fills (woken by
/// `arrived`, and polled every few seconds for deliveries stored by another process).
pub async fn spawn_intake(
    config: &Config,
    store: Store,
    arrived: Arc<Notify>,
    retry: RetryPolicy,
) -> anyhow::Result<()> {
    let github = Arc::new(GitHub::new(&config.github_api_url, &config.app, retry)?);
    // One intake runs per database, so any claim still held is from a run that died.
    store.release_delivery_claims().await?;
    let intake = Intake {
        store,
        github,
        settings: IntakeSettings {
            app_id: config.app.app_id,
            trigger_label: config.trigger_label.clone(),
            min_permission: config.min_permission,
        },
    };
    tokio::spawn(async move {
        match crate::job::grants::reconcile_all(&intake.store, &intake.github).await {
            Ok(n) => tracing::info!("grants reconciled from GitHub: {n} installations"),
            Err(e) => tracing::warn!("could not reconcile grants from GitHub at start: {e}"),
        }
        intake.run(arrived).await
    });
    Ok(())
}
