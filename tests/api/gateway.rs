//! The model gateway through a real listener, against the strict model simulator: keys,
//! routes, streaming event by event, metering, cancellation and hard budgets (attacked with
//! parallel calls, a restart and a monthly cap).

use std::time::{Duration, Instant};

use crate::support::payer_of_new_job;
use agen::budget::{Cap, Caps, MicroUsd};
use agen::config::{ModelSettings, Source};
use agen::gateway::{Gateway, JobPass, SessionGuard};
use agen::ids::JobId;
use agen::sim::model::{ModelSim, ModelSimConfig, SimUsage, Step};
use agen::store::model_calls::Payer;
use agen::store::Store;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

const ANTHROPIC_KEY: &str = "sk-ant-real-provider-key-CANARY";
const OPENAI_KEY: &str = "sk-real-openai-key-CANARY";
const HAIKU: &str = "claude-haiku-4-5";

struct Env {
    model: ModelSim,
    store: Store,
    gateway: Gateway,
    _dir: tempfile::TempDir,
    db: String,
}

async fn env_with(pairs: &[(&str, &str)]) -> Env {
    let model = ModelSim::start(ModelSimConfig {
        anthropic_key: ANTHROPIC_KEY.into(),
        openai_key: OPENAI_KEY.into(),
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("agen.db").display());
    let store = Store::open(&db).await.unwrap();
    let openai = format!("{}/v1", model.url());
    let mut all = vec![
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("ANTHROPIC_BASE_URL", model.url().leak() as &str),
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("OPENAI_BASE_URL", openai.leak() as &str),
    ];
    all.extend_from_slice(pairs);
    let settings = ModelSettings::load(&Source::from_pairs(all)).unwrap();
    let gateway = Gateway::new(store.clone(), settings);
    Env {
        model,
        store,
        gateway,
        _dir: dir,
        db,
    }
}

/// A job's pass with its session listener served on the host, as a session would reach it.
struct Session {
    job: JobId,
    pass: JobPass,
    _guard: SessionGuard,
    url: String,
}

impl Session {
    /// An Anthropic Messages call with the job's own token, as its agent would make it.
    async fn ask(&self, body: Value) -> Answer {
        let token = self.pass.token().to_string();
        send(
            &self.url,
            "POST",
            "/v1/messages",
            &anthropic_headers(&token),
            body,
        )
        .await
    }

    /// An OpenAI call to `path` with the job's own token as the Bearer, as its agent would
    /// make it.
    async fn ask_openai(&self, path: &str, body: Value) -> Answer {
        let bearer = format!("Bearer {}", self.pass.token());
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", "application/json"),
        ];
        send(&self.url, "POST", path, &headers, body).await
    }
}

/// What the model simulator reports a call used (no cache writes).
fn usage(input: u64, output: u64, cache_read: u64) -> SimUsage {
    SimUsage {
        input,
        output,
        cache_write: 0,
        cache_read,
    }
}

impl Env {
    async fn job(&self, delivery: &str, repo_id: u64, installation: u64) -> Payer {
        let repo = format!("acme/repo-{repo_id}");
        payer_of_new_job(&self.store, delivery, installation, repo_id, &repo).await
    }

    async fn session(&self, payer: Payer, job_usd: f64) -> Session {
        let caps = self.gateway.caps(MicroUsd::from_usd(job_usd), None);
        self.session_under(payer, caps).await
    }

    async fn session_under(&self, payer: Payer, caps: Caps) -> Session {
        let job = payer.job;
        let pass = self.gateway.open_job(payer, caps);
        let (serve, guard) = pass.session();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        serve(listener);
        Session {
            job,
            pass,
            _guard: guard,
            url,
        }
    }

    async fn spent(&self, job: JobId) -> (i64, u64) {
        // Settling runs in the background once an answer ends: wait for it.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let in_flight: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM model_calls WHERE job_id = $1 AND cost_micro IS NULL",
            )
            .bind(job.0)
            .fetch_one(self.store.pool())
            .await
            .unwrap();
            if in_flight == 0 || Instant::now() > deadline {
                let spend = self.store.job_spend(job).await.unwrap();
                return (spend.spend.0, spend.model_calls);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

type Answer = http::Response<hyper::body::Incoming>;

async fn send(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let body = if body.is_null() {
        Bytes::new()
    } else {
        Bytes::from(body.to_string())
    };
    client
        .request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap()
}

fn anthropic_headers(token: &str) -> Vec<(&str, &str)> {
    vec![
        ("x-api-key", token),
        ("anthropic-version", "2023-06-01"),
        ("content-type", "application/json"),
    ]
}

fn message(model: &str, max_tokens: u64, stream: bool) -> Value {
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "stream": stream,
        "messages": [{"role": "user", "content": "Say hello."}],
    })
}

