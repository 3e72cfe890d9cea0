//! OpenAI Chat Completions and Responses: credentials, the answers' shapes, and their
//! streams.

use serde_json::{json, Value};

use super::*;

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
async fn chat_completion_shapes() {
    let sim = sim().await;
    sim.script(Step::text("Hi you").usage(usage(7, 2, 1, 3)));
    sim.script(Step::tool_call("grep", json!({"pattern": "fn main"})));
    let c = chat(&sim, false).await;
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

    let c = chat(&sim, false).await.json().await;
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
    let mut reply = chat(&sim, true).await;
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
    let r = responses(&sim, false).await.json().await;
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
    let mut reply = responses(&sim, true).await;
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
    let r = responses(&sim, false).await.json().await;
    assert_eq!(r["output"][0]["type"], "function_call");
    assert_eq!(r["output"][0]["name"], "ls");
    assert_eq!(r["output"][0]["arguments"], json!({"dir": "."}).to_string());
}
