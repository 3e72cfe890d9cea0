//! The model simulator driven over real HTTP, as the gateway will drive it.

use std::time::Duration;

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

#[tokio::test]
async fn anthropic_refuses_bad_credentials() {
    let sim = sim().await;
    let body = messages_body(false);
    let version = ("anthropic-version", "2023-06-01".to_string());

    let none = post(
        &sim,
        "/v1/messages",
        std::slice::from_ref(&version),
        body.clone(),
    )
    .await;
    assert_eq!(none.status, 401);
    assert!(none
        .header("request-id")
        .is_some_and(|id| id.starts_with("req_")));
    let none = none.json().await;
    assert_eq!(none["type"], "error");
    assert_eq!(none["error"]["type"], "authentication_error");
    assert!(none["error"]["message"].is_string());

    let wrong = [("x-api-key", "sk-ant-wrong".to_string()), version];
    let wrong = post(&sim, "/v1/messages", &wrong, body.clone()).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json().await["error"]["type"], "authentication_error");

    let no_version = [("x-api-key", ANTHROPIC_KEY.to_string())];
    let no_version = post(&sim, "/v1/messages", &no_version, body).await;
    assert_eq!(no_version.status, 400);
    assert_eq!(
        no_version.json().await["error"]["type"],
        "invalid_request_error"
    );

    let statuses: Vec<u16> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [401, 401, 400]);
}

#[tokio::test]
async fn openai_refuses_bad_credentials() {
    let sim = sim().await;
    for path in ["/v1/chat/completions", "/v1/responses"] {
        let body = if path.ends_with("responses") {
            responses_body(false)
        } else {
            chat_body(false)
        };
        let none = post(&sim, path, &[], body.clone()).await;
        assert_eq!(none.status, 401);
        assert!(none.header("x-request-id").is_some());
        let none = none.json().await;
        assert_eq!(none["error"]["type"], "invalid_request_error");
        assert_eq!(none["error"]["code"], "invalid_api_key");

        let wrong = [("authorization", "Bearer sk-wrong-key-123456".to_string())];
        let wrong = post(&sim, path, &wrong, body).await;
        assert_eq!(wrong.status, 401);
        let wrong = wrong.json().await;
        assert_eq!(wrong["error"]["code"], "invalid_api_key");
        let message = wrong["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.contains("sk-wrong-key-123456"), "{message}");
    }
    // An Anthropic key is no OpenAI key.
    let anthropic = [("authorization", format!("Bearer {ANTHROPIC_KEY}"))];
    let models = send(&sim, "GET", "/v1/models", &anthropic, None).await;
    assert_eq!(models.status, 401);
    assert_eq!(sim.calls().len(), 5);
    assert!(sim.calls().iter().all(|c| c.status == 401));
}

#[tokio::test]
async fn required_body_fields_are_checked() {
    let sim = sim().await;
    let a = anthropic_headers();
    let no_max = json!({"model": "claude", "messages": []});
    let reply = post(&sim, "/v1/messages", &a, no_max).await;
    assert_eq!(reply.status, 400);
    let reply = reply.json().await;
    assert_eq!(reply["error"]["type"], "invalid_request_error");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("max_tokens"));
    let zero = json!({"model": "claude", "max_tokens": 0, "messages": []});
    assert_eq!(post(&sim, "/v1/messages", &a, zero).await.status, 400);
    let no_messages = json!({"model": "claude", "max_tokens": 5});
    assert_eq!(
        post(&sim, "/v1/messages", &a, no_messages).await.status,
        400
    );

    let o = openai_headers();
    let reply = post(&sim, "/v1/chat/completions", &o, json!({"model": "gpt-5"})).await;
    assert_eq!(reply.status, 400);
    let reply = reply.json().await;
    assert_eq!(reply["error"]["param"], "messages");
    assert_eq!(reply["error"]["type"], "invalid_request_error");
    let reply = post(&sim, "/v1/responses", &o, json!({"input": "hi"})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json().await["error"]["param"], "model");

    // Refusals take no scripted step: the next good call gets it.
    sim.script(Step::text("scripted"));
    let reply = post(&sim, "/v1/chat/completions", &o, chat_body(false)).await;
    assert_eq!(
        reply.json().await["choices"][0]["message"]["content"],
        "scripted"
    );
}

