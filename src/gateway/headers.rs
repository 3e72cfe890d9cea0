//! Which headers cross the gateway. Towards the provider only a known list: the API's own
//! (`anthropic-version`, `anthropic-beta`, `openai-beta`), content negotiation and the SDKs'
//! telemetry; never the client's credentials, and nothing that would bill another account
//! (`openai-organization`, `openai-project`) or ask for a compressed answer agen could not
//! read. Back to the client everything but the hop-by-hop headers and cookies.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::routes::Provider;

const TO_PROVIDER: &[&str] = &[
    "content-type",
    "accept",
    "anthropic-version",
    "anthropic-beta",
    "openai-beta",
    "user-agent",
    "x-app",
    "originator",
    "session_id",
    "conversation_id",
    "x-client-request-id",
    "idempotency-key",
];

const NOT_TO_CLIENT: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "set-cookie",
    "alt-svc",
];

/// The client's headers that go on, with the provider's real key added.
pub fn to_provider(client: &HeaderMap, provider: Provider, key: &str) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in client {
        let n = name.as_str();
        if TO_PROVIDER.contains(&n) || n.starts_with("x-stainless-") {
            out.append(name.clone(), value.clone());
        }
    }
    let credential = match provider {
        Provider::Anthropic => ("x-api-key", key.to_string()),
        Provider::OpenAi => ("authorization", format!("Bearer {key}")),
    };
    if let Ok(mut value) = HeaderValue::from_str(&credential.1) {
        value.set_sensitive(true);
        out.insert(HeaderName::from_static(credential.0), value);
    }
    out
}

/// The provider's headers that go back to the client.
pub fn to_client(provider: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in provider {
        if !NOT_TO_CLIENT.contains(&name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The token the client presented: `x-api-key` (Anthropic's SDKs), or a bearer token
/// (OpenAI's, and Anthropic's with an auth token).
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key") {
        return key.to_str().ok();
    }
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}
