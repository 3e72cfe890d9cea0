//! The only paths the gateway serves, matched exactly on the request target as it came: no
//! normalisation (so `/v1/../admin` or `/v1/%6Dessages` match nothing) and origin form only
//! (an absolute URL names another host: refused).

use http::{HeaderMap, Method, Uri};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Anthropic,
    OpenAi,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Anthropic `POST /v1/messages`.
    Messages,
    /// Anthropic `POST /v1/messages/count_tokens`: free, nothing to meter.
    CountTokens,
    /// `GET /v1/models` of either provider.
    Models,
    /// OpenAI `POST /v1/chat/completions`.
    ChatCompletions,
    /// OpenAI `POST /v1/responses`.
    Responses,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Messages => "messages",
            Route::CountTokens => "count_tokens",
            Route::Models => "models",
            Route::ChatCompletions => "chat_completions",
            Route::Responses => "responses",
        }
    }

    /// Whether the call generates tokens (and so is priced and reserved).
    pub fn generates(self) -> bool {
        matches!(
            self,
            Route::Messages | Route::ChatCompletions | Route::Responses
        )
    }
}

/// A request the gateway forwards: to whom, what, and the path (with query) to append to the
/// provider's base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub provider: Provider,
    pub route: Route,
    pub upstream_path: String,
}

/// What the request asks for, or `None` (answered 404).
pub fn target(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Target> {
    if uri.scheme().is_some() || uri.authority().is_some() {
        return None;
    }
    let path = uri.path();
    let query = uri.query();
    // Anthropic's SDK adds `?beta=true` to its beta calls; nothing else carries a query.
    let beta_or_none = matches!(query, None | Some("beta=true"));
    let (provider, route) = match (method, path) {
        (&Method::POST, "/v1/messages") if beta_or_none => (Provider::Anthropic, Route::Messages),
        (&Method::POST, "/v1/messages/count_tokens") if beta_or_none => {
            (Provider::Anthropic, Route::CountTokens)
        }
        (&Method::GET, "/v1/models") if models_query(query) => {
            (models_provider(headers), Route::Models)
        }
        (&Method::POST, "/v1/chat/completions") if query.is_none() => {
            (Provider::OpenAi, Route::ChatCompletions)
        }
        (&Method::POST, "/v1/responses") if query.is_none() => (Provider::OpenAi, Route::Responses),
        _ => return None,
    };
    let upstream_path = match provider {
        // The OpenAI base URL carries `/v1` already, as the SDKs expect.
        Provider::OpenAi => path.trim_start_matches("/v1").to_string(),
        Provider::Anthropic => path.to_string(),
    };
    let upstream_path = match query {
        Some(q) => format!("{upstream_path}?{q}"),
        None => upstream_path,
    };
    Some(Target {
        provider,
        route,
        upstream_path,
    })
}

/// Listing models may page (`?limit=20&after_id=…`): plain parameters only.
fn models_query(query: Option<&str>) -> bool {
    query.is_none_or(|q| {
        q.len() <= 256
            && q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=&-_.".contains(&b))
    })
}

/// `GET /v1/models` is both providers' path: Anthropic's SDKs send `anthropic-version` and
/// `x-api-key`, OpenAI's a bearer token.
fn models_provider(headers: &HeaderMap) -> Provider {
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        Provider::Anthropic
    } else {
        Provider::OpenAi
    }
}
