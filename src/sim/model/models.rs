//! `GET /v1/models` in each provider's list shape.

use serde_json::{json, Value};

const ANTHROPIC: &[(&str, &str, &str)] = &[
    (
        "claude-opus-4-1-20250805",
        "Claude Opus 4.1",
        "2025-08-05T00:00:00Z",
    ),
    (
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
    ),
    (
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "2025-10-01T00:00:00Z",
    ),
];

const OPENAI: &[(&str, i64)] = &[
    ("gpt-5", 1_754_425_777),
    ("gpt-5-mini", 1_754_425_928),
    ("gpt-4.1", 1_744_316_542),
];

/// `{"data":[{"type":"model",..}],"has_more":false,"first_id":..,"last_id":..}`.
pub(crate) fn anthropic() -> Value {
    let data: Vec<Value> = ANTHROPIC
        .iter()
        .map(|(id, name, created)| {
            json!({"type": "model", "id": id, "display_name": name, "created_at": created})
        })
        .collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": ANTHROPIC.first().map(|m| m.0),
        "last_id": ANTHROPIC.last().map(|m| m.0),
    })
}

/// `{"object":"list","data":[{"id":..,"object":"model","created":..,"owned_by":..}]}`.
pub(crate) fn openai() -> Value {
    let data: Vec<Value> = OPENAI
        .iter()
        .map(|(id, created)| {
            json!({"id": id, "object": "model", "created": created, "owned_by": "system"})
        })
        .collect();
    json!({"object": "list", "data": data})
}
