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
