//! One model call through the gateway: route, token, price, reservation, forward, settle.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use subtle::ConstantTimeEq;

use super::body::{End, MeteredBody};
use super::meter::Meter;
use super::refuse::{refuse, Refusal};
use super::request::ModelRequest;
use super::routes::{target, Provider, Target};
use super::{headers, Gateway, JobEntry, DEFAULT_OUTPUT_CEILING};
use crate::budget::{decide, Cap, Decision, MicroUsd, Price};
use crate::config::Upstream;
use crate::store::model_calls::{NewCall, Settled};

/// The largest request body the gateway reads (Anthropic's own limit is 32 MB).
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// Reservations lost to a concurrent call of the same budget before giving up.
const RESERVE_ATTEMPTS: usize = 8;
/// How long a call waits for the job's calls that ended to be settled (a write each) before
/// it decides on figures that may still hold their whole reservations.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) async fn handle(
    gateway: Gateway,
    entry: Arc<JobEntry>,
    request: Request<Incoming>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let Some(target) = target(&parts.method, &parts.uri, &parts.headers) else {
        let provider = if parts.headers.contains_key("x-api-key") {
            Provider::Anthropic
        } else {
            Provider::OpenAi
        };
        let message = format!(
            "{} {} is not a model route; the gateway serves POST /v1/messages, \
             /v1/messages/count_tokens, /v1/chat/completions, /v1/responses and GET /v1/models",
            parts.method, parts.uri
        );
        return refuse(provider, Refusal::NotFound, &message);
    };
    let provider = target.provider;
    let settings = &gateway.inner.settings;
    let upstream = match provider {
        Provider::Anthropic => settings.anthropic.as_ref(),
        Provider::OpenAi => settings.openai.as_ref(),
    };
    let Some(upstream) = upstream else {
        let key = match provider {
            Provider::Anthropic => "ANTHROPIC_API_KEY",
            Provider::OpenAi => "OPENAI_API_KEY",
        };
        let message = format!("this agen holds no {key}; ask its operator to set one");
        return refuse(provider, Refusal::NotFound, &message);
    };
    if !authorized(&entry, &parts.headers) {
        let message = "the key is not this job's token, or the job has ended; use the \
                       ANTHROPIC_API_KEY / OPENAI_API_KEY agen gave the session";
        return refuse(provider, Refusal::Unauthorized, message);
    }
    let bytes = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let message = format!("the request body is above {MAX_REQUEST_BYTES} bytes");
            return refuse(provider, Refusal::TooLarge, &message);
        }
        Err(_) => return refuse(provider, Refusal::BadRequest, "the request body broke off"),
    };
    let call = Call {
        gateway: &gateway,
        entry: &entry,
        upstream,
        target: &target,
        parts: &parts,
    };
    if target.route.generates() {
        call.priced(bytes).await
    } else {
        call.free(bytes).await
    }
}

fn authorized(entry: &JobEntry, headers: &http::HeaderMap) -> bool {
    let presented = headers::presented_token(headers).unwrap_or("");
    entry.live.load(Ordering::SeqCst)
        && bool::from(presented.as_bytes().ct_eq(entry.token.as_bytes()))
}

struct Call<'a> {
    gateway: &'a Gateway,
    entry: &'a Arc<JobEntry>,
    upstream: &'a Upstream,
    target: &'a Target,
    parts: &'a http::request::Parts,
}

