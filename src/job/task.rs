//! The agent's task file (`AGEN_TASK_FILE`): the issue, the instruction and, on later rounds,
//! the last pipeline failure, as Markdown. Pure: no I/O.
//!
//! Everything here except the round numbers is untrusted: anyone may open an issue on a public
//! repository, and pipeline output is whatever the repository's code prints. A person reviews
//! the issue as GitHub *renders* it, so text GitHub hides (HTML comments, invisible and bidi
//! characters) must not reach the agent either: [`sanitize`] removes it. Untrusted blocks go
//! inside fences longer than any backtick run they hold, so no text can close its block and
//! pose as one of agen's own headings.

#[cfg(test)]
mod tests;

/// Removes what a reader of the rendered Markdown cannot see: HTML comments (`<!-- … -->`,
/// an unterminated one runs to the end of the text) and invisible or control characters
/// (see [`strip_invisible`]). Comments are removed everywhere, code spans and blocks included:
/// guessing GitHub's idea of "code" wrong would let hidden text through, while stripping a
/// visible `<!--` from code only costs the agent a little context.
pub fn sanitize(text: &str) -> String {
    // Invisible characters go first, so `<!-\u{200B}-` cannot dodge the comment rule.
    let visible = strip_invisible(text);
    let mut out = String::with_capacity(visible.len());
    let mut rest = visible.as_str();
    while let Some((before, after)) = rest.split_once("<!--") {
        out.push_str(before);
        rest = after.split_once("-->").map_or("", |(_, tail)| tail);
    }
    out.push_str(rest);
    out
}

/// Normalises line breaks (`\r\n`, `\r`, U+2028, U+2029 become `\n`), removes terminal escape
/// sequences and drops every character that renders as nothing or reorders text:
/// [`is_hidden`]. A zero-width joiner between two emoji is kept (it builds 👩‍💻 and the like).
pub fn strip_invisible(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\u{1B}' => skip_escape(&mut chars),
            '\u{200D}'
                if out.chars().next_back().is_some_and(is_emoji_part)
                    && chars.peek().is_some_and(|n| is_emoji(*n)) =>
            {
                out.push(c)
            }
            c if is_hidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Characters that render as nothing, reorder what follows, or smuggle data.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        // C0 controls except tab and newline, DEL, C1 controls.
        '\0'..='\u{8}' | '\u{B}'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        // Soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul and Khmer fillers,
        // Mongolian vowel separator.
        | '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180E}' | '\u{3164}' | '\u{FFA0}'
        // Zero-width space, non-joiner, joiner; LRM, RLM; bidi embeddings and overrides.
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        // Word joiner, invisible operators, bidi isolates, deprecated format characters.
        | '\u{2060}'..='\u{206F}'
        // Variation selectors that can carry hidden bytes (FE0E/FE0F style emoji: kept).
        | '\u{FE00}'..='\u{FE0D}' | '\u{E0100}'..='\u{E01EF}'
        // Byte order mark, interlinear annotations, shorthand format controls, tag characters.
        | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Pictographs, roughly: enough to keep joined emoji sequences whole.
fn is_emoji(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{1F000}'..='\u{1FAFF}')
}

/// What may end an emoji before a joiner: the pictograph, its presentation selector or its
/// skin tone (the tones lie inside [`is_emoji`]'s range).
fn is_emoji_part(c: char) -> bool {
    is_emoji(c) || c == '\u{FE0F}'
}

/// Skips an escape sequence after ESC: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or
/// `ESC ] … ESC \`), or the one character of a two-character sequence.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1B}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// The untrusted parts of one round's task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInput<'a> {
    pub repo: &'a str,
    pub issue: u64,
    pub title: &'a str,
    pub body: &'a str,
    /// The `/agen …` instructions of the person who started the job (may be empty).
    pub instruction: &'a str,
    pub round: u32,
    pub max_rounds: u32,
    /// The pipeline failure of the previous round; `None` on the first round.
    pub previous_failure: Option<PipelineFailure<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineFailure<'a> {
    pub command: &'a str,
    pub exit_code: i32,
    /// The end of the command's output, e.g. from [`tail`].
    pub output_tail: &'a str,
}

/// The task file for one round.
pub fn render(input: &TaskInput) -> String {
    let title = one_line(&sanitize(input.title));
    let body = sanitize(input.body);
    let instruction = sanitize(input.instruction);
    let mut out = format!(
        "# Task: {} issue #{} (round {} of {})\n\n",
        code_span(input.repo),
        input.issue,
        input.round,
        input.max_rounds
    );
    out.push_str("Resolve the issue below by editing the files in this repository. The issue ");
    out.push_str("and the instruction are quoted as their authors wrote them, minus the text ");
    out.push_str("GitHub does not show.\n\n## The issue\n\n");
    out.push_str(&format!("**Title:** {}\n\n", code_span(&title)));
    if body.trim().is_empty() {
        out.push_str("The issue has no description.\n\n");
    } else {
        out.push_str(&fenced("markdown", &body));
    }
    out.push_str("## The instruction\n\n");
    if instruction.trim().is_empty() {
        out.push_str("No further instruction: resolve the issue as described.\n\n");
    } else {
        out.push_str("From the person who started this job:\n\n");
        out.push_str(&fenced("markdown", &instruction));
    }
    if let Some(failure) = &input.previous_failure {
        out.push_str("## The pipeline failed after the last round\n\n");
        out.push_str(&format!(
            "This command exited with status {}:\n\n",
            failure.exit_code
        ));
        out.push_str(&fenced("sh", &strip_invisible(failure.command)));
        out.push_str("The end of its output:\n\n");
        out.push_str(&fenced("text", &strip_invisible(failure.output_tail)));
        out.push_str("Fix the cause; agen runs the pipeline again after this round.\n");
    }
    out
}

/// The last `max_bytes` of `output` as text (invalid UTF-8 becomes U+FFFD). When bytes were
/// cut, the cut falls on a character boundary and a first line says how much was dropped.
pub fn tail(output: &[u8], max_bytes: usize) -> String {
    if output.len() <= max_bytes {
        return String::from_utf8_lossy(output).into_owned();
    }
    let mut start = output.len() - max_bytes;
    // Step past continuation bytes (at most 3) so no character is split.
    let limit = (start + 3).min(output.len());
    while start < limit && output[start] & 0xC0 == 0x80 {
        start += 1;
    }
    format!(
        "[… {start} earlier bytes cut]\n{}",
        String::from_utf8_lossy(&output[start..])
    )
}

/// A fenced code block whose backtick fence is longer than any backtick run in `text`, so
/// nothing inside can close it.
pub fn fenced(info: &str, text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{info}\n{text}{newline}{fence}\n\n")
}

/// An inline code span for untrusted text (a path, a key, a title), on one line, with a
/// backtick fence nothing inside can close. Mentions and Markdown in it stay inert.
pub fn code_span(text: &str) -> String {
    let text = one_line(&strip_invisible(text));
    if text.is_empty() {
        return "` `".into();
    }
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}
