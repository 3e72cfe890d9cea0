//! Health, readiness and metrics endpoints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::store::inbox::InboxWriter;
use crate::store::model_calls::ModelSpend;
use crate::store::Store;

mod job_metrics;
mod job_page;

pub use job_page::PageState;

/// Counters exported at `/metrics` in Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicate: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

impl Metrics {
    pub fn count_delivery(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            202 => &self.accepted,
            200 => &self.duplicate,
            400..=499 => &self.rejected,
            _ => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self) -> String {
        let mut out = String::from(
            "# HELP agen_webhook_deliveries_total Webhook deliveries by result.\n\
             # TYPE agen_webhook_deliveries_total counter\n",
        );
        for (result, counter) in [
            ("accepted", &self.accepted),
            ("duplicate", &self.duplicate),
            ("rejected", &self.rejected),
            ("failed", &self.failed),
        ] {
            out.push_str(&format!(
                "agen_webhook_deliveries_total{{result=\"{result}\"}} {}\n",
                counter.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

#[derive(Clone)]
struct HealthState {
    store: Store,
    inbox: InboxWriter,
    metrics: Arc<Metrics>,
}

pub fn routes(
    store: Store,
    inbox: InboxWriter,
    metrics: Arc<Metrics>,
    log_dir: std::path::PathBuf,
) -> Router {
    let pages = Router::new()
        .route("/jobs/{id}", get(job_page::page))
        .with_state(PageState {
            store: store.clone(),
            log_dir,
        });
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(HealthState {
            store,
            inbox,
            metrics,
        })
        .merge(pages)
}

async fn readyz(State(s): State<HealthState>) -> impl IntoResponse {
    match s.store.pending_deliveries().await {
        Ok(_) => (StatusCode::OK, "ready".to_string()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database not ready: {e}"),
        ),
    }
}

async fn metrics_text(State(s): State<HealthState>) -> impl IntoResponse {
    let pending = match s.store.pending_deliveries().await {
        Ok(in_table) => in_table + s.inbox.uncopied() as i64,
        Err(_) => -1,
    };
    let spend = s.store.spend_by_model().await.unwrap_or_default();
    let jobs = s.store.job_metrics().await.unwrap_or_default();
    let body = format!(
        "{}# HELP agen_inbox_pending Deliveries stored but not yet processed.\n\
         # TYPE agen_inbox_pending gauge\nagen_inbox_pending {pending}\n{}{}",
        s.metrics.render(),
        spend_text(&spend),
        job_metrics::render(&jobs)
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}

/// Model calls and their spend by repository and model (from the store, so every process of
/// one database reports the same figures).
fn spend_text(rows: &[ModelSpend]) -> String {
    let mut calls = String::from(
        "# HELP agen_model_calls_total Model calls through the gateway.\n\
         # TYPE agen_model_calls_total counter\n",
    );
    let mut spend = String::from(
        "# HELP agen_model_spend_usd_total Model spend through the gateway, in US dollars.\n\
         # TYPE agen_model_spend_usd_total counter\n",
    );
    for row in rows {
        let labels = format!(
            "repo=\"{}\",model=\"{}\"",
            label_value(&row.repo),
            label_value(&row.model)
        );
        calls.push_str(&format!(
            "agen_model_calls_total{{{labels}}} {}\n",
            row.calls
        ));
        spend.push_str(&format!(
            "agen_model_spend_usd_total{{{labels}}} {:.6}\n",
            row.micro as f64 / 1e6
        ));
    }
    calls + &spend
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
