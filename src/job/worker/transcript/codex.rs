//! Codex's `exec --json` events: `thread.started`, `turn.started`, `item.started` /
//! `item.completed` (an agent message, reasoning, a command run, a file change, a tool call,
//! a web search, an error), `turn.completed` (with usage), `turn.failed` and `error`. An item
//! is shown once, when it is completed.

use serde_json::Value;

use super::{prefixed, relative, str_at, Transcript};

/// What one event adds to the transcript.
pub(super) fn step(
    event: &Value,
    t: &mut Transcript,
    clip: &dyn Fn(&str) -> String,
    redact: &dyn Fn(&str) -> String,
) {
    match str_at(event, "type") {
        Some("thread.started") => t.text.push_str("session started\n"),
        Some("item.completed") => {
            let item = event.get("item").unwrap_or(&Value::Null);
            item_text(item, t, clip, redact);
        }
        Some("turn.completed") => {
            let usage = event.get("usage").unwrap_or(&Value::Null);
            let tokens = |k: &str| usage.get(k).and_then(Value::as_u64).unwrap_or(0);
            t.text.push_str(&format!(
                "agent done ({} input, {} output tokens)\n",
                tokens("input_tokens"),
                tokens("output_tokens")
            ));
        }
        Some("turn.failed") => {
            let message = event
                .get("error")
                .and_then(|e| str_at(e, "message"))
                .unwrap_or("the turn failed");
            t.text.push_str(&prefixed("agent failed: ", &clip(message)));
            t.error = Some(redact(message));
        }
        Some("error") => {
            let message = str_at(event, "message").unwrap_or("?");
            t.text.push_str(&prefixed("error: ", &clip(message)));
        }
        _ => {}
    }
}

fn item_text(
    item: &Value,
    t: &mut Transcript,
    clip: &dyn Fn(&str) -> String,
    redact: &dyn Fn(&str) -> String,
) {
    let field = |k: &str| str_at(item, k).unwrap_or_default();
    match str_at(item, "type") {
        Some("agent_message") => {
            let text = field("text").trim();
            if !text.is_empty() {
                t.text.push_str(&prefixed("model: ", &clip(text)));
                t.last_message = Some(redact(text));
            }
        }
        Some("reasoning") => {
            let text = field("text").trim();
            if !text.is_empty() {
                t.text.push_str(&prefixed("thinking: ", &clip(text)));
            }
        }
        Some("command_execution") => {
            t.text
                .push_str(&prefixed("tool shell $ ", &clip(field("command"))));
            let exit = item.get("exit_code").and_then(Value::as_i64);
            let head = match exit {
                Some(0) => "  result: ".to_string(),
                Some(code) => format!("  error (exit {code}): "),
                None => "  error: ".to_string(),
            };
            let output = field("aggregated_output").trim_end();
            t.text.push_str(&prefixed(&head, &clip(output)));
        }
        Some("file_change") => {
            let changes = item.get("changes").and_then(Value::as_array);
            for change in changes.into_iter().flatten() {
                let path = relative(str_at(change, "path").unwrap_or("?"));
                let kind = str_at(change, "kind").unwrap_or("update");
                t.text
                    .push_str(&prefixed(&format!("tool {} ", clip(kind)), &clip(path)));
            }
            if field("status") == "failed" {
                t.text.push_str("  error: the change was not applied\n");
            }
        }
        Some("mcp_tool_call") => {
            let name = format!("{}.{}", field("server"), field("tool"));
            t.text.push_str(&prefixed("tool ", &clip(&name)));
        }
        Some("web_search") => {
            t.text
                .push_str(&prefixed("tool web_search ", &clip(field("query"))));
        }
        // Not fatal (a turn that fails says so with `turn.failed`).
        Some("error") => {
            t.text
                .push_str(&prefixed("error: ", &clip(field("message"))));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
