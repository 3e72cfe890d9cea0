//! One HTTP round trip to GitHub through octocrab, with GitHub's retry rules: wait out
//! `Retry-After` or the rate-limit reset on 403/429, back off on 5xx and connection errors,
//! and give up after a bounded number of attempts.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde_json::Value;

const USER_AGENT: &str = concat!("agen/", env!("CARGO_PKG_VERSION"), " (GitHub App)");

#[derive(Debug, Clone, thiserror::Error)]
#[error("GitHub {what}: {message}")]
pub struct GitHubError {
    /// The HTTP status, when GitHub answered at all.
    pub status: Option<u16>,
    pub what: String,
    pub message: String,
}

impl GitHubError {
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_backoff: Duration,
    /// The longest agen waits for a rate limit to reset before giving up on the call.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            first_backoff: Duration::from_millis(250),
            max_wait: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
pub struct Transport {
    octo: Octocrab,
    retry: RetryPolicy,
}

impl Transport {
    pub fn new(api_url: &str, retry: RetryPolicy) -> Result<Transport, GitHubError> {
        let fail = |e: String| GitHubError {
            status: None,
            what: "client setup".into(),
            message: e,
        };
        let octo = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| fail(e.to_string()))?
            .add_header(http::header::USER_AGENT, USER_AGENT.to_string())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Transport { octo, retry })
    }

    /// Sends the request, retrying as GitHub asks; returns the final status and body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        authorization: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), GitHubError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(&method, path, authorization, body).await;
            let wait = match &outcome {
                Ok((status, headers, _)) => self.wait_before_retry(*status, headers, backoff),
                Err(_) => Some(backoff),
            };
            match (outcome, wait) {
                (Ok((status, _, bytes)), None) => return Ok((status, bytes)),
                (_, Some(wait)) if attempt < self.retry.attempts && wait <= self.retry.max_wait => {
                    tracing::debug!(%what, attempt, ?wait, "retrying GitHub call");
                    tokio::time::sleep(wait).await;
                }
                (Ok((status, _, bytes)), Some(_)) => return Ok((status, bytes)),
                (Err(message), _) => {
                    return Err(GitHubError {
                        status: None,
                        what,
                        message,
                    })
                }
            }
            attempt += 1;
            backoff *= 2;
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        authorization: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), String> {
        let builder = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::AUTHORIZATION, authorization)
            .header(http::header::ACCEPT, "application/vnd.github+json");
        let request = self
            .octo
            .build_request(builder, body)
            .map_err(|e| e.to_string())?;
        let response = self
            .octo
            .execute(request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }

    /// How long to wait before trying again, or `None` when the answer is final.
    fn wait_before_retry(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        backoff: Duration,
    ) -> Option<Duration> {
        if status.is_server_error() {
            return Some(backoff);
        }
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (header_u64(headers, "x-ratelimit-remaining") == Some(0)
                    || headers.contains_key("retry-after")));
        if !limited {
            return None;
        }
        if let Some(secs) = header_u64(headers, "retry-after") {
            return Some(Duration::from_secs(secs));
        }
        if let Some(reset) = header_u64(headers, "x-ratelimit-reset") {
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
        }
        // A secondary rate limit without a hint: GitHub asks for at least a minute.
        Some(Duration::from_secs(60).max(backoff))
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// GitHub's `{"message": ...}` from an error body, or the status text.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string())
}
