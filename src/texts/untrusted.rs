//! Text agen did not write (the agent's summary, a session's output), as it is shown on
//! GitHub: inert, quoted content. Invisible and control characters go (newline and tab stay),
//! it is cut to a length, and it sits in a code fence longer than any backtick run inside, so
//! no mention in it notifies anyone, no HTML, image or link in it renders, and nothing in it can
//! close the fence and change how agen's own text around it reads (the verdict, the links,
//! `Closes #n` are written after and outside it).

use crate::markdown::{fenced, strip_invisible};

/// The longest agent summary shown in a pull request body.
pub const MAX_SUMMARY_CHARS: usize = 10_000;

/// `text` as a fenced block (ending with a blank line), cut to `max_chars` characters.
pub fn quoted(text: &str, max_chars: usize) -> String {
    let clean = strip_invisible(text);
    let clean = clean.trim_matches('\n');
    let shown = match clean.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}\n… (cut at {max_chars} characters)", &clean[..cut]),
        None => clean.to_string(),
    };
    fenced("text", &shown)
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

#[cfg(test)]
mod tests;
