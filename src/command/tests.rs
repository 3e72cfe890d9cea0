use super::*;

fn run(instructions: &str) -> Option<Command> {
    Some(Command::Run {
        instructions: instructions.to_string(),
    })
}

/// The command parser and the agent's task read a comment the same way: for every
/// character, `/ag?en stop` is the stop command exactly when the task would show
/// `/agen stop` (the character is one both drop), and plain text otherwise.
#[test]
fn parser_and_task_agree_on_every_invisible_character() {
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let body = format!("/ag{c}en stop");
        let task_reads = crate::markdown::sanitize(&body) == "/agen stop";
        let parsed = parse(&body);
        assert_eq!(
            parsed == Some(Command::Stop),
            task_reads,
            "U+{:04X}",
            c as u32
        );
    }
}

#[test]
fn table() {
    use Command::{Help, Retry, Status, Stop};
    let cases: Vec<(&str, Option<Command>)> = vec![
        ("/agen stop", Some(Stop)),
        ("/agen retry", Some(Retry)),
        ("/agen status", Some(Status)),
        ("/agen help", Some(Help)),
        ("/agen stop   \t", Some(Stop)),
        ("/agen\tstatus", Some(Status)),
        ("/agen stop now", run("stop now")),
        ("/agen help me fix the login", run("help me fix the login")),
        ("/agen STOP", run("STOP")),
        ("/agen stop\nbecause it loops", Some(Stop)),
        ("/agen", run("")),
        ("/agen   \n\n  ", run("")),
        ("/agen fix the login bug  ", run("fix the login bug")),
        (
            "/agen fix it\nin login.rs\n\nadd a test\n",
            run("fix it\nin login.rs\n\nadd a test"),
        ),
        ("/agen\n\nfix the bug", run("fix the bug")),
        ("Thanks!\n\n/agen fix it", run("fix it")),
        ("/agenda for today", None),
        ("/agen-x", None),
        ("/AGEN stop", None),
        ("please /agen stop", None),
        ("`/agen stop`", None),
        ("- /agen stop", None),
        ("```\n/agen stop\n```", None),
        ("~~~\n/agen stop\n~~~", None),
        ("```rust\n/agen stop\n```", None),
        ("```\ncode\n```\n/agen status", Some(Status)),
        (
            "````\n/agen stop\n```\n/agen retry\n````\n/agen status",
            Some(Status),
        ),
        ("```\n/agen stop\n~~~\n/agen retry", None),
        ("```\n/agen stop\n``` x\n/agen retry", None),
        ("```\n/agen stop", None),
        ("   ```\n/agen stop\n   ```\n/agen help", Some(Help)),
        ("```a`b\n/agen stop", Some(Stop)),
        ("- ```\n  /agen stop\n  ```\n/agen retry", Some(Retry)),
        ("    /agen stop", None),
        ("\t/agen stop", None),
        ("  \t/agen stop", None),
        ("   /agen stop", Some(Stop)),
        ("> /agen stop", None),
        (">/agen stop", None),
        ("> > /agen stop", None),
        ("> quoted\n/agen stop", None),
        ("> /agen stop\n\n/agen retry", Some(Retry)),
        ("<!-- /agen stop -->", None),
        ("<!--\n/agen stop\n-->", None),
        ("<!-- x --> /agen stop", Some(Stop)),
        ("<!-- a --><!-- b -->/agen retry", Some(Retry)),
        ("/agen stop <!-- why -->", Some(Stop)),
        ("<!--\n```\n-->\n/agen stop", Some(Stop)),
        ("```\n<!--\n```\n/agen stop", Some(Stop)),
        ("/ag\u{200B}en stop", Some(Stop)),
        ("/agen\u{2060} stop\u{200D}", Some(Stop)),
        ("\u{202E}/agen stop", Some(Stop)),
        ("\u{2066}    /agen stop", None),
        (">\u{200B} /agen stop", None),
        ("/agen stop\r\n", Some(Stop)),
        ("/agen fix\r\nmore\r\n", run("fix\nmore")),
        ("/agen fix\rmore", run("fix\nmore")),
        ("\u{FEFF}/agen status", Some(Status)),
        ("/agen stop\n/agen retry", Some(Stop)),
        ("hi\n/agen fix one\n/agen stop", run("fix one\n/agen stop")),
        (
            "/agen fix\n<!-- template\nnoise\n-->\ndone",
            run("fix\ndone"),
        ),
        (
            "/agen fix this:\n```html\n<!-- keep -->\n```\n> context",
            run("fix this:\n```html\n<!-- keep -->\n```\n> context"),
        ),
        ("", None),
        ("  \n\t\n", None),
    ];
    assert!(cases.len() >= 40);
    let failures: Vec<String> = cases
        .iter()
        .filter(|(input, expected)| parse(input) != *expected)
        .map(|(input, expected)| {
            format!("{input:?}: expected {expected:?}, got {:?}", parse(input))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn table_and_parser_agree() {
    for verb in VERBS {
        let line = format!("{TOKEN} {}", verb.name);
        assert_eq!(parse(&line), Some(verb.command.clone()), "{line}");
        assert_eq!(verb.command.name(), verb.name);
    }
    assert_eq!(run("x").map(|c| c.name()), Some("run"));
}

#[test]
fn help_lists_every_verb_and_the_run_form() {
    let help = help_markdown();
    assert!(help.contains(&format!("`{RUN_FORM}`")));
    for verb in VERBS {
        assert!(
            help.contains(&format!("`{TOKEN} {}`", verb.name)),
            "{}",
            verb.name
        );
        assert!(help.contains(verb.summary));
    }
}
