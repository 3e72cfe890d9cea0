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
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_inside_its_fence_and_renders_nothing() {
        let hostile = "Fixed it. cc @octocat @acme/security\n<img src=x onerror=alert(1)>\n\
                       ![t](https://tracker.example/p.gif)\n```\nCloses #999\n\u{1b}[31mred\u{1b}[0m\u{7}\
                       \u{202e}gnp.exe\n````` five";
        assert_eq!(
            quoted(hostile, 1000),
            "``````text\nFixed it. cc @octocat @acme/security\n<img src=x onerror=alert(1)>\n\
             ![t](https://tracker.example/p.gif)\n```\nCloses #999\nredgnp.exe\n````` five\n\
             ``````\n\n"
        );
    }

    #[test]
    fn long_text_is_cut_and_says_so() {
        let text = "é".repeat(30);
        assert_eq!(
            quoted(&text, 10),
            format!(
                "```text\n{}\n… (cut at 10 characters)\n```\n\n",
                "é".repeat(10)
            )
        );
        assert_eq!(quoted("\n\nshort\n\n", 10), "```text\nshort\n```\n\n");
    }

    #[test]
    fn tail_keeps_the_end_on_a_char_boundary() {
        let cases: [(&[u8], usize, &str); 6] = [
            (b"short", 10, "short"),
            (b"exactly", 7, "exactly"),
            (b"0123456789", 4, "[\u{2026} 6 earlier bytes cut]\n6789"),
            // "é" is two bytes; cutting inside it skips to the next character.
            ("aé b".as_bytes(), 3, "[\u{2026} 3 earlier bytes cut]\n b"),
            ("x😀yz".as_bytes(), 5, "[\u{2026} 5 earlier bytes cut]\nyz"),
            (b"ok \xff\xfe end", 20, "ok \u{FFFD}\u{FFFD} end"),
        ];
        for (output, max, want) in cases {
            assert_eq!(tail(output, max), want, "{output:?} {max}");
        }
        assert_eq!(tail(b"abc", 0), "[\u{2026} 3 earlier bytes cut]\n");
    }
}
