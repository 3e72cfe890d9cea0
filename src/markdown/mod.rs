//! GitHub-flavoured Markdown as agen reads and writes it. Pure: no I/O.
//!
//! A person reviews an issue or a comment as GitHub *renders* it, so text GitHub hides (HTML
//! comments, invisible and bidi characters, terminal escapes) must count for nothing: the
//! command parser reads a comment after [`strip_invisible`], the agent's task after
//! [`sanitize`], with one list of invisible characters ([`is_invisible`]) for both. Untrusted
//! text agen shows goes into a [`code_span`] or a [`fenced`] block whose fence is longer than
//! any backtick run inside, so nothing in it can close it.

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
/// [`is_invisible`]. A zero-width joiner between two emoji is kept (it builds 👩‍💻 and the like).
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
            c if is_invisible(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Characters that render as nothing, reorder what follows, or smuggle data.
pub fn is_invisible(c: char) -> bool {
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

/// `text` on one line: every run of whitespace, line breaks included, becomes one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The longest run of backticks in `text` (0 if none).
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}