#[tokio::test]
async fn anthropic_message_has_exact_usage() {
    let sim = sim().await;
    sim.script(Step::text("Hello there").usage(usage(10, 3, 2, 5)));
    let reply = post(
        &sim,
        "/v1/messages?beta=true",
        &anthropic_headers(),
        messages_body(false),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("request-id").is_some());
    let m = reply.json().await;
    assert_eq!(m["type"], "message");
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["model"], "claude-sonnet-4-5");
    assert!(m["id"].as_str().is_some_and(|id| id.starts_with("msg_")));
    assert_eq!(
        m["content"],
        json!([{"type": "text", "text": "Hello there"}])
    );
    assert_eq!(m["stop_reason"], "end_turn");
    assert_eq!(m["stop_sequence"], Value::Null);
    assert_eq!(m["usage"]["input_tokens"], 10);
    assert_eq!(m["usage"]["output_tokens"], 3);
    assert_eq!(m["usage"]["cache_creation_input_tokens"], 2);
    assert_eq!(m["usage"]["cache_read_input_tokens"], 5);
}

#[tokio::test]
async fn anthropic_tool_use_and_default_answer() {
    let sim = sim().await;
    sim.script(Step::tool_call("read_file", json!({"path": "src/main.rs"})));
    let m = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(false),
    )
    .await
    .json()
    .await;
    assert_eq!(m["stop_reason"], "tool_use");
    let block = &m["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "read_file");
    assert_eq!(block["input"], json!({"path": "src/main.rs"}));
    assert!(block["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("toolu_")));

    // Nothing scripted: "ok", input = ceil(body bytes / 4), output = 1 word.
    let body = messages_body(false);
    let len = body.to_string().len() as u64;
    let m = post(&sim, "/v1/messages", &anthropic_headers(), body)
        .await
        .json()
        .await;
    assert_eq!(m["content"][0]["text"], "ok");
    assert_eq!(m["usage"]["input_tokens"], len.div_ceil(4));
    assert_eq!(m["usage"]["output_tokens"], 1);
}

#[tokio::test]
async fn anthropic_stream_events_in_order() {
    let sim = sim().await;
    sim.script(Step::text("Hello big world").usage(usage(12, 3, 4, 6)));
    let mut reply = post(
        &sim,
        "/v1/messages?beta=true",
        &anthropic_headers(),
        messages_body(true),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream")));
    assert!(reply.header("request-id").is_some());
    let events = reply.all_events().await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    for e in &events {
        assert_eq!(e.json()["type"], e.name.as_deref().unwrap_or_default());
    }
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert_eq!(start["message"]["usage"]["input_tokens"], 12);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(start["message"]["usage"]["cache_creation_input_tokens"], 4);
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 6);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..6]
        .iter()
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(text, "Hello big world");
    let delta = events[7].json();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 3);
    assert_eq!(sim.events_sent(), 9);
    assert_eq!(sim.cancelled(), 0);
}

#[tokio::test]
async fn anthropic_streams_tool_input_as_json_deltas() {
    let sim = sim().await;
    let input = json!({"command": "cargo test --lib", "timeout": 600});
    sim.script(Step::tool_call("bash", input.clone()));
    let mut reply = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(true),
    )
    .await;
    let events = reply.all_events().await;
    let start = events[1].json();
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "bash");
    assert_eq!(start["content_block"]["input"], json!({}));
    let partial: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&partial).ok(), Some(input));
    let delta = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"));
    assert_eq!(
        delta.map(|d| d.json()["delta"]["stop_reason"].clone()),
        Some(json!("tool_use"))
    );
}

#[tokio::test]
async fn chat_completion_shapes() {
    let sim = sim().await;
    sim.script(Step::text("Hi you").usage(usage(7, 2, 1, 3)));
    sim.script(Step::tool_call("grep", json!({"pattern": "fn main"})));
    let c = post(
        &sim,
        "/v1/chat/completions",
        &openai_headers(),
        chat_body(false),
    )
    .await;
    assert!(c.header("x-request-id").is_some());
    let c = c.json().await;
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["model"], "gpt-5");
    assert_eq!(c["choices"][0]["message"]["role"], "assistant");
    assert_eq!(c["choices"][0]["message"]["content"], "Hi you");
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    assert_eq!(c["usage"]["prompt_tokens"], 11);
    assert_eq!(c["usage"]["completion_tokens"], 2);
    assert_eq!(c["usage"]["total_tokens"], 13);
    assert_eq!(c["usage"]["prompt_tokens_details"]["cached_tokens"], 3);

    let c = post(
        &sim,
        "/v1/chat/completions",
        &openai_headers(),
        chat_body(false),
    )
    .await
    .json()
    .await;
    assert_eq!(c["choices"][0]["finish_reason"], "tool_calls");
    let call = &c["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "grep");
    let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).ok(),
        Some(json!({"pattern": "fn main"}))
    );
}

