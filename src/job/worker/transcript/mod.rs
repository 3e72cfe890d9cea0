//! An agent's machine-readable events (Claude Code's stream-JSON, Codex's JSON lines) as a
//! transcript people read: the model's messages, each tool call and its result, clipped; the final message (the
//! pull request's summary when the agent wrote none) and whether the agent said it failed.
//! Pure: no I/O. Lines that are not JSON are kept as they are; unknown events are skipped
//! (the raw output is kept beside the transcript in the session log).

use serde_json::Value;

/// How many characters of each message, tool input or tool result the transcript shows.
pub const CLIP_CHARS: usize = 400;
/// Where the worktree is inside a session: paths under it are shown relative.
const WORKTREE_PREFIX: &str = "/work/";

mod claude_code;
mod codex;

/// The machine-readable output a preset's CLI writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventFormat {
    /// `claude -p … --output-format stream-json --verbose`: one JSON event a line.
    ClaudeCodeStreamJson,
    /// `codex exec --json`: one JSON event a line.
    CodexJson,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The readable steps, one or more lines each, ending with a newline (or empty).
    pub text: String,
    /// The agent's last message: the `result` event's text, else its last text block.
    pub last_message: Option<String>,
    /// Set when the agent's final event says it failed (`is_error: true`): its error text.
    pub error: Option<String>,
}

/// Reads `output` as `format`; every string from the output goes through `redact` before it
/// is clipped, so no clipped secret escapes redaction.
pub fn read(format: EventFormat, output: &str, redact: &dyn Fn(&str) -> String) -> Transcript {
    let mut t = Transcript::default();
    let clip = |s: &str| clip(&redact(s), CLIP_CHARS);
    for line in output.lines() {
        let Some(event) = event(line, &mut t, redact) else {
            continue;
        };
        match format {
            EventFormat::ClaudeCodeStreamJson => claude_code::step(&event, &mut t, &clip, redact),
            EventFormat::CodexJson => codex::step(&event, &mut t, &clip, redact),
        }
    }
    t
}

/// `line` as a JSON object, or `None` (and the line kept as it is in `t`, redacted, unless
/// blank) when it is not one.
fn event(line: &str, t: &mut Transcript, redact: &dyn Fn(&str) -> String) -> Option<Value> {
    match serde_json::from_str::<Value>(line) {
        Ok(event @ Value::Object(_)) => Some(event),
        _ => {
            if !line.trim().is_empty() {
                t.text.push_str(&redact(line));
                t.text.push('\n');
            }
            None
        }
    }
}

/// `path` relative to the worktree when it is under it.
pub(super) fn relative(path: &str) -> &str {
    path.strip_prefix(WORKTREE_PREFIX).unwrap_or(path)
}

pub(super) fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// `text` cut to `max` characters, saying so.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!(
            "{}… ({} more characters)",
            &text[..cut],
            text[cut..].chars().count()
        ),
        None => text.to_string(),
    }
}

/// `head` before the first line of `text`, later lines indented under it.
pub(super) fn prefixed(head: &str, text: &str) -> String {
    let indent = format!("{}  ", &head[..head.len() - head.trim_start().len()]);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(head);
        } else {
            out.push_str(&indent);
        }
        out.push_str(line);
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str(head.trim_end());
        out.push('\n');
    }
    out
}
