//! The HTTP edge: one fallback handler routes, checks credentials and bodies, takes the next
//! step, records the call and writes the answer (JSON, or a stream of events).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::errors::{self, Answer, Provider};
use super::generate::{Outcome, Output};
use super::sse::{self, Event, Pacing};
use super::step::Reply;
use super::{anthropic, chat, ids, models, responses, ModelCall, Shared};

/// Larger request bodies are refused with 413 (Anthropic's limit is 32 MB).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(shared)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Messages,
    CountTokens,
    Models,
    Chat,
    Responses,
    NotFound,
}

fn route(method: &str, path: &str) -> Route {
    match (method, path) {
        ("POST", "/v1/messages") => Route::Messages,
        ("POST", "/v1/messages/count_tokens") => Route::CountTokens,
        ("GET", "/v1/models") => Route::Models,
        ("POST", "/v1/chat/completions") => Route::Chat,
        ("POST", "/v1/responses") => Route::Responses,
        _ => Route::NotFound,
    }
}

/// One request as the routes see it.
struct Call {
    method: String,
    path: String,
    /// The path with its query, as recorded.
    target: String,
    headers: Vec<(String, String)>,
    body_len: usize,
    /// `Ok(None)` for an empty body, `Err` when it is not JSON.
    json: Result<Option<Value>, ()>,
}

impl Call {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Anthropic's conventions when the call carries its headers, else OpenAI's.
    fn provider(&self, route: Route) -> Provider {
        match route {
            Route::Messages | Route::CountTokens => Provider::Anthropic,
            Route::Chat | Route::Responses => Provider::OpenAi,
            Route::Models | Route::NotFound => {
                if self.header("x-api-key").is_some() || self.header("anthropic-version").is_some()
                {
                    Provider::Anthropic
                } else {
                    Provider::OpenAi
                }
            }
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await;
    let call = Call {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_string(), value)
            })
            .collect(),
        body_len: bytes.as_ref().map_or(0, |b| b.len()),
        json: match &bytes {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(None),
            Ok(b) => serde_json::from_slice(b).map(Some).map_err(|_| ()),
            Err(_) => Err(()),
        },
    };
    let route = route(&call.method, &call.path);
    let provider = call.provider(route);
    let request_id = ids::id("req_", 24);
    let answer = if bytes.is_err() {
        too_large(provider, &request_id)
    } else {
        answer(&shared, &call, route, provider, &request_id).unwrap_or_else(|refused| refused)
    };
    shared.record(ModelCall {
        method: call.method.clone(),
        path: call.target.clone(),
        headers: call.headers.clone(),
        body: call.json.clone().ok().flatten().unwrap_or(Value::Null),
        status: answer.status(),
    });
    respond(shared, answer, provider, &request_id)
}

fn too_large(provider: Provider, request_id: &str) -> Answer {
    match provider {
        Provider::Anthropic => errors::anthropic(
            413,
            "Request exceeds the maximum allowed number of bytes.",
            request_id,
        ),
        Provider::OpenAi => errors::openai(
            413,
            "Request too large.",
            "invalid_request_error",
            None,
            None,
        ),
    }
}

/// The answer to a call; `Err` holds a refusal.
fn answer(
    shared: &Shared,
    call: &Call,
    route: Route,
    provider: Provider,
    request_id: &str,
) -> Result<Answer, Answer> {
    match (route, provider) {
        (Route::NotFound, Provider::Anthropic) => {
            Err(errors::anthropic(404, "Not Found", request_id))
        }
        (Route::NotFound, Provider::OpenAi) => Err(errors::openai(
            404,
            &format!("Invalid URL ({} {})", call.method, call.path),
            "invalid_request_error",
            None,
            None,
        )),
        (Route::Models, Provider::Anthropic) => {
            anthropic_auth(shared, call, request_id)?;
            Ok(Answer::ok(models::anthropic()))
        }
        (Route::Models, Provider::OpenAi) => {
            openai_auth(shared, call)?;
            Ok(Answer::ok(models::openai()))
        }
        (Route::CountTokens, _) => {
            anthropic_auth(shared, call, request_id)?;
            let body = anthropic_body(call, request_id)?;
            if let Some(message) = anthropic::check_count(body) {
                return Err(errors::anthropic(400, &message, request_id));
            }
            let tokens = (call.body_len as u64).div_ceil(4);
            Ok(Answer::ok(json!({"input_tokens": tokens})))
        }
        (Route::Messages, _) => {
            anthropic_auth(shared, call, request_id)?;
            let body = anthropic_body(call, request_id)?;
            if let Some(message) = anthropic::check_messages(body) {
                return Err(errors::anthropic(400, &message, request_id));
            }
            let max = body.get("max_tokens").and_then(Value::as_u64);
            generate(
                shared,
                call,
                provider,
                body,
                max,
                request_id,
                (
                    |o: &Outcome| anthropic::stream(o),
                    |o: &Outcome| anthropic::complete(o),
                ),
            )
        }
        (Route::Chat, _) => {
            openai_auth(shared, call)?;
            let body = openai_body(call, chat::check)?;
            generate(
                shared,
                call,
                provider,
                body,
                chat::max_tokens(body),
                request_id,
                (
                    |o: &Outcome| chat::stream(o, chat::include_usage(body)),
                    |o: &Outcome| chat::complete(o),
                ),
            )
        }
        (Route::Responses, _) => {
            openai_auth(shared, call)?;
            let body = openai_body(call, responses::check)?;
            let max = responses::max_tokens(body);
            generate(
                shared,
                call,
                provider,
                body,
                max,
                request_id,
                (
                    |o: &Outcome| responses::stream(o, body),
                    |o: &Outcome| responses::complete(o, body),
                ),
            )
        }
    }
}

