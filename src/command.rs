//! The `/agen` command grammar: a comment body (GitHub-flavoured Markdown) in, at most one
//! [`Command`] out. Pure: no I/O.
//!
//! # Grammar
//!
//! A *command line* is a line whose text, after at most 3 leading spaces, starts with the
//! token `/agen` followed by whitespace or the end of the line. `/agenda`, `/agen-x`,
//! `x /agen` and `/AGEN` (matching is case-sensitive) are not commands.
//!
//! The first command line wins; later ones are ignored. After `/agen`, the rest of that line:
//! - `stop`, `retry`, `status`, `help` or `logs delete` (one space between its words) alone
//!   (trailing whitespace allowed) is that verb,
//!   whatever follows on later lines. Verbs are case-sensitive, like `/agen`.
//! - anything else is [`Command::Run`]: the rest of the line (trimmed) followed by every later
//!   line of the comment, joined with `\n` and trimmed. Later lines keep code blocks and quotes
//!   as text (they may be part of the instructions), but HTML comments are removed and lines
//!   that held only a comment are dropped. A bare `/agen` gives empty instructions.
//!
//! Lines that never count as command lines (so quoting or showing a command is harmless):
//! - fenced code: a fence of 3+ `` ` `` or `~`, opened after up to 3 spaces (or inside a list
//!   item, e.g. ``- ```rust``), closed by a fence of the same character at least as long
//!   with nothing after it. A backtick fence's info string may not contain a backtick. An
//!   unclosed fence runs to the end of the comment. Fence lines are never scanned for HTML
//!   comments.
//! - indented code: a non-blank line indented by 4+ spaces or by a tab (always, even where
//!   Markdown would read it as paragraph text: fail safe).
//! - block quotes: a line starting with `>` after up to 3 spaces, and the lazy continuation
//!   lines that follow it up to the next blank line (GitHub renders those inside the quote).
//! - HTML comments `<!-- ... -->`, which may span lines or appear several times on a line.
//!   Text outside them still counts: `<!-- x --> /agen stop` is a command line.
//!
//! Input normalisation: the body is read as [`markdown::strip_invisible`] leaves it, the same
//! normalisation the agent's task gets, so both read the same text: `\r\n`, `\r`, U+2028 and
//! U+2029 are line breaks, and invisible characters ([`markdown::is_invisible`]: zero-width
//! characters, bidi controls, the BOM, soft hyphens, invisible operators, tag characters and
//! the like) and terminal escapes are removed from the whole body before anything else. So a
//! line that *reads* `/agen stop` is a command even if written `/ag\u{200B}en stop`, and an
//! invisible character cannot hide a line from the code/quote/comment rules either.

use crate::markdown;

/// One parsed `/agen` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/agen <instructions>`: work on this issue (or continue on this agen PR). Instructions
    /// may be empty (bare `/agen`).
    Run { instructions: String },
    /// `/agen stop`
    Stop,
    /// `/agen retry`
    Retry,
    /// `/agen status`
    Status,
    /// `/agen help`
    Help,
    /// `/agen logs delete`: the session logs of this issue's jobs (admins only).
    LogsDelete,
}

impl Command {
    /// Short lowercase name for logs: `run`, `stop`, `retry`, `status` or `help`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run { .. } => "run",
            Command::Stop => "stop",
            Command::Retry => "retry",
            Command::Status => "status",
            Command::Help => "help",
            Command::LogsDelete => "logs delete",
        }
    }
}

/// A single-word command: what follows `/agen`, what it does, what it parses to.
struct Verb {
    name: &'static str,
    summary: &'static str,
    command: Command,
}

const TOKEN: &str = "/agen";
const RUN_FORM: &str = "/agen <instructions>";
const RUN_SUMMARY: &str = "Work on this issue (or continue on this agen PR). The rest of the \
     line and all following lines are the instructions; a bare `/agen` works from the issue alone.";

/// The verbs, in help order. The parser and [`help_markdown`] both read this table.
const VERBS: &[Verb] = &[
    Verb {
        name: "stop",
        summary: "Stop the running agen job on this issue or PR.",
        command: Command::Stop,
    },
    Verb {
        name: "retry",
        summary: "Run the last agen job on this issue or PR again.",
        command: Command::Retry,
    },
    Verb {
        name: "status",
        summary: "Show what agen is doing on this issue or PR.",
        command: Command::Status,
    },
    Verb {
        name: "logs delete",
        summary: "Delete the session logs of this issue's agen jobs (admins of the repository).",
        command: Command::LogsDelete,
    },
    Verb {
        name: "help",
        summary: "Show this help.",
        command: Command::Help,
    },
];

/// The first command in a comment body, if any.
#[must_use]
pub fn parse(body: &str) -> Option<Command> {
    let lines = scan(&markdown::strip_invisible(body));
    let (index, rest) = lines.iter().enumerate().find_map(|(index, line)| {
        let text = line.text.as_deref().filter(|_| line.eligible)?;
        command_rest(text).map(|rest| (index, rest))
    })?;
    if let Some(verb) = VERBS.iter().find(|verb| verb.name == rest) {
        return Some(verb.command.clone());
    }
    let following = lines
        .iter()
        .skip(index + 1)
        .filter_map(|l| l.text.as_deref());
    let instructions = std::iter::once(rest)
        .chain(following)
        .collect::<Vec<_>>()
        .join("\n");
    Some(Command::Run {
        instructions: instructions.trim().to_string(),
    })
}

