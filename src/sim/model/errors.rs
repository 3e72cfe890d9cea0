//! The providers' error bodies, and the answer type every route returns.

use serde_json::{json, Value};

use super::sse::{Event, Pacing};

/// Whose conventions an answer follows (error shape, request-id header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provider {
    Anthropic,
    OpenAi,
}

/// What a route answers, before it becomes an HTTP response.
pub(crate) enum Answer {
    Json {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    Stream {
        events: Vec<Event>,
        pacing: Pacing,
    },
}

impl Answer {
    pub fn ok(body: Value) -> Answer {
        Answer::Json {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Answer::Json { status, .. } => *status,
            Answer::Stream { .. } => 200,
        }
    }
}

/// `{"type":"error","error":{"type":..,"message":..},"request_id":..}`.
pub(crate) fn anthropic(status: u16, message: &str, request_id: &str) -> Answer {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    Answer::Json {
        status,
        headers: Vec::new(),
        body: json!({
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": request_id,
        }),
    }
}

/// `{"error":{"message":..,"type":..,"param":..,"code":..}}`.
pub(crate) fn openai(
    status: u16,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Answer {
    Answer::Json {
        status,
        headers: Vec::new(),
        body: json!({
            "error": {"message": message, "type": kind, "param": param, "code": code},
        }),
    }
}

/// A scripted `Step::error(status)` in the provider's shape, with `retry-after` when set.
pub(crate) fn scripted(
    provider: Provider,
    status: u16,
    retry_after: Option<u64>,
    request_id: &str,
) -> Answer {
    let mut answer = match provider {
        Provider::Anthropic => {
            let message = match status {
                429 => "This request would exceed the rate limit for your organization. Please try again later.",
                529 => "Overloaded",
                500..=599 => "Internal server error",
                _ => "Scripted error",
            };
            anthropic(status, message, request_id)
        }
        Provider::OpenAi => match status {
            429 => openai(
                status,
                "Rate limit reached. Please try again later.",
                "rate_limit_exceeded",
                None,
                Some("rate_limit_exceeded"),
            ),
            500..=599 => openai(
                status,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
                None,
            ),
            _ => openai(
                status,
                "Scripted error",
                "invalid_request_error",
                None,
                None,
            ),
        },
    };
    if let (Answer::Json { headers, .. }, Some(secs)) = (&mut answer, retry_after) {
        headers.push(("retry-after", secs.to_string()));
    }
    answer
}