async fn text(answer: Answer) -> (u16, Value) {
    let status = answer.status().as_u16();
    let bytes = answer.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Reads the stream until `n` whole events (blank-line separated) have arrived.
async fn read_events(body: &mut hyper::body::Incoming, n: usize, seen: &mut String) {
    while seen.matches("\n\n").count() < n {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the gateway held events back")
            .expect("the stream ended early")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
}

#[tokio::test]
async fn the_agent_gets_its_answer_with_agens_key_added_outside_and_its_token_never_forwarded() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 2.0).await;
    let token = session.pass.token().to_string();
    env.model
        .script(Step::text("Hello there").usage(usage(1000, 200, 0)));
    let (status, body) = text(session.ask(message(HAIKU, 500, false)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"][0]["text"], "Hello there");

    let calls = env.model.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header("x-api-key"), Some(ANTHROPIC_KEY));
    let forwarded = format!("{:?}", calls[0]);
    assert!(
        !forwarded.contains(&token),
        "the job token reached the provider: {forwarded}"
    );
    // Haiku 4.5: $1/M in, $5/M out.
    let (micro, calls) = env.spent(payer.job).await;
    assert_eq!((micro, calls), (1000 + 1000, 1));

    // The environment a session gets names the gateway and the token, never a real key.
    let env_vars = session.pass.env(3129);
    let shown = format!("{env_vars:?}");
    assert!(shown.contains("ANTHROPIC_BASE_URL") && shown.contains("http://127.0.0.1:3129/v1"));
    assert!(
        !shown.contains("CANARY"),
        "a real key in the session's environment: {shown}"
    );
}

#[tokio::test]
async fn tokens_of_other_jobs_ended_jobs_and_made_up_ones_are_refused_and_nothing_is_forwarded() {
    let env = env_with(&[]).await;
    let one = env.session(env.job("d1", 1, 1).await, 2.0).await;
    let other = env.session(env.job("d2", 1, 1).await, 2.0).await;
    let other_token = other.pass.token().to_string();
    for token in [other_token.as_str(), "", "sk-ant-guess", ANTHROPIC_KEY] {
        let (status, body) = text(
            send(
                &one.url,
                "POST",
                "/v1/messages",
                &anthropic_headers(token),
                message(HAIKU, 10, false),
            )
            .await,
        )
        .await;
        assert_eq!(status, 401, "token {token:?}: {body}");
        assert_eq!(body["error"]["type"], "authentication_error");
    }
    // OpenAI's shape for an OpenAI route.
    let (status, body) = text(
        send(
            &one.url,
            "POST",
            "/v1/chat/completions",
            &[("authorization", "Bearer nope")],
            json!({"model": "gpt-4o", "messages": []}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );

    // The job ends: its token is refused from then on, even on its own listener.
    let Session {
        pass, _guard, url, ..
    } = one;
    let token = pass.token().to_string();
    drop(pass);
    let (status, _) = text(
        send(
            &url,
            "POST",
            "/v1/messages",
            &anthropic_headers(&token),
            message(HAIKU, 10, false),
        )
        .await,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        env.model.calls().is_empty(),
        "refused calls reached the provider"
    );
}

#[tokio::test]
async fn only_model_routes_are_served_whatever_the_token() {
    let env = env_with(&[]).await;
    let session = env.session(env.job("d1", 1, 1).await, 2.0).await;
    let token = session.pass.token().to_string();
    let headers = anthropic_headers(&token);
    for (method, path) in [
        ("GET", "/v1/files"),
        ("POST", "/v1/files"),
        ("POST", "/v1/../admin"),
        ("GET", "/admin"),
        ("POST", "/v1/messages/batches"),
        ("POST", "/v1/%6Dessages"),
        ("GET", "/v1/messages"),
    ] {
        let (status, body) =
            text(send(&session.url, method, path, &headers, json!({})).await).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a model route"));
    }
    // An absolute URL (a proxy request for another host) is not served either.
    let raw = raw_request(
        &session.url,
        &format!("POST http://169.254.169.254/v1/messages HTTP/1.1\r\nhost: 169.254.169.254\r\nx-api-key: {token}\r\ncontent-length: 2\r\n\r\n{{}}"),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 404"), "{raw}");
    assert!(env.model.calls().is_empty());
    // Listing models is a model route, and costs nothing.
    let (status, body) =
        text(send(&session.url, "GET", "/v1/models", &headers, Value::Null).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env.spent(session.job).await, (0, 0));
}

async fn raw_request(url: &str, text: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_model_without_a_price_is_refused_before_it_costs_anything() {
    let env = env_with(&[]).await;
    let session = env.session(env.job("d1", 1, 1).await, 2.0).await;
    let (status, body) = text(session.ask(message("claude-unpriced-9", 10, false)).await).await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("[prices.\"claude-unpriced-9\"]"),
        "{message}"
    );
    assert!(env.model.calls().is_empty());
}

#[tokio::test]
async fn a_stream_passes_event_by_event_and_is_metered_from_its_start_and_last_delta() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 2.0).await;
    env.model.script(
        Step::text("one two three four")
            .usage(usage(2000, 4, 1000))
            .gate_after(3),
    );
    let answer = session.ask(message(HAIKU, 100, true)).await;
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut body = answer.into_body();
    let mut seen = String::new();
    // The provider holds the rest: these three reached the agent before the answer ended.
    read_events(&mut body, 3, &mut seen).await;
    assert!(seen.contains("event: message_start"), "{seen}");
    assert_eq!(env.model.events_sent(), 3);
    env.model.open_gate();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("event: message_stop"), "{seen}");
    // 2000 in at $1/M, 1000 cache reads at $0.10/M, 4 out at $5/M.
    assert_eq!(env.spent(payer.job).await, (2000 + 100 + 20, 1));
}

#[tokio::test]
async fn openai_chat_streams_get_their_usage_asked_for_and_metered() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 2.0).await;
    env.model.script(Step::text("hi").usage(usage(1000, 10, 0)));
    let request = json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let answer = session.ask_openai("/v1/chat/completions", request).await;
    assert_eq!(answer.status(), 200);
    let all = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&all).ends_with("data: [DONE]\n\n"));
    let call = &env.model.calls()[0];
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(call.body["stream_options"]["include_usage"], true);
    assert_eq!(
        call.body["max_completion_tokens"], 32_000,
        "a ceiling is set where the client set none"
    );
    // gpt-4o-mini: $0.15/M in, $0.60/M out.
    assert_eq!(env.spent(payer.job).await, (150 + 6, 1));
}

