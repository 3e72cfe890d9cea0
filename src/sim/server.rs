//! The HTTP edge: one fallback handler routes through the table, checks credentials and
//! bodies, applies faults, records the call, and adds rate-limit headers.

use std::sync::Arc;

use axum::extract::{Request, State as AxumState};
use axum::response::Response;
use serde_json::Value;

use super::handlers::{self, Ctx};
use super::record::{self, Recorded};
use super::reply::Reply;
use super::routes::{self, Route};
use super::{access, auth, git, Shared};

/// Request bodies larger than this are refused (GitHub's limit is in the same range).
const BODY_LIMIT: usize = 25 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(shared)
}

/// One request as the pipeline sees it.
struct Call {
    method: String,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    accept: String,
    /// Every User-Agent value sent (GitHub refuses calls without one).
    user_agent: String,
    api_version: Option<String>,
    body: Vec<u8>,
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if let Some(target) = git::target(parts.method.as_str(), parts.uri.path(), parts.uri.query()) {
        return git::serve(shared, target, parts, body).await;
    }
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let call = Call {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        authorization: header(http::header::AUTHORIZATION),
        accept: header(http::header::ACCEPT).unwrap_or_default(),
        user_agent: parts
            .headers
            .get_all(http::header::USER_AGENT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; "),
        api_version: header(http::header::HeaderName::from_static(
            "x-github-api-version",
        )),
        body: Vec::new(),
    };
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await;
    // Handlers of git-backed repositories run git: off the async threads.
    let answered = tokio::task::spawn_blocking(move || match bytes {
        Ok(bytes) => respond(
            &shared,
            Call {
                body: bytes.to_vec(),
                ..call
            },
        ),
        Err(_) => respond_with(&shared, call, Reply::error(413, "Payload too large")),
    })
    .await;
    answered
        .unwrap_or_else(|_| Reply::error(500, "Server Error"))
        .into_response()
}

/// Parsed body: `None` when empty, `Err` when it is not JSON.
fn parse_body(bytes: &[u8]) -> Result<Option<Value>, ()> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|_| ())
}

fn respond(shared: &Shared, call: Call) -> Reply {
    let mut st = shared.lock();
    let body = parse_body(&call.body);
    let matched = routes::find(&call.method, &call.path);
    let cred = auth::credential(&st, &shared.cfg, call.authorization.as_deref());
    let segments: Vec<String> = routes::percent_decode(&call.path)
        .trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    let default_branch = segments
        .get(1..3)
        .and_then(|s| st.repo_by_name(&s[0], &s[1]))
        .and_then(|id| st.repos.get(&id))
        .map(|r| r.default_branch.clone());
    let json = body.as_ref().ok().and_then(Option::as_ref);
    if let Some(v) = record::violation(&call.method, &segments, json, default_branch.as_deref()) {
        st.violations.push(v);
    }
    let fault = st
        .faults
        .iter_mut()
        .find(|f| f.matches(&call.method, &call.path))
        .map(|f| {
            f.times -= 1;
            f.clone()
        });
    let reply = match (fault, &matched) {
        _ if call.user_agent.is_empty() => Reply::error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header.",
        ),
        (Some(f), _) => {
            let mut reply = Reply::error(f.status, f.message());
            reply.headers.extend(f.headers.iter().cloned());
            reply
        }
        (None, None) => Reply::not_found(),
        (None, Some(m)) => match access::check(&st, m, &cred) {
            Err(reply) => reply,
            Ok(scope) => match checked_body(m.route, &call.method, &body) {
                Err(reply) => reply,
                Ok(json) => handlers::handle(&mut Ctx {
                    st: &mut st,
                    cfg: &shared.cfg,
                    base: &shared.base_url,
                    git_root: &shared.git_root,
                    m,
                    query: routes::parse_query(call.query.as_deref()),
                    body: json,
                    scope,
                    accept: &call.accept,
                    path: &call.path,
                }),
            },
        },
    };
    let operation = matched.as_ref().map(|m| m.route.op.to_string());
    finish(&mut st, call, body, operation, cred.kind(), reply)
}

/// Answers a call that never reached routing (e.g. an oversized body), recording it.
fn respond_with(shared: &Shared, call: Call, reply: Reply) -> Reply {
    let mut st = shared.lock();
    let operation = routes::find(&call.method, &call.path).map(|m| m.route.op.to_string());
    let kind = auth::credential(&st, &shared.cfg, call.authorization.as_deref()).kind();
    finish(&mut st, call, Ok(None), operation, kind, reply)
}

fn finish(
    st: &mut super::state::State,
    call: Call,
    body: Result<Option<Value>, ()>,
    operation: Option<String>,
    auth: record::AuthKind,
    mut reply: Reply,
) -> Reply {
    let (remaining, reset) = st.count_call();
    let defaults = [
        ("x-ratelimit-limit", "5000".to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-used", (5000 - remaining).to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ];
    for (name, value) in defaults {
        if !reply
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            reply.headers.push((name.to_string(), value));
        }
    }
    let body = body.unwrap_or_else(|()| {
        Some(Value::String(
            String::from_utf8_lossy(&call.body).into_owned(),
        ))
    });
    st.records.push(Recorded {
        token: auth::presented_token(call.authorization.as_deref()),
        user_agent: call.user_agent,
        api_version: call.api_version,
        method: call.method,
        path: call.path,
        query: call.query,
        operation,
        auth,
        body,
        status: reply.status,
    });
    reply
}

/// The JSON body of a write, checked for the route's required string fields.
fn checked_body(
    route: &Route,
    method: &str,
    body: &Result<Option<Value>, ()>,
) -> Result<Option<Value>, Reply> {
    if method == "GET" || method == "DELETE" {
        return Ok(None);
    }
    let Ok(body) = body else {
        return Err(Reply::error(400, "Problems parsing JSON"));
    };
    if route.required.is_empty() {
        return Ok(body.clone());
    }
    let Some(object) = body.as_ref().and_then(Value::as_object) else {
        return match body {
            None => Err(missing(route.required)),
            Some(v) => Err(invalid(&format!("{v} is not an object."))),
        };
    };
    let absent: Vec<&str> = route
        .required
        .iter()
        .copied()
        .filter(|f| !object.contains_key(*f))
        .collect();
    if !absent.is_empty() {
        return Err(missing(&absent));
    }
    if let Some((f, v)) = object
        .iter()
        .find(|(f, v)| route.required.contains(&f.as_str()) && !v.is_string())
    {
        let shown = if v.is_null() {
            "nil".to_string()
        } else {
            v.to_string()
        };
        return Err(invalid(&format!(
            "For 'properties/{f}', {shown} is not a string."
        )));
    }
    Ok(body.clone())
}

pub(crate) fn invalid(detail: &str) -> Reply {
    Reply::error(422, &format!("Invalid request.\n\n{detail}"))
}

fn missing(fields: &[&str]) -> Reply {
    let quoted: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
    let verb = if fields.len() == 1 {
        "wasn't"
    } else {
        "weren't"
    };
    invalid(&format!("{} {verb} supplied.", quoted.join(", ")))
}
