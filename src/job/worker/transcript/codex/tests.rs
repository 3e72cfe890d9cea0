use super::super::{read, EventFormat};

const SAMPLE: &str = include_str!("../codex_sample.jsonl");

fn same(s: &str) -> String {
    s.to_string()
}

#[test]
fn a_recorded_codex_run_reads_as_steps() {
    let t = read(EventFormat::CodexJson, SAMPLE, &same);
    // Codex's lines that are not events stay; each completed item is one step.
    assert!(t.text.starts_with("WARNING: proceeding,"), "{}", t.text);
    let steps = t.text.split_once("session started\n").unwrap().1;
    assert_eq!(
        steps,
        "error: Model metadata for `gpt-5-codex` not found. Defaulting to fallback \
             metadata; this can degrade performance and cause issues.\n\
             tool shell $ /bin/bash -lc \"printf 'Hello, world\"'!'\"\\\\n' > greeting.txt\"\n\
             \x20 result:\n\
             model: I made greeting.txt greet the world.\n\
             agent done (20584 input, 19 output tokens)\n"
    );
    assert_eq!(
        t.last_message.as_deref(),
        Some("I made greeting.txt greet the world.")
    );
    assert_eq!(t.error, None);
}

#[test]
fn a_failed_turn_is_a_failure_with_its_message() {
    let out = r#"{"type":"thread.started","thread_id":"t"}
{"type":"turn.started"}
{"type":"error","message":"Reconnecting... 1/5"}
{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"false","aggregated_output":"no\n","exit_code":1,"status":"failed"}}
{"type":"item.completed","item":{"id":"item_1","type":"file_change","changes":[{"path":"/work/src/a.rs","kind":"update"},{"path":"b.txt","kind":"add"}],"status":"completed"}}
{"type":"turn.failed","error":{"message":"unexpected status 400 Bad Request: agen: model refused"}}
"#;
    let t = read(EventFormat::CodexJson, out, &same);
    assert_eq!(
        t.text,
        "session started\nerror: Reconnecting... 1/5\ntool shell $ false\n  \
             error (exit 1): no\ntool update src/a.rs\ntool add b.txt\nagent failed: \
             unexpected status 400 Bad Request: agen: model refused\n"
    );
    assert_eq!(
        t.error.as_deref(),
        Some("unexpected status 400 Bad Request: agen: model refused")
    );
    assert_eq!(t.last_message, None);
}