#[tokio::test]
async fn provider_errors_pass_through_as_they_are_and_cost_nothing() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 2.0).await;
    env.model.script(Step::error(429).retry_after(7));
    env.model.script(Step::error(529));
    let answer = session.ask(message(HAIKU, 10, false)).await;
    assert_eq!(answer.status(), 429);
    assert_eq!(answer.headers()["retry-after"], "7");
    let (_, body) = text(answer).await;
    assert_eq!(body["error"]["type"], "rate_limit_error");
    let (status, body) = text(session.ask(message(HAIKU, 10, false)).await).await;
    assert_eq!(
        (status, body["error"]["type"].as_str()),
        (529, Some("overloaded_error"))
    );
    assert_eq!(env.spent(payer.job).await, (0, 2));
}

#[tokio::test]
async fn a_cut_stream_is_charged_its_reservation_and_a_client_that_leaves_cancels_upstream() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 2.0).await;
    env.model.script(Step::text("a b c d e f").cut_after(2));
    let answer = session.ask(message(HAIKU, 1000, true)).await;
    let _ = answer.into_body().collect().await; // ends in an error: the stream broke off
    let (micro, _) = env.spent(payer.job).await;
    let reserved: i64 =
        sqlx::query_scalar("SELECT reserved_micro FROM model_calls WHERE job_id = $1")
            .bind(payer.job.0)
            .fetch_one(env.store.pool())
            .await
            .unwrap();
    assert!(
        reserved > 5000,
        "the reservation holds 1000 output tokens at $5/M"
    );
    assert_eq!(
        micro, reserved,
        "a cut stream is charged its whole reservation"
    );

    env.model.script(Step::text("never finished").gate_after(1));
    let answer = session.ask(message(HAIKU, 1000, true)).await;
    let mut body = answer.into_body();
    read_events(&mut body, 1, &mut String::new()).await;
    drop(body);
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.model.cancelled() == 0 {
        assert!(
            Instant::now() < deadline,
            "the provider's stream went on after the client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_agent_calling_in_a_loop_is_stopped_at_the_cap_and_never_past_it() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let cap = MicroUsd::from_usd(0.02);
    let session = env.session(payer.clone(), 0.02).await;
    let mut refused = None;
    for i in 0..200 {
        env.model
            .script(Step::text("more").usage(usage(100, 600, 0)));
        let (status, body) = text(session.ask(message(HAIKU, 1000, false)).await).await;
        if status != 200 {
            refused = Some((i, status, body));
            break;
        }
    }
    let (calls_made, status, body) = refused.expect("the loop was never stopped");
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["type"], "billing_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`budget.job_usd`"));
    assert!(calls_made > 1, "several calls fit under the cap");
    let (micro, _) = env.spent(payer.job).await;
    assert!(micro <= cap.0, "spent {micro} µ$ over a cap of {}", cap.0);
    assert_eq!(session.pass.budget_hit(), Some(Cap::Job));
}

