//! Anthropic Messages: credentials, a message's content and usage, tool use, and the
//! stream's events.

use serde_json::{json, Value};

use super::*;

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
    let m = messages(&sim, false).await.json().await;
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
    let mut reply = messages(&sim, true).await;
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