impl Call<'_> {
    fn refuse(&self, refusal: Refusal, message: &str) -> Response<Body> {
        refuse(self.target.provider, refusal, message)
    }

    /// A call that costs nothing (counting tokens, listing models): forwarded as it is.
    async fn free(&self, bytes: Bytes) -> Response<Body> {
        match self.send(bytes).await {
            Ok(answer) => {
                let (parts, body) = answer.into_parts();
                let mut response = Response::from_parts(parts, Body::new(body));
                *response.headers_mut() = headers::to_client(response.headers());
                response
            }
            Err(message) => self.refuse(Refusal::Upstream, &message),
        }
    }

    async fn priced(&self, bytes: Bytes) -> Response<Body> {
        let route = self.target.route;
        let request = match ModelRequest::parse(route, &bytes) {
            Ok(request) => request,
            Err(e) => return self.refuse(Refusal::BadRequest, &e.0),
        };
        let allowed = &self.entry.models;
        if !allowed.is_empty() && !allowed.contains(&request.model) {
            let message = format!(
                "model {} is not one this job's agent may use; use one of: {}",
                request.model,
                allowed.join(", ")
            );
            return self.refuse(Refusal::ModelNotAllowed, &message);
        }
        let Some(price) = self.gateway.inner.settings.prices.get(&request.model) else {
            let message = format!(
                "model {} has no price in agen, so its spend cannot be capped; use a priced \
                 model, or ask the operator to add [prices.\"{}\"] to AGEN_CONFIG",
                request.model, request.model
            );
            return self.refuse(Refusal::UnknownModel, &message);
        };
        let (id, reserve, max_tokens) = match self.reserve(&request, &price, bytes.len()).await {
            Ok(held) => held,
            Err(response) => return response,
        };
        let body = request
            .rewritten(route, max_tokens)
            .map(Bytes::from)
            .unwrap_or(bytes);
        let started = Instant::now();
        let answer = match self.send(body).await {
            Ok(answer) => answer,
            Err(message) => {
                let settled = settlement(
                    reserve,
                    &price,
                    started,
                    0,
                    End::Complete,
                    &Meter::default(),
                );
                record(self.gateway.inner.store.clone(), self.entry, id, settled);
                return self.refuse(Refusal::Upstream, &message);
            }
        };
        let status = answer.status().as_u16();
        let events = answer
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let (parts, upstream_body) = answer.into_parts();
        let (gateway, entry) = (self.gateway.clone(), self.entry.clone());
        let settle = Box::new(move |end: End, meter: &Meter| {
            let settled = settlement(reserve, &price, started, status, end, meter);
            record(gateway.inner.store.clone(), &entry, id, settled);
        });
        let body = MeteredBody::new(upstream_body, route, events, settle);
        let mut response = Response::from_parts(parts, Body::new(body));
        *response.headers_mut() = headers::to_client(response.headers());
        response
    }

    /// Holds the call's worst case against every cap: `(call id, reserved, max_tokens)`, or
    /// the refusal to send back.
    async fn reserve(
        &self,
        request: &ModelRequest,
        price: &Price,
        request_bytes: usize,
    ) -> Result<(i64, MicroUsd, u64), Response<Body>> {
        let store = &self.gateway.inner.store;
        let (payer, caps) = (&self.entry.payer, &self.entry.caps);
        let internal = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "gateway: the spend store failed");
            self.refuse(
                Refusal::Upstream,
                "agen cannot reach its spend records; try again",
            )
        };
        // An agent's next call comes as soon as its last answer ended: decided before that
        // answer's cost is written, it would be refused for what the answer only might have
        // cost.
        let mut settling = self.entry.settling.subscribe();
        let _ = tokio::time::timeout(SETTLE_WAIT, settling.wait_for(|n| *n == 0)).await;
        let hold = |reserve| NewCall {
            provider: self.target.provider.as_str(),
            route: self.target.route.as_str(),
            model: &request.model,
            reserve,
        };
        let decide_within = |room| {
            let ceiling = DEFAULT_OUTPUT_CEILING;
            decide(price, request_bytes, request.asked, ceiling, room)
        };
        // Most calls fit as asked: held in one statement, no figures read first.
        let unbounded = (MicroUsd(i64::MAX), Cap::Job);
        if let Decision::Forward {
            reserve,
            max_tokens,
            ..
        } = decide_within(unbounded)
        {
            let held = store.reserve_call(payer, caps, &hold(reserve)).await;
            if let Some(id) = held.map_err(internal)? {
                return Ok((id, reserve, max_tokens));
            }
        }
        for _ in 0..RESERVE_ATTEMPTS {
            let spent = store.spent(payer).await.map_err(internal)?;
            let room = caps.room(&spent);
            match decide_within(room) {
                Decision::Refuse { cap } => {
                    self.entry.hit(cap);
                    let limit = caps.limit(cap).unwrap_or_default();
                    let message = format!(
                        "{}; {} spent of {limit}",
                        cap.explain(&limit.to_string()),
                        MicroUsd(limit.0 - room.0 .0)
                    );
                    return Err(self.refuse(Refusal::Budget, &message));
                }
                Decision::Forward {
                    reserve,
                    max_tokens,
                    ..
                } => {
                    let held = store.reserve_call(payer, caps, &hold(reserve)).await;
                    if let Some(id) = held.map_err(internal)? {
                        return Ok((id, reserve, max_tokens));
                    }
                    // Another call took the room meanwhile: decide again on fresh figures.
                }
            }
        }
        Err(self.refuse(
            Refusal::Budget,
            "too many calls are racing for what is left of the budget; try again",
        ))
    }

    /// The request to the provider: its path on the upstream, the allowed headers, the key.
    async fn send(&self, body: Bytes) -> Result<Response<Incoming>, String> {
        let uri = format!("{}{}", self.upstream.base_url, self.target.upstream_path);
        let mut request = Request::builder()
            .method(self.parts.method.clone())
            .uri(&uri)
            .body(Full::new(body))
            .map_err(|e| format!("the upstream URL {uri} is not valid: {e}"))?;
        *request.headers_mut() = headers::to_provider(
            &self.parts.headers,
            self.target.provider,
            &self.upstream.key,
        );
        self.gateway
            .inner
            .client
            .request(request)
            .await
            .map_err(|e| format!("{} cannot be reached: {e}", self.upstream.base_url))
    }
}

