//! The axum extractor at the HTTP edge: signature first, then the delivery headers, then the
//! JSON envelope. Handlers only ever see a [`VerifiedDelivery`].

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;

use super::signature::Verifier;
use crate::ids::DeliveryId;
use crate::store::inbox::NewDelivery;

/// What the edge needs to check a delivery.
#[derive(Clone)]
pub struct EdgeLimits {
    pub verifier: Verifier,
    pub max_bytes: usize,
}

pub struct VerifiedDelivery(pub NewDelivery);

/// A refused delivery: status and one line saying what to fix.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

/// The fields of every payload that the inbox indexes. Deserialising into it also checks
/// that the whole body is well-formed JSON, without building a tree of it.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    action: Option<std::borrow::Cow<'a, str>>,
    installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
struct InstallationRef {
    id: u64,
}

impl<S> FromRequest<S> for VerifiedDelivery
where
    S: Send + Sync,
    EdgeLimits: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limits = EdgeLimits::from_ref(state);
        let (parts, body) = req.into_parts();
        let headers = &parts.headers;
        let signature = signature_header(headers)?;
        let body = read_limited(headers, body, limits.max_bytes).await?;
        limits
            .verifier
            .verify(Some(signature), &body)
            .map_err(|e| Rejection::new(StatusCode::UNAUTHORIZED, e.to_string()))?;
        let event = required_header(headers, "x-github-event")?;
        let id = required_header(headers, "x-github-delivery")?;
        let envelope: Envelope = serde_json::from_slice(&body).map_err(|e| {
            Rejection::new(
                StatusCode::BAD_REQUEST,
                format!("body is not valid JSON ({e}); GitHub sends application/json"),
            )
        })?;
        Ok(VerifiedDelivery(NewDelivery::new(
            DeliveryId(id),
            event,
            envelope.action.map(|a| a.into_owned()),
            envelope.installation.map(|i| i.id),
            &body,
        )))
    }
}

fn signature_header(headers: &HeaderMap) -> Result<&[u8], Rejection> {
    match headers.get("x-hub-signature-256") {
        Some(v) => Ok(v.as_bytes()),
        None => {
            let e = if headers.contains_key("x-hub-signature") {
                super::signature::SignatureError::Sha1Only
            } else {
                super::signature::SignatureError::Missing
            };
            Err(Rejection::new(StatusCode::UNAUTHORIZED, e.to_string()))
        }
    }
}

fn required_header(headers: &HeaderMap, name: &str) -> Result<String, Rejection> {
    let value = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .ok_or_else(|| {
            Rejection::new(
                StatusCode::BAD_REQUEST,
                format!("missing or unreadable {name} header; GitHub sends it on every delivery"),
            )
        })?;
    Ok(value.to_string())
}

/// Reads at most `max` bytes: a declared length over it is refused before reading, and an
/// undeclared one stops being read at the limit.
async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, Rejection> {
    let too_large = || {
        Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body is larger than the {max}-byte limit (AGEN_WEBHOOK_MAX_BYTES)"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, max).await.map_err(|e| {
        let is_limit = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if is_limit {
            too_large()
        } else if crate::edge::is_body_timeout(&e) {
            Rejection::new(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time (AGEN_BODY_TIMEOUT_SECONDS)".to_string(),
            )
        } else {
            Rejection::new(StatusCode::BAD_REQUEST, format!("could not read body: {e}"))
        }
    })
}
