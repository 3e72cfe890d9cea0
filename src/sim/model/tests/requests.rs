//! What every provider's routes check and answer alike: required body fields, the output
//! limit, unknown paths, the model lists and token counts.

use serde_json::json;

use super::*;

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
    let m = messages(&sim, false).await;
    assert_eq!(m.json().await["content"][0]["text"], "kept for later");
}