#[tokio::test]
async fn chat_stream_has_usage_only_when_asked() {
    let sim = sim().await;
    sim.script(Step::text("one two three").usage(usage(5, 3, 0, 2)));
    let mut reply = post(
        &sim,
        "/v1/chat/completions",
        &openai_headers(),
        chat_body(true),
    )
    .await;
    assert!(reply
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream")));
    let events = reply.all_events().await;
    assert!(events.iter().all(|e| e.name.is_none()));
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Sse::json).collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));

    sim.script(Step::text("one two three").usage(usage(5, 3, 0, 2)));
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let mut reply = post(&sim, "/v1/chat/completions", &openai_headers(), body).await;
    let events = reply.all_events().await;
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Sse::json).collect();
    let (usage_chunk, rest) = chunks.split_last().expect("chunks");
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 7);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 10);
    assert_eq!(
        usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"],
        2
    );
    assert!(rest
        .iter()
        .all(|c| c["usage"].is_null() && c.get("usage").is_some()));
    assert_eq!(
        rest.last()
            .map(|c| c["choices"][0]["finish_reason"].clone()),
        Some(json!("stop"))
    );
}

#[tokio::test]
async fn responses_shapes_and_stream() {
    let sim = sim().await;
    sim.script(Step::text("All good here").usage(usage(20, 3, 0, 8)));
    let r = post(
        &sim,
        "/v1/responses",
        &openai_headers(),
        responses_body(false),
    )
    .await
    .json()
    .await;
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["output"][0]["type"], "message");
    assert_eq!(r["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(r["output"][0]["content"][0]["text"], "All good here");
    assert_eq!(r["usage"]["input_tokens"], 28);
    assert_eq!(r["usage"]["output_tokens"], 3);
    assert_eq!(r["usage"]["total_tokens"], 31);
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 8);

    sim.script(Step::text("All good here").usage(usage(20, 3, 0, 8)));
    let mut reply = post(
        &sim,
        "/v1/responses",
        &openai_headers(),
        responses_body(true),
    )
    .await;
    let events = reply.all_events().await;
    let names = names(&events);
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count(),
        3
    );
    for (n, e) in events.iter().enumerate() {
        let data = e.json();
        assert_eq!(data["type"], e.name.as_deref().unwrap_or_default());
        assert_eq!(data["sequence_number"], n);
    }
    assert_eq!(events[0].json()["response"]["status"], "in_progress");
    let text: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("response.output_text.delta"))
        .map(|e| e.json()["delta"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(text, "All good here");
    let done = events.last().map(Sse::json).unwrap_or_default();
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["usage"]["input_tokens"], 28);
    assert_eq!(done["response"]["usage"]["output_tokens"], 3);
    assert_eq!(done["response"]["usage"]["total_tokens"], 31);

    sim.script(Step::tool_call("ls", json!({"dir": "."})));
    let r = post(
        &sim,
        "/v1/responses",
        &openai_headers(),
        responses_body(false),
    )
    .await
    .json()
    .await;
    assert_eq!(r["output"][0]["type"], "function_call");
    assert_eq!(r["output"][0]["name"], "ls");
    assert_eq!(r["output"][0]["arguments"], json!({"dir": "."}).to_string());
}

