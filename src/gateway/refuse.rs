//! The gateway's own answers, in the shape of the provider the client speaks, so its SDK shows
//! the message and does not retry (`x-should-retry: false`, which the Anthropic and OpenAI SDKs
//! honour, and a status they do not retry by themselves).

use axum::body::Body;
use http::{Response, StatusCode};
use serde_json::json;

use super::routes::Provider;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a model route (or a provider agen holds no key for).
    NotFound,
    /// No job token, a wrong one, or a job that has ended.
    Unauthorized,
    /// The body cannot be read or priced.
    BadRequest,
    /// A model agen has no price for.
    UnknownModel,
    /// A model the job's agent is not configured for.
    ModelNotAllowed,
    /// The body is above the gateway's limit.
    TooLarge,
    /// A budget cap leaves no room.
    Budget,
    /// The provider could not be reached.
    Upstream,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::BadRequest | Refusal::UnknownModel | Refusal::ModelNotAllowed => {
                StatusCode::BAD_REQUEST
            }
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Budget => StatusCode::PAYMENT_REQUIRED,
            Refusal::Upstream => StatusCode::BAD_GATEWAY,
        }
    }

    fn anthropic_type(self) -> &'static str {
        match self {
            Refusal::NotFound => "not_found_error",
            Refusal::Unauthorized => "authentication_error",
            Refusal::BadRequest | Refusal::UnknownModel | Refusal::ModelNotAllowed => {
                "invalid_request_error"
            }
            Refusal::TooLarge => "request_too_large",
            Refusal::Budget => "billing_error",
            Refusal::Upstream => "api_error",
        }
    }

    fn openai_type_and_code(self) -> (&'static str, &'static str) {
        match self {
            Refusal::NotFound => ("invalid_request_error", "unknown_url"),
            Refusal::Unauthorized => ("invalid_request_error", "invalid_api_key"),
            Refusal::BadRequest => ("invalid_request_error", "invalid_request"),
            Refusal::UnknownModel => ("invalid_request_error", "model_not_priced"),
            Refusal::ModelNotAllowed => ("invalid_request_error", "model_not_allowed"),
            Refusal::TooLarge => ("invalid_request_error", "request_too_large"),
            Refusal::Budget => ("insufficient_quota", "agen_budget_exceeded"),
            Refusal::Upstream => ("server_error", "upstream_unreachable"),
        }
    }
}

/// The refusal with `message` (one line: what went wrong, what to do).
pub fn refuse(provider: Provider, refusal: Refusal, message: &str) -> Response<Body> {
    let message = format!("agen: {message}");
    let body = match provider {
        Provider::Anthropic => json!({
            "type": "error",
            "error": { "type": refusal.anthropic_type(), "message": message },
        }),
        Provider::OpenAi => {
            let (kind, code) = refusal.openai_type_and_code();
            json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
        }
    };
    Response::builder()
        .status(refusal.status())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-should-retry", "false")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}