/// Settles the call in the background: the answer has ended, the client need not wait (the
/// job's next call waits for it instead, see [`SETTLE_WAIT`]).
/// Without a runtime (agen is stopping) the call stays reserved, which the next start
/// charges in full (see `Store::settle_interrupted_calls`).
fn record(store: crate::store::Store, entry: &Arc<JobEntry>, id: i64, settled: Settled) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            call = id,
            "gateway: agen is stopping; the call stays charged in full"
        );
        return;
    };
    entry.settling.send_modify(|n| *n += 1);
    let entry = entry.clone();
    runtime.spawn(async move {
        if let Err(e) = store.settle_call(id, &settled).await {
            tracing::error!(error = %e, call = id, "gateway: settling a model call failed");
        }
        entry.settling.send_modify(|n| *n = n.saturating_sub(1));
    });
}

/// What a call is charged: nothing for an error answer (providers do not bill them), the
/// provider's own figures when its answer ended with them, else the whole reservation (an
/// answer cut off may have been billed in full).
fn settlement(
    reserve: MicroUsd,
    price: &Price,
    started: Instant,
    status: u16,
    end: End,
    meter: &Meter,
) -> Settled {
    let success = (200..300).contains(&status);
    let usage = meter.usage();
    let (cost, outcome) = match (success, usage, end) {
        (false, _, _) => (
            MicroUsd(0),
            if status == 0 { "unreachable" } else { "error" },
        ),
        (true, Some(usage), End::Complete) => (price.cost(&usage), "completed"),
        (true, Some(usage), End::Cut) => (price.cost(&usage), "cut"),
        (true, None, _) => (reserve, "cut"),
    };
    Settled {
        cost,
        usage: usage.unwrap_or_default(),
        status,
        outcome,
        duration_ms: started.elapsed().as_millis() as i64,
    }
}