#[tokio::test]
async fn eight_calls_at_once_cannot_overshoot_the_cap_together() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    // Each call reserves (~105 bytes + 1024) at $1.25/M + 1000 tokens at $5/M ≈ $0.0064: two
    // fit at once, a third only with a lower max_tokens (though each then costs $0.0051).
    let cap = MicroUsd::from_usd(0.016);
    let session = env.session(payer.clone(), 0.016).await;
    let token = session.pass.token().to_string();
    for _ in 0..8 {
        env.model
            .script(Step::text("x").usage(usage(100, 1000, 0)).gate_after(1));
    }
    let calls = (0..8).map(|_| {
        let (url, token) = (session.url.clone(), token.clone());
        tokio::spawn(async move {
            let answer = send(
                &url,
                "POST",
                "/v1/messages",
                &anthropic_headers(&token),
                message(HAIKU, 1000, true),
            )
            .await;
            let status = answer.status().as_u16();
            let _ = answer.into_body().collect().await;
            status
        })
    });
    let waiting = futures_util::future::join_all(calls);
    tokio::pin!(waiting);
    // Every admitted call is in flight, held by the provider, before any settles.
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.model.open_gate();
    let statuses: Vec<u16> = waiting.await.into_iter().map(|s| s.unwrap()).collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        8 - admitted,
        "{statuses:?}"
    );
    assert_eq!(admitted, 3, "{statuses:?}");
    let mut limits: Vec<u64> = env
        .model
        .calls()
        .iter()
        .map(|c| c.body["max_tokens"].as_u64().unwrap())
        .collect();
    limits.sort();
    assert!(
        limits[0] >= 256 && limits[0] < 1000 && limits[1..] == [1000, 1000],
        "{limits:?}"
    );
    let (micro, _) = env.spent(payer.job).await;
    assert!(
        micro <= cap.0,
        "8 parallel calls spent {micro} µ$ over a cap of {}",
        cap.0
    );
}

