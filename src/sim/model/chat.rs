//! OpenAI Chat Completions: the body check, the completion object and its chunk stream.

use serde_json::{json, Value};

use super::generate::{json_pieces, pieces, Outcome, Output};
use super::ids;
use super::sse::Event;

/// The missing parameter of a `POST /v1/chat/completions` body, if one is.
pub(crate) fn check(body: &Value) -> Option<&'static str> {
    ["model", "messages"]
        .into_iter()
        .find(|field| body.get(*field).is_none_or(Value::is_null))
}

/// `max_completion_tokens`, or the older `max_tokens`.
pub(crate) fn max_tokens(body: &Value) -> Option<u64> {
    body.get("max_completion_tokens")
        .and_then(Value::as_u64)
        .or_else(|| body.get("max_tokens").and_then(Value::as_u64))
}

/// Whether the stream ends with a usage chunk.
pub(crate) fn include_usage(body: &Value) -> bool {
    body.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn finish_reason(o: &Outcome) -> &'static str {
    match (&o.output, o.clamped) {
        (_, true) => "length",
        (Output::Tool { .. }, false) => "tool_calls",
        (Output::Text(_), false) => "stop",
    }
}

/// Chat usage; also what the Responses route derives its own from.
pub(crate) fn usage(o: &Outcome) -> Value {
    let prompt = o.openai_prompt_tokens();
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": o.usage.output,
        "total_tokens": prompt + o.usage.output,
        "prompt_tokens_details": {"cached_tokens": o.usage.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

/// The non-streaming answer.
pub(crate) fn complete(o: &Outcome) -> Value {
    let message = match &o.output {
        Output::Text(text) => json!({
            "role": "assistant", "content": text, "refusal": null, "annotations": [],
        }),
        Output::Tool { name, input } => json!({
            "role": "assistant",
            "content": null,
            "refusal": null,
            "annotations": [],
            "tool_calls": [{
                "id": ids::id("call_", 24),
                "type": "function",
                "function": {"name": name, "arguments": Outcome::arguments(input)},
            }],
        }),
    };
    json!({
        "id": ids::id("chatcmpl-", 29),
        "object": "chat.completion",
        "created": ids::now(),
        "model": o.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(o),
        }],
        "usage": usage(o),
        "service_tier": "default",
        "system_fingerprint": "fp_modelsim",
    })
}

/// The `stream: true` answer: `data: {chunk}` events, a usage chunk when asked, `[DONE]`.
pub(crate) fn stream(o: &Outcome, with_usage: bool) -> Vec<Event> {
    let id = ids::id("chatcmpl-", 29);
    let created = ids::now();
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": o.model,
            "service_tier": "default",
            "system_fingerprint": "fp_modelsim",
            "choices": choices,
        });
        if with_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        Event::data(c.to_string())
    };
    let choice = |delta: Value, finish: Option<&str>| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
    let (first, deltas): (Value, Vec<Value>) = match &o.output {
        Output::Text(text) => (
            json!({"role": "assistant", "content": "", "refusal": null}),
            pieces(text)
                .into_iter()
                .map(|t| json!({"content": t}))
                .collect(),
        ),
        Output::Tool { name, input } => (
            json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "index": 0,
                    "id": ids::id("call_", 24),
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }],
            }),
            json_pieces(&Outcome::arguments(input))
                .into_iter()
                .map(|p| json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}))
                .collect(),
        ),
    };
    let mut events = vec![chunk(choice(first, None), None)];
    events.extend(deltas.into_iter().map(|d| chunk(choice(d, None), None)));
    events.push(chunk(choice(json!({}), Some(finish_reason(o))), None));
    if with_usage {
        events.push(chunk(json!([]), Some(usage(o))));
    }
    events.push(Event::data("[DONE]"));
    events
}