/// Markdown for `/agen help`, built from the verb table.
#[must_use]
pub fn help_markdown() -> String {
    let intro = "**agen commands.** Start a line of your comment with one of these. Only the \
         first `/agen` line counts; lines in code blocks, quotes and HTML comments are ignored.";
    let verbs = VERBS
        .iter()
        .map(|verb| format!("| `{TOKEN} {}` | {} |", verb.name, verb.summary));
    let rows = std::iter::once(format!("| `{RUN_FORM}` | {RUN_SUMMARY} |")).chain(verbs);
    let table = rows.collect::<Vec<_>>().join("\n");
    format!("{intro}\n\n| Command | What it does |\n| --- | --- |\n{table}\n")
}

/// A line of the body after HTML comments are removed. `text` is `None` when the line held
/// only comment; `eligible` says whether it may be a command line at all.
struct Line {
    text: Option<String>,
    eligible: bool,
}

/// An open code fence. `indent` is the column of the enclosing list item's content (0 at
/// top level); the closing fence may be indented up to 3 spaces beyond it.
#[derive(Clone, Copy)]
struct Fence {
    ch: char,
    len: usize,
    indent: usize,
}

/// Classifies every line, tracking fences, multi-line HTML comments and quotes.
fn scan(body: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut fence: Option<Fence> = None;
    let mut in_comment = false;
    let mut prev_quoted = false;
    for raw in body.split('\n') {
        if let Some(open) = fence {
            if closes(raw, open) {
                fence = None;
            }
            let text = Some(raw.to_string());
            lines.push(Line {
                text,
                eligible: false,
            });
            continue;
        }
        let Some(text) = strip_comments(raw, &mut in_comment) else {
            // A comment-only line neither starts nor ends a quote's lazy continuation.
            lines.push(Line {
                text: None,
                eligible: false,
            });
            continue;
        };
        let blank = text.trim().is_empty();
        let quoted = starts_quote(&text) || (prev_quoted && !blank);
        prev_quoted = quoted;
        fence = if quoted { None } else { opening_fence(&text) };
        let eligible = !blank && !quoted && fence.is_none() && strip_indent(&text).is_some();
        lines.push(Line {
            text: Some(text),
            eligible,
        });
    }
    lines
}

/// Removes `<!-- ... -->` from the line, carrying an unclosed comment over to the next line.
/// `None` when the line touched a comment and nothing but whitespace is left.
fn strip_comments(line: &str, in_comment: &mut bool) -> Option<String> {
    let mut visible = String::new();
    let mut rest = line;
    let mut touched = *in_comment;
    loop {
        if *in_comment {
            let Some((_, after)) = rest.split_once("-->") else {
                break;
            };
            rest = after;
            *in_comment = false;
        } else if let Some((before, after)) = rest.split_once("<!--") {
            visible.push_str(before);
            rest = after;
            *in_comment = true;
            touched = true;
        } else {
            visible.push_str(rest);
            break;
        }
    }
    (!touched || !visible.trim().is_empty()).then_some(visible)
}

/// The line without its up-to-3-space indent; `None` for indented code (4+ spaces or a tab).
fn strip_indent(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches(' ');
    (line.len() - rest.len() <= 3 && !rest.starts_with('\t')).then_some(rest)
}

fn starts_quote(line: &str) -> bool {
    strip_indent(line).is_some_and(|rest| rest.starts_with('>'))
}

/// What follows the `/agen` token (trimmed), if this line is a command line.
fn command_rest(line: &str) -> Option<&str> {
    let rest = strip_indent(line)?.strip_prefix(TOKEN)?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

/// Strips one list marker (`-`, `*`, `+`, `1.`, `1)`) and the spaces after it.
fn strip_list_marker(line: &str) -> Option<&str> {
    let digits = line.trim_start_matches(|c: char| c.is_ascii_digit());
    let after = if digits.len() < line.len() {
        digits.strip_prefix(['.', ')'])?
    } else {
        line.strip_prefix(['-', '*', '+'])?
    };
    let content = after.trim_start_matches(' ');
    (content.len() < after.len()).then_some(content)
}

fn opening_fence(line: &str) -> Option<Fence> {
    let mut body = strip_indent(line)?;
    let mut indent = 0;
    while let Some(content) = strip_list_marker(body) {
        body = content;
        indent = line.len() - content.len();
    }
    let ch = body.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let info = body.trim_start_matches(ch);
    let len = body.len() - info.len();
    (len >= 3 && !(ch == '`' && info.contains('`'))).then_some(Fence { ch, len, indent })
}

fn closes(line: &str, fence: Fence) -> bool {
    let body = line.trim_start_matches(' ');
    let after = body.trim_start_matches(fence.ch);
    line.len() - body.len() <= fence.indent + 3
        && body.len() - after.len() >= fence.len
        && after.trim().is_empty()
}

#[cfg(test)]
mod tests;