fn streams(body: &Value) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

/// Takes the next step and shapes it as the provider's events (`shape.0`) when the request
/// streams, else as its one JSON answer (`shape.1`); or answers its scripted error.
fn generate(
    shared: &Shared,
    call: &Call,
    provider: Provider,
    body: &Value,
    max_tokens: Option<u64>,
    request_id: &str,
    shape: (
        impl FnOnce(&Outcome) -> Vec<Event>,
        impl FnOnce(&Outcome) -> Value,
    ),
) -> Result<Answer, Answer> {
    let step = shared.next_step();
    let pacing = Pacing::of(&step);
    let output = match step.reply {
        Reply::Error {
            status,
            retry_after,
        } => return Err(errors::scripted(provider, status, retry_after, request_id)),
        Reply::Text(text) => Output::Text(text),
        Reply::ToolCall { name, input } => Output::Tool { name, input },
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let outcome = Outcome::new(model, output, step.usage, call.body_len, max_tokens);
    let (stream, complete) = shape;
    Ok(if streams(body) {
        Answer::Stream {
            events: stream(&outcome),
            pacing,
        }
    } else {
        Answer::ok(complete(&outcome))
    })
}

/// `x-api-key` must be the key, and `anthropic-version` present.
fn anthropic_auth(shared: &Shared, call: &Call, request_id: &str) -> Result<(), Answer> {
    match call.header("x-api-key") {
        None => {
            return Err(errors::anthropic(
                401,
                "x-api-key header is required",
                request_id,
            ))
        }
        Some(key) if key != shared.cfg.anthropic_key => {
            return Err(errors::anthropic(401, "invalid x-api-key", request_id))
        }
        Some(_) => {}
    }
    if call.header("anthropic-version").is_none() {
        return Err(errors::anthropic(
            400,
            "anthropic-version: header is required",
            request_id,
        ));
    }
    Ok(())
}

/// `Authorization: Bearer <key>` must carry the key.
fn openai_auth(shared: &Shared, call: &Call) -> Result<(), Answer> {
    let refuse = |message: String| {
        errors::openai(
            401,
            &message,
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        )
    };
    let given = call
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        None => Err(refuse(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_string(),
        )),
        Some(key) if key != shared.cfg.openai_key => Err(refuse(format!(
            "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
            masked(key)
        ))),
        Some(_) => Ok(()),
    }
}

/// `sk-ab**********wxyz`, as OpenAI echoes a wrong key.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 9))
}

fn anthropic_body<'a>(call: &'a Call, request_id: &str) -> Result<&'a Value, Answer> {
    match &call.json {
        Ok(Some(v)) if v.is_object() => Ok(v),
        Ok(_) => Err(errors::anthropic(
            400,
            "messages: Field required",
            request_id,
        )),
        Err(()) => Err(errors::anthropic(
            400,
            "There was an issue with the formatting or content of your request body: invalid JSON",
            request_id,
        )),
    }
}

/// The body as an object, with every parameter `missing` looks for present.
fn openai_body(call: &Call, missing: fn(&Value) -> Option<&'static str>) -> Result<&Value, Answer> {
    static EMPTY: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| json!({}));
    let body = match &call.json {
        Ok(Some(v)) if v.is_object() => v,
        Ok(_) => &EMPTY,
        Err(()) => {
            return Err(errors::openai(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP client correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
                "invalid_request_error",
                None,
                None,
            ))
        }
    };
    match missing(body) {
        Some(param) => Err(errors::openai(
            400,
            &format!("Missing required parameter: '{param}'."),
            "invalid_request_error",
            Some(param),
            Some("missing_required_parameter"),
        )),
        None => Ok(body),
    }
}

fn respond(shared: Arc<Shared>, answer: Answer, provider: Provider, request_id: &str) -> Response {
    let id_header = match provider {
        Provider::Anthropic => "request-id",
        Provider::OpenAi => "x-request-id",
    };
    let builder = Response::builder().header(id_header, request_id);
    let built = match answer {
        Answer::Json {
            status,
            headers,
            body,
        } => {
            let mut builder = builder
                .status(status)
                .header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body.to_string()))
        }
        Answer::Stream { events, pacing } => builder
            .status(200)
            .header("content-type", "text/event-stream; charset=utf-8")
            .header("cache-control", "no-cache")
            .body(sse::body(shared, events, pacing)),
    };
    built.unwrap_or_else(|_| {
        let mut fallback = Response::new(Body::empty());
        *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
