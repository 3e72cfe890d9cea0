//! The model simulator driven over real HTTP, as the gateway will drive it: the client and
//! helpers the tests share here, the tests by topic in the modules below.

mod anthropic;
mod openai;
mod requests;
mod scripting;
mod server;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use super::{ModelSim, ModelSimConfig, SimUsage, Step};

const ANTHROPIC_KEY: &str = "sk-ant-test-key";
const OPENAI_KEY: &str = "sk-openai-test-key";

async fn sim() -> ModelSim {
    ModelSim::start(ModelSimConfig {
        anthropic_key: ANTHROPIC_KEY.to_string(),
        openai_key: OPENAI_KEY.to_string(),
    })
    .await
    .expect("model simulator starts")
}

fn anthropic_headers() -> Vec<(&'static str, String)> {
    vec![
        ("x-api-key", ANTHROPIC_KEY.to_string()),
        ("anthropic-version", "2023-06-01".to_string()),
        ("content-type", "application/json".to_string()),
    ]
}

fn openai_headers() -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {OPENAI_KEY}")),
        ("content-type", "application/json".to_string()),
    ]
}

fn usage(input: u64, output: u64, cache_write: u64, cache_read: u64) -> SimUsage {
    SimUsage {
        input,
        output,
        cache_write,
        cache_read,
    }
}

/// One server-sent event as a client parses it.
#[derive(Debug)]
struct Sse {
    name: Option<String>,
    data: String,
}

impl Sse {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// A response whose body is read as it arrives.
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    async fn json(self) -> Value {
        let bytes = self.body.collect().await.expect("whole body").to_bytes();
        serde_json::from_slice(&bytes).expect("JSON body")
    }

    /// The next event; `Ok(None)` at a clean end, `Err` when the connection broke.
    async fn next_event(&mut self) -> Result<Option<Sse>, hyper::Error> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8(raw).expect("utf-8 events");
                let mut event = Sse {
                    name: None,
                    data: String::new(),
                };
                for line in text.lines() {
                    if let Some(name) = line.strip_prefix("event: ") {
                        event.name = Some(name.to_string());
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        event.data.push_str(data);
                    }
                }
                return Ok(Some(event));
            }
            match self.body.frame().await {
                None => {
                    assert!(self.buf.is_empty(), "a partial event at the end");
                    return Ok(None);
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    async fn all_events(&mut self) -> Vec<Sse> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await.expect("a complete stream") {
            events.push(event);
        }
        events
    }
}

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(
    sim: &ModelSim,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<Value>,
) -> Reply {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", sim.url()));
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let response = client()
        .request(
            request
                .body(Full::new(Bytes::from(bytes)))
                .expect("request"),
        )
        .await
        .expect("the simulator answers");
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
        buf: Vec::new(),
    }
}

async fn post(sim: &ModelSim, path: &str, headers: &[(&str, String)], body: Value) -> Reply {
    send(sim, "POST", path, headers, Some(body)).await
}

/// A Messages call with the real key and [`messages_body`].
async fn messages(sim: &ModelSim, stream: bool) -> Reply {
    post(
        sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(stream),
    )
    .await
}

/// A chat completions call with the real key and [`chat_body`].
async fn chat(sim: &ModelSim, stream: bool) -> Reply {
    post(
        sim,
        "/v1/chat/completions",
        &openai_headers(),
        chat_body(stream),
    )
    .await
}

/// A Responses call with the real key and [`responses_body`].
async fn responses(sim: &ModelSim, stream: bool) -> Reply {
    post(
        sim,
        "/v1/responses",
        &openai_headers(),
        responses_body(stream),
    )
    .await
}

fn messages_body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}],
    })
}

fn chat_body(stream: bool) -> Value {
    json!({"model": "gpt-5", "stream": stream, "messages": [{"role": "user", "content": "Hi"}]})
}

fn responses_body(stream: bool) -> Value {
    json!({"model": "gpt-5", "stream": stream, "input": "Hi"})
}

fn names(events: &[Sse]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.name.as_deref().unwrap_or(""))
        .collect()
}
