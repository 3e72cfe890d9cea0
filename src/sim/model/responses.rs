//! OpenAI Responses: the body check, the response object and its semantic event stream.

use serde_json::{json, Value};

use super::generate::{json_pieces, pieces, Outcome, Output};
use super::ids;
use super::sse::Event;

/// The missing parameter of a `POST /v1/responses` body, if one is.
pub(crate) fn check(body: &Value) -> Option<&'static str> {
    ["model", "input"]
        .into_iter()
        .find(|field| body.get(*field).is_none_or(Value::is_null))
}

pub(crate) fn max_tokens(body: &Value) -> Option<u64> {
    body.get("max_output_tokens").and_then(Value::as_u64)
}

fn usage(o: &Outcome) -> Value {
    let input = o.openai_prompt_tokens();
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": o.usage.cache_read},
        "output_tokens": o.usage.output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input + o.usage.output,
    })
}

/// The ids one answer uses throughout its stream.
struct Ids {
    response: String,
    item: String,
    call: String,
    created: i64,
}

impl Ids {
    fn new(o: &Outcome) -> Ids {
        let item = match o.output {
            Output::Text(_) => ids::id("msg_", 32),
            Output::Tool { .. } => ids::id("fc_", 32),
        };
        Ids {
            response: ids::id("resp_", 32),
            item,
            call: ids::id("call_", 24),
            created: ids::now(),
        }
    }
}

fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

/// The output item; `done` gives its final form, otherwise the one `output_item.added` shows.
fn item(o: &Outcome, ids: &Ids, done: bool) -> Value {
    let status = match (done, o.clamped) {
        (false, _) => "in_progress",
        (true, true) => "incomplete",
        (true, false) => "completed",
    };
    match &o.output {
        Output::Text(text) => json!({
            "id": ids.item,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": if done { json!([text_part(text)]) } else { json!([]) },
        }),
        Output::Tool { name, input } => json!({
            "id": ids.item,
            "type": "function_call",
            "status": status,
            "arguments": if done { Outcome::arguments(input) } else { String::new() },
            "call_id": ids.call,
            "name": name,
        }),
    }
}

/// The response object; `done` gives the final one with its output and usage.
fn response(o: &Outcome, ids: &Ids, request: &Value, done: bool) -> Value {
    let (status, incomplete) = match (done, o.clamped) {
        (false, _) => ("in_progress", Value::Null),
        (true, true) => ("incomplete", json!({"reason": "max_output_tokens"})),
        (true, false) => ("completed", Value::Null),
    };
    let field = |name: &str, default: Value| request.get(name).cloned().unwrap_or(default);
    json!({
        "id": ids.response,
        "object": "response",
        "created_at": ids.created,
        "status": status,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": field("instructions", Value::Null),
        "max_output_tokens": field("max_output_tokens", Value::Null),
        "model": o.model,
        "output": if done { json!([item(o, ids, true)]) } else { json!([]) },
        "parallel_tool_calls": true,
        "previous_response_id": field("previous_response_id", Value::Null),
        "reasoning": {"effort": null, "summary": null},
        "store": field("store", json!(true)),
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": field("tools", json!([])),
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": if done { usage(o) } else { Value::Null },
        "user": null,
        "metadata": field("metadata", json!({})),
    })
}

/// The non-streaming answer.
pub(crate) fn complete(o: &Outcome, request: &Value) -> Value {
    response(o, &Ids::new(o), request, true)
}

/// The `stream: true` answer, each event numbered by `sequence_number`, ending with
/// `response.completed` (or `response.incomplete`) carrying the usage.
pub(crate) fn stream(o: &Outcome, request: &Value) -> Vec<Event> {
    let ids = Ids::new(o);
    let mut bodies: Vec<Value> = vec![
        json!({"type": "response.created", "response": response(o, &ids, request, false)}),
        json!({"type": "response.in_progress", "response": response(o, &ids, request, false)}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item(o, &ids, false)}),
    ];
    let at = |kind: &str| json!({"type": kind, "item_id": ids.item, "output_index": 0});
    match &o.output {
        Output::Text(text) => {
            let with_part = |kind: &str| {
                let mut v = at(kind);
                v["content_index"] = json!(0);
                v
            };
            let mut added = with_part("response.content_part.added");
            added["part"] = text_part("");
            bodies.push(added);
            for piece in pieces(text) {
                let mut delta = with_part("response.output_text.delta");
                delta["delta"] = json!(piece);
                delta["logprobs"] = json!([]);
                bodies.push(delta);
            }
            let mut done = with_part("response.output_text.done");
            done["text"] = json!(text);
            done["logprobs"] = json!([]);
            bodies.push(done);
            let mut part_done = with_part("response.content_part.done");
            part_done["part"] = text_part(text);
            bodies.push(part_done);
        }
        Output::Tool { input, .. } => {
            let arguments = Outcome::arguments(input);
            for piece in json_pieces(&arguments) {
                let mut delta = at("response.function_call_arguments.delta");
                delta["delta"] = json!(piece);
                bodies.push(delta);
            }
            let mut done = at("response.function_call_arguments.done");
            done["arguments"] = json!(arguments);
            bodies.push(done);
        }
    }
    bodies.push(json!({
        "type": "response.output_item.done", "output_index": 0, "item": item(o, &ids, true),
    }));
    let last = if o.clamped {
        "response.incomplete"
    } else {
        "response.completed"
    };
    bodies.push(json!({"type": last, "response": response(o, &ids, request, true)}));
    bodies
        .into_iter()
        .enumerate()
        .map(|(n, mut body)| {
            body["sequence_number"] = json!(n);
            let name = body["type"].as_str().unwrap_or_default().to_string();
            Event::named(&name, &body)
        })
        .collect()
}
