//! Anthropic Messages: the body check, the message object and its event stream.

use serde_json::{json, Value};

use super::generate::{json_pieces, pieces, Outcome, Output};
use super::ids;
use super::sse::Event;

/// Why a `POST /v1/messages` body is refused (Anthropic's wording), if it is.
pub(crate) fn check_messages(body: &Value) -> Option<String> {
    if !body.get("model").is_some_and(Value::is_string) {
        return Some("model: Field required".to_string());
    }
    match body.get("max_tokens") {
        None => return Some("max_tokens: Field required".to_string()),
        Some(v) if v.as_u64().is_none_or(|n| n < 1) => {
            return Some(
                "max_tokens: Input should be a valid integer greater than or equal to 1"
                    .to_string(),
            )
        }
        _ => {}
    }
    check_message_list(body)
}

/// Why a `POST /v1/messages/count_tokens` body is refused, if it is.
pub(crate) fn check_count(body: &Value) -> Option<String> {
    if !body.get("model").is_some_and(Value::is_string) {
        return Some("model: Field required".to_string());
    }
    check_message_list(body)
}

fn check_message_list(body: &Value) -> Option<String> {
    match body.get("messages") {
        None => Some("messages: Field required".to_string()),
        Some(v) if !v.is_array() => Some("messages: Input should be a valid list".to_string()),
        _ => None,
    }
}

fn stop_reason(o: &Outcome) -> &'static str {
    match (&o.output, o.clamped) {
        (_, true) => "max_tokens",
        (Output::Tool { .. }, false) => "tool_use",
        (Output::Text(_), false) => "end_turn",
    }
}

fn usage(o: &Outcome, output_tokens: u64) -> Value {
    json!({
        "input_tokens": o.usage.input,
        "cache_creation_input_tokens": o.usage.cache_write,
        "cache_read_input_tokens": o.usage.cache_read,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    })
}

fn message(id: &str, o: &Outcome, content: Vec<Value>, stop: Option<&str>, output: u64) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": o.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage(o, output),
    })
}

/// The complete block, and the same block as `content_block_start` announces it.
fn block(o: &Outcome) -> (Value, Value) {
    match &o.output {
        Output::Text(text) => (
            json!({"type": "text", "text": text}),
            json!({"type": "text", "text": ""}),
        ),
        Output::Tool { name, input } => {
            let id = ids::id("toolu_01", 22);
            (
                json!({"type": "tool_use", "id": id, "name": name, "input": input}),
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
            )
        }
    }
}

/// The non-streaming answer.
pub(crate) fn complete(o: &Outcome) -> Value {
    let (full, _) = block(o);
    message(
        &ids::id("msg_01", 22),
        o,
        vec![full],
        Some(stop_reason(o)),
        o.usage.output,
    )
}

/// The `stream: true` answer: message_start, one content block, message_delta, message_stop.
pub(crate) fn stream(o: &Outcome) -> Vec<Event> {
    let (_, start) = block(o);
    let started = message(&ids::id("msg_01", 22), o, Vec::new(), None, 1);
    let mut events = vec![
        Event::named(
            "message_start",
            &json!({"type": "message_start", "message": started}),
        ),
        Event::named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        Event::named("ping", &json!({"type": "ping"})),
    ];
    let deltas: Vec<Value> = match &o.output {
        Output::Text(text) => pieces(text)
            .into_iter()
            .map(|t| json!({"type": "text_delta", "text": t}))
            .collect(),
        Output::Tool { input, .. } => json_pieces(&Outcome::arguments(input))
            .into_iter()
            .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
            .collect(),
    };
    for delta in deltas {
        events.push(Event::named(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ));
    }
    events.push(Event::named(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(Event::named(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(o), "stop_sequence": null},
            "usage": {"output_tokens": o.usage.output},
        }),
    ));
    events.push(Event::named(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    events
}
