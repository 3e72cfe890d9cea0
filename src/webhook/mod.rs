//! The HTTP edge for GitHub's webhooks: verify, record durably, answer. No other work happens
//! inside the request; intake picks the delivery up from the inbox.

pub mod delivery;
pub mod signature;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::store::inbox::{Arrival, InboxWriter};
use crate::web::Metrics;
use delivery::{EdgeLimits, VerifiedDelivery};

#[derive(Clone)]
pub struct WebhookState {
    pub limits: EdgeLimits,
    pub inbox: InboxWriter,
    pub metrics: std::sync::Arc<Metrics>,
}

impl FromRef<WebhookState> for EdgeLimits {
    fn from_ref(state: &WebhookState) -> EdgeLimits {
        state.limits.clone()
    }
}

/// `POST /webhook` and Probot's `POST /api/github/webhooks`.
pub fn routes(state: WebhookState) -> Router {
    Router::new()
        .route("/webhook", post(receive))
        .route("/api/github/webhooks", post(receive))
        .with_state(state)
}

async fn receive(
    State(state): State<WebhookState>,
    delivery: Result<VerifiedDelivery, delivery::Rejection>,
) -> Response {
    let delivery = match delivery {
        Ok(VerifiedDelivery(d)) => d,
        Err(rejection) => {
            state.metrics.count_delivery(rejection.status);
            tracing::warn!(status = rejection.status.as_u16(), "{}", rejection.message);
            return rejection.into_response();
        }
    };
    let id = delivery.id.clone();
    let (status, message) = match state.inbox.record(delivery).await {
        Ok(Arrival::New) => (StatusCode::ACCEPTED, "recorded"),
        Ok(Arrival::Duplicate) => (StatusCode::OK, "already recorded; nothing more to do"),
        Err(e) => {
            tracing::error!(delivery = %id, "could not record delivery: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the delivery; redeliver it from the App's advanced settings",
            )
        }
    };
    state.metrics.count_delivery(status);
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}