#[tokio::test]
async fn max_tokens_clamps_output() {
    let sim = sim().await;
    let long = "a b c d e f g h i j";
    sim.script(Step::text(long).usage(usage(10, 50, 0, 0)));
    let mut body = messages_body(false);
    body["max_tokens"] = json!(4);
    let m = post(&sim, "/v1/messages", &anthropic_headers(), body)
        .await
        .json()
        .await;
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(m["usage"]["output_tokens"], 4);
    assert_eq!(m["content"][0]["text"], "a b c d");

    sim.script(Step::text(long).usage(usage(10, 50, 0, 0)));
    let mut body = chat_body(false);
    body["max_completion_tokens"] = json!(6);
    let c = post(&sim, "/v1/chat/completions", &openai_headers(), body)
        .await
        .json()
        .await;
    assert_eq!(c["choices"][0]["finish_reason"], "length");
    assert_eq!(c["usage"]["completion_tokens"], 6);

    sim.script(Step::text(long).usage(usage(10, 50, 0, 0)));
    let mut body = chat_body(false);
    body["max_tokens"] = json!(2);
    let c = post(&sim, "/v1/chat/completions", &openai_headers(), body)
        .await
        .json()
        .await;
    assert_eq!(c["usage"]["completion_tokens"], 2);

    sim.script(Step::text(long).usage(usage(10, 50, 0, 0)));
    let mut body = responses_body(false);
    body["max_output_tokens"] = json!(5);
    let r = post(&sim, "/v1/responses", &openai_headers(), body.clone())
        .await
        .json()
        .await;
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(r["usage"]["output_tokens"], 5);

    sim.script(Step::text(long).usage(usage(10, 50, 0, 0)));
    body["stream"] = json!(true);
    let mut reply = post(&sim, "/v1/responses", &openai_headers(), body).await;
    let events = reply.all_events().await;
    let last = events.last().expect("events");
    assert_eq!(last.name.as_deref(), Some("response.incomplete"));
    assert_eq!(last.json()["response"]["usage"]["output_tokens"], 5);

    // Within the limit nothing changes.
    sim.script(Step::text("short").usage(usage(1, 3, 0, 0)));
    let mut body = messages_body(true);
    body["max_tokens"] = json!(3);
    let mut reply = post(&sim, "/v1/messages", &anthropic_headers(), body).await;
    let events = reply.all_events().await;
    let delta = events
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"));
    let delta = delta.map(Sse::json).unwrap_or_default();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn other_paths_are_404_in_the_providers_shape() {
    let sim = sim().await;
    let reply = post(&sim, "/v1/embeddings", &openai_headers(), json!({})).await;
    assert_eq!(reply.status, 404);
    let reply = reply.json().await;
    assert_eq!(reply["error"]["type"], "invalid_request_error");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("/v1/embeddings"));

    let reply = send(&sim, "GET", "/v1/messages", &anthropic_headers(), None).await;
    assert_eq!(reply.status, 404);
    let reply = reply.json().await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["error"]["type"], "not_found_error");

    let reply = send(&sim, "GET", "/", &[], None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        sim.calls().iter().map(|c| c.status).collect::<Vec<_>>(),
        [404, 404, 404]
    );
}

#[tokio::test]
async fn models_and_count_tokens() {
    let sim = sim().await;
    let a = send(&sim, "GET", "/v1/models", &anthropic_headers(), None).await;
    assert_eq!(a.status, 200);
    let a = a.json().await;
    assert_eq!(a["has_more"], false);
    assert_eq!(a["data"][0]["type"], "model");
    assert!(a.get("object").is_none());

    let o = send(&sim, "GET", "/v1/models", &openai_headers(), None)
        .await
        .json()
        .await;
    assert_eq!(o["object"], "list");
    assert_eq!(o["data"][0]["object"], "model");

    let body = json!({"model": "claude", "messages": [{"role": "user", "content": "count me"}]});
    let len = body.to_string().len() as u64;
    sim.script(Step::text("kept for later"));
    let c = post(
        &sim,
        "/v1/messages/count_tokens",
        &anthropic_headers(),
        body,
    )
    .await;
    assert_eq!(c.json().await, json!({"input_tokens": len.div_ceil(4)}));
    // count_tokens does not generate: the step is still queued.
    let m = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(false),
    )
    .await;
    assert_eq!(m.json().await["content"][0]["text"], "kept for later");
}

