//! Claude Code's `--output-format stream-json --verbose` events: `system` (init),
//! `assistant` (text, tool_use, thinking blocks), `user` (tool_result blocks) and the final
//! `result`.

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
        Some("system") if str_at(event, "subtype") == Some("init") => {
            let model = str_at(event, "model").unwrap_or("?");
            t.text
                .push_str(&format!("session started (model {})\n", clip(model)));
        }
        Some("assistant") => {
            for block in blocks(event) {
                match str_at(block, "type") {
                    Some("text") => {
                        let text = str_at(block, "text").unwrap_or_default();
                        if !text.trim().is_empty() {
                            t.text.push_str(&prefixed("model: ", &clip(text.trim())));
                            t.last_message = Some(redact(text.trim()));
                        }
                    }
                    Some("tool_use") => {
                        let name = str_at(block, "name").unwrap_or("?");
                        let input = block.get("input").unwrap_or(&Value::Null);
                        let what = tool_input(name, input);
                        t.text
                            .push_str(&prefixed(&format!("tool {} ", clip(name)), &clip(&what)));
                    }
                    Some("thinking") => {
                        let text = str_at(block, "thinking").unwrap_or_default();
                        if !text.trim().is_empty() {
                            t.text.push_str(&prefixed("thinking: ", &clip(text.trim())));
                        }
                    }
                    _ => {}
                }
            }
        }
        Some("user") => {
            for block in blocks(event) {
                if str_at(block, "type") != Some("tool_result") {
                    continue;
                }
                let head = if block.get("is_error").and_then(Value::as_bool) == Some(true) {
                    "  error: "
                } else {
                    "  result: "
                };
                let content = tool_result_text(block.get("content"));
                t.text.push_str(&prefixed(head, &clip(content.trim_end())));
            }
        }
        Some("result") => {
            let failed = event.get("is_error").and_then(Value::as_bool) == Some(true);
            let subtype = str_at(event, "subtype").unwrap_or("?");
            let text = str_at(event, "result")
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let head = if failed {
                format!("agent failed ({}): ", clip(subtype))
            } else {
                format!("agent done ({}): ", clip(subtype))
            };
            t.text
                .push_str(&prefixed(&head, &clip(text.unwrap_or("(no message)"))));
            if failed {
                let error = text.map_or_else(|| format!("the agent ended with {subtype}"), redact);
                t.error = Some(error);
            } else if let Some(text) = text {
                t.last_message = Some(redact(text));
            }
        }
        _ => {}
    }
}

/// The content blocks of an `assistant` or `user` event's message.
fn blocks(event: &Value) -> &[Value] {
    event
        .get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// What a tool call does, in a few words: the file it touches, the command it runs.
fn tool_input(name: &str, input: &Value) -> String {
    let field = |k: &str| str_at(input, k);
    let relative = |p: &str| relative(p).to_string();
    match name {
        "Read" | "Write" | "Edit" | "MultiEdit" => field("file_path").map(relative),
        "NotebookEdit" => field("notebook_path").map(relative),
        "Bash" => field("command").map(|c| format!("$ {c}")),
        "Glob" | "Grep" => field("pattern").map(|p| match field("path") {
            Some(path) => format!("{p} in {}", relative(path)),
            None => p.to_string(),
        }),
        "WebFetch" => field("url").map(str::to_string),
        "WebSearch" => field("query").map(str::to_string),
        _ => None,
    }
    .unwrap_or_else(|| input.to_string())
}

/// A tool result's content: a string, or text blocks.
fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| match str_at(p, "text") {
                Some(text) => text.to_string(),
                None => format!("[{}]", str_at(p, "type").unwrap_or("?")),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