#[tokio::test]
async fn spend_survives_a_restart_and_a_monthly_repository_cap_binds_the_next_job() {
    let env = env_with(&[("AGEN_REPO_MONTHLY_USD", "0.01")]).await;
    let first = env.job("d1", 5, 1).await;
    let session = env.session(first.clone(), 2.0).await;
    env.model.script(Step::text("x").usage(usage(9000, 100, 0)));
    let (status, _) = text(session.ask(message(HAIKU, 100, false)).await).await;
    assert_eq!(status, 200);
    let spent = env.spent(first.job).await;
    assert_eq!(spent.0, 9000 + 500, "9000 in at $1/M, 100 out at $5/M");

    // agen restarts: a new store on the same file knows what was spent.
    let reopened = Store::open(&env.db).await.unwrap();
    assert_eq!(
        reopened.job_spend(first.job).await.unwrap().spend.0,
        spent.0
    );
    let second = env.job("d2", 5, 1).await;
    let month = reopened.spent(&second).await.unwrap();
    assert_eq!(month.repo_month.0, spent.0);

    // The next job of the repository is held to what the month has left.
    let session = env.session(second.clone(), 2.0).await;
    let (status, body) = text(session.ask(message(HAIKU, 1000, false)).await).await;
    assert_eq!(status, 402, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("AGEN_REPO_MONTHLY_USD"));
    assert_eq!(session.pass.budget_hit(), Some(Cap::RepoMonth));
    // Another repository of the same installation is not held by it.
    let elsewhere = env.session(env.job("d3", 6, 1).await, 2.0).await;
    let (status, _) = text(elsewhere.ask(message(HAIKU, 100, false)).await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_agents_monthly_cap_holds_it_across_repositories() {
    let env = env_with(&[]).await;
    let agent_cap = Some(MicroUsd::from_usd(0.01));
    let capped = |payer: Payer| Payer {
        agent: "claude".into(),
        ..payer
    };
    let caps = env.gateway.caps(MicroUsd::from_usd(2.0), agent_cap);
    let first = capped(env.job("d1", 5, 1).await);
    let session = env.session_under(first.clone(), caps).await;
    env.model.script(Step::text("x").usage(usage(9000, 100, 0)));
    let (status, _) = text(session.ask(message(HAIKU, 100, false)).await).await;
    assert_eq!(status, 200);
    let spent = env.spent(first.job).await;
    assert_eq!(spent.0, 9000 + 500);

    // The same agent in another repository and installation: held to what its month has left.
    let second = capped(env.job("d2", 6, 2).await);
    assert_eq!(
        env.store.spent(&second).await.unwrap().agent_month.0,
        spent.0
    );
    let session = env.session_under(second, caps).await;
    let (status, body) = text(session.ask(message(HAIKU, 1000, false)).await).await;
    assert_eq!(status, 402, "{body}");
    let refusal = body["error"]["message"].as_str().unwrap();
    assert!(
        refusal.contains("this agent's monthly spend cap of $0.01 (`monthly_usd`"),
        "{refusal}"
    );
    assert_eq!(session.pass.budget_hit(), Some(Cap::AgentMonth));
    // Another agent in that repository is not held by it.
    let other = Payer {
        agent: "codex".into(),
        ..env.job("d3", 6, 2).await
    };
    let elsewhere = env.session_under(other, caps).await;
    let (status, _) = text(elsewhere.ask(message(HAIKU, 100, false)).await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_call_above_what_is_left_goes_out_with_a_lower_limit() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 0.01).await;
    let (status, body) = text(session.ask(message(HAIKU, 8000, false)).await).await;
    assert_eq!(status, 200, "{body}");
    let sent = env.model.calls()[0].body["max_tokens"].as_u64().unwrap();
    // $0.01 leaves room for under 2000 output tokens at $5/M.
    assert!((256..2000).contains(&sent), "max_tokens sent: {sent}");
}

#[tokio::test]
async fn openai_responses_streams_are_metered_from_their_final_event() {
    let env = env_with(&[]).await;
    let payer = env.job("d1", 1, 1).await;
    let session = env.session(payer.clone(), 2.0).await;
    env.model
        .script(Step::text("patched").usage(usage(800, 20, 200)));
    let request = json!({"model": "gpt-5-mini", "stream": true, "input": "fix the test"});
    let answer = session.ask_openai("/v1/responses", request).await;
    assert_eq!(answer.status(), 200);
    let all = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&all).contains("event: response.completed"));
    let call = &env.model.calls()[0];
    assert_eq!(call.path, "/v1/responses");
    assert_eq!(call.body["max_output_tokens"], 32_000);
    // gpt-5-mini: $0.25/M in, $0.025/M cached, $2/M out.
    assert_eq!(env.spent(payer.job).await, (200 + 5 + 40, 1));
}

#[tokio::test]
async fn a_monthly_installation_cap_binds_every_repository_of_the_installation() {
    let env = env_with(&[("AGEN_INSTALLATION_MONTHLY_USD", "0.01")]).await;
    let first = env.session(env.job("d1", 5, 9).await, 2.0).await;
    env.model.script(Step::text("x").usage(usage(9000, 100, 0)));
    let (status, _) = text(first.ask(message(HAIKU, 100, false)).await).await;
    assert_eq!(status, 200);
    env.spent(first.job).await;
    // Another repository of the same installation: held to what the month left.
    let other = env.session(env.job("d2", 6, 9).await, 2.0).await;
    let (status, body) = text(other.ask(message(HAIKU, 1000, false)).await).await;
    assert_eq!(status, 402, "{body}");
    let message_text = body["error"]["message"].as_str().unwrap();
    assert!(
        message_text.contains("AGEN_INSTALLATION_MONTHLY_USD"),
        "{message_text}"
    );
    assert_eq!(other.pass.budget_hit(), Some(Cap::InstallationMonth));
    // Another installation is not.
    let elsewhere = env.session(env.job("d3", 7, 10).await, 2.0).await;
    let (status, _) = text(elsewhere.ask(message(HAIKU, 100, false)).await).await;
    assert_eq!(status, 200);
}