#[tokio::test]
async fn scripted_errors_in_the_providers_shape() {
    let sim = sim().await;
    sim.script(Step::error(429).retry_after(7));
    sim.script(Step::error(529));
    sim.script(Step::error(500));
    sim.script(Step::error(429).retry_after(3));
    sim.script(Step::error(503));

    let r = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(true),
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json().await["error"]["type"], "rate_limit_error");
    let r = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(false),
    )
    .await;
    assert_eq!(r.status, 529);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.json().await["error"]["type"], "overloaded_error");
    let r = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(false),
    )
    .await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json().await["error"]["type"], "api_error");

    let r = post(
        &sim,
        "/v1/chat/completions",
        &openai_headers(),
        chat_body(true),
    )
    .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    let r = r.json().await;
    assert_eq!(r["error"]["type"], "rate_limit_exceeded");
    assert_eq!(r["error"]["code"], "rate_limit_exceeded");
    let r = post(
        &sim,
        "/v1/responses",
        &openai_headers(),
        responses_body(false),
    )
    .await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json().await["error"]["type"], "server_error");
}

#[tokio::test]
async fn gate_holds_events_until_opened() {
    let sim = sim().await;
    sim.script(Step::text("one two three four five").gate_after(3));
    let mut reply = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(true),
    )
    .await;
    for _ in 0..3 {
        assert!(reply.next_event().await.expect("event").is_some());
    }
    let held = tokio::time::timeout(Duration::from_millis(300), reply.next_event()).await;
    assert!(held.is_err(), "an event passed the gate");
    assert_eq!(sim.events_sent(), 3);
    sim.open_gate();
    let rest = reply.all_events().await;
    let total = 3 + rest.len();
    assert_eq!(
        total, 11,
        "message_start, block start, ping, 5 deltas, stop, delta, stop"
    );
    assert_eq!(
        rest.last().and_then(|e| e.name.as_deref()),
        Some("message_stop")
    );
    assert_eq!(sim.events_sent(), 11);
    assert_eq!(sim.cancelled(), 0);
}

#[tokio::test]
async fn cut_truncates_the_stream() {
    let sim = sim().await;
    sim.script(Step::text("one two three").cut_after(2));
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let mut reply = post(&sim, "/v1/chat/completions", &openai_headers(), body).await;
    assert_eq!(reply.status, 200);
    for _ in 0..2 {
        assert!(reply.next_event().await.expect("event").is_some());
    }
    assert!(
        reply.next_event().await.is_err(),
        "the stream must break, not end"
    );
    assert_eq!(sim.events_sent(), 2);
}

#[tokio::test]
async fn cancelled_counts_a_client_that_left() {
    let sim = sim().await;
    let words = vec!["word"; 100].join(" ");
    sim.script(Step::text(&words).event_delay(Duration::from_millis(10)));
    let mut reply = post(
        &sim,
        "/v1/responses",
        &openai_headers(),
        responses_body(true),
    )
    .await;
    for _ in 0..2 {
        assert!(reply.next_event().await.expect("event").is_some());
    }
    drop(reply);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.cancelled() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.cancelled(), 1);
    assert!(sim.events_sent() < 100);

    // A gated stream whose client leaves is cancelled too.
    sim.script(Step::text("a b c").gate_after(1));
    let mut reply = post(
        &sim,
        "/v1/messages",
        &anthropic_headers(),
        messages_body(true),
    )
    .await;
    assert!(reply.next_event().await.expect("event").is_some());
    drop(reply);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.cancelled() == 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.cancelled(), 2);
}

#[tokio::test]
async fn calls_record_headers_and_body() {
    let sim = sim().await;
    let mut headers = openai_headers();
    headers.push(("X-Agen-Job", "job-7".to_string()));
    let body = chat_body(false);
    post(&sim, "/v1/chat/completions?trace=1", &headers, body.clone())
        .await
        .json()
        .await;
    send(&sim, "POST", "/v1/messages", &anthropic_headers(), None).await;

    let calls = sim.calls();
    assert_eq!(calls.len(), 2);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/v1/chat/completions?trace=1");
    assert_eq!(call.header("x-agen-job"), Some("job-7"));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert!(call.headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    assert_eq!(call.body, body);
    assert_eq!(call.status, 200);
    assert_eq!(calls[1].body, Value::Null);
    assert_eq!(calls[1].status, 400);
}

#[tokio::test]
async fn the_server_stops_with_its_last_handle() {
    let sim = sim().await;
    let url = sim.url();
    let clone = sim.clone();
    drop(sim);
    assert_eq!(
        send(&clone, "GET", "/v1/models", &openai_headers(), None)
            .await
            .status,
        200
    );
    drop(clone);
    let addr = url.trim_start_matches("http://").to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
