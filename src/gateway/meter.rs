//! The tokens an answer used, read from the provider's own figures: a JSON answer's `usage`,
//! or a stream's events (Anthropic: `message_start`, then the last `message_delta`; OpenAI
//! chat: the usage chunk; Responses: `response.completed` / `.incomplete` / `.failed`).

use serde_json::Value;

use super::routes::Route;
use crate::budget::Usage;

/// What was read so far of one answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meter {
    usage: Usage,
    /// The provider's final figures arrived (the answer is billed as they say).
    complete: bool,
}

impl Meter {
    /// The usage, once the answer's final figures are in.
    pub fn usage(&self) -> Option<Usage> {
        self.complete.then_some(self.usage)
    }

    /// A whole JSON answer.
    pub fn read_json(&mut self, route: Route, body: &[u8]) {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        if let Some(usage) = value.get("usage") {
            self.usage = match route {
                Route::Messages => anthropic(usage, Usage::default()),
                _ => openai(usage),
            };
            self.complete = true;
        }
    }

    /// One server-sent event.
    pub fn read_event(&mut self, route: Route, event: &str, data: &str) {
        let value = || serde_json::from_str::<Value>(data).ok();
        match route {
            Route::Messages => match event {
                "message_start" => {
                    if let Some(usage) = value().as_ref().and_then(|v| v.pointer("/message/usage"))
                    {
                        self.usage = anthropic(usage, Usage::default());
                    }
                }
                // Cumulative: the last one holds the answer's figures.
                "message_delta" => {
                    if let Some(usage) = value().as_ref().and_then(|v| v.get("usage")) {
                        self.usage = anthropic(usage, self.usage);
                        self.complete = true;
                    }
                }
                _ => {}
            },
            Route::ChatCompletions => {
                if let Some(usage) = value()
                    .as_ref()
                    .and_then(|v| v.get("usage"))
                    .filter(|u| u.is_object())
                {
                    self.usage = openai(usage);
                    self.complete = true;
                }
            }
            Route::Responses => {
                if matches!(
                    event,
                    "response.completed" | "response.incomplete" | "response.failed"
                ) {
                    if let Some(usage) = value().as_ref().and_then(|v| v.pointer("/response/usage"))
                    {
                        self.usage = openai(usage);
                        self.complete = true;
                    }
                }
            }
            Route::CountTokens | Route::Models => {}
        }
    }
}

fn count(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// Anthropic's usage over `before`: a field it leaves out keeps its earlier figure.
fn anthropic(usage: &Value, before: Usage) -> Usage {
    Usage {
        input: count(usage, "input_tokens").unwrap_or(before.input),
        output: count(usage, "output_tokens").unwrap_or(before.output),
        cache_write: count(usage, "cache_creation_input_tokens").unwrap_or(before.cache_write),
        cache_read: count(usage, "cache_read_input_tokens").unwrap_or(before.cache_read),
    }
}

/// OpenAI counts cached tokens inside the input (`prompt_tokens` in chat, `input_tokens` in
/// Responses); agen keeps them apart, as Anthropic does.
fn openai(usage: &Value) -> Usage {
    let input = count(usage, "prompt_tokens")
        .or_else(|| count(usage, "input_tokens"))
        .unwrap_or(0);
    let output = count(usage, "completion_tokens")
        .or_else(|| count(usage, "output_tokens"))
        .unwrap_or(0);
    let cached = usage
        .pointer("/prompt_tokens_details/cached_tokens")
        .or_else(|| usage.pointer("/input_tokens_details/cached_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(input);
    Usage {
        input: input - cached,
        output,
        cache_write: 0,
        cache_read: cached,
    }
}
