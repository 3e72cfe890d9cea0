//! Wires the parts into a running server: store, inbox writer, GitHub client, intake, HTTP.

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
}

/// Starts everything on `listener` and returns once the server accepts requests.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    retry: RetryPolicy,
) -> anyhow::Result<Running> {
    let store = Store::open(&config.database_url).await?;
    store.release_delivery_claims().await?;
    let github = Arc::new(GitHub::new(&config.github_api_url, &config.app, retry)?);
    let arrived = Arc::new(Notify::new());
    let inbox = InboxWriter::start(&store, arrived.clone()).await?;
    let metrics = Arc::new(Metrics::default());

    let intake = Intake {
        store: store.clone(),
        github: github.clone(),
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
    })
}
