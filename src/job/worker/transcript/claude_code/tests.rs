use super::super::CLIP_CHARS;
use super::super::{read, EventFormat};

const SAMPLE: &str = include_str!("../claude_code_sample.jsonl");

fn same(s: &str) -> String {
    s.to_string()
}

#[test]
fn a_recorded_claude_code_run_reads_as_steps() {
    let t = read(EventFormat::ClaudeCodeStreamJson, SAMPLE, &same);
    eprintln!("{}", t.text);
    assert!(
        t.text
            .contains("session started (model claude-sonnet-4-5)\n"),
        "{}",
        t.text
    );
    assert!(t.text.contains("tool Read greeting.txt\n"), "{}", t.text);
    assert!(t.text.contains("tool Write greeting.txt\n"), "{}", t.text);
    assert!(
        t.text
            .contains("model: I made greeting.txt greet the world.\n"),
        "{}",
        t.text
    );
    assert!(
        t.text
            .contains("agent done (success): I made greeting.txt greet the world.\n"),
        "{}",
        t.text
    );
    assert!(!t.text.contains("\"type\""), "{}", t.text);
    assert_eq!(
        t.last_message.as_deref(),
        Some("I made greeting.txt greet the world.")
    );
    assert_eq!(t.error, None);
}

#[test]
fn an_error_result_is_a_failure_with_its_text() {
    let out = r#"{"type":"system","subtype":"init","model":"claude-opus-4-1"}
{"type":"assistant","message":{"content":[{"type":"text","text":"API Error: 400 agen: model refused"}]}}
{"type":"result","subtype":"success","is_error":true,"result":"API Error: 400 agen: model refused"}
"#;
    let t = read(EventFormat::ClaudeCodeStreamJson, out, &same);
    assert_eq!(
        t.error.as_deref(),
        Some("API Error: 400 agen: model refused")
    );
    assert!(
        t.text.contains("agent failed (success): API Error: 400"),
        "{}",
        t.text
    );
}

#[test]
fn other_lines_stay_and_unknown_events_are_skipped() {
    let out = "npm warn something\n{\"type\":\"stream_event\",\"x\":1}\n[1,2]\n{not json\n\
                   {\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\
                   \"name\":\"Bash\",\"input\":{\"command\":\"curl https://example.org/\"}},\
                   {\"type\":\"tool_use\",\"name\":\"Mystery\",\"input\":{\"a\":1}}]}}\n\
                   {\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\",\
                   \"is_error\":true,\"content\":[{\"type\":\"text\",\"text\":\"exit 56\\nline 2\"}]}]}}\n";
    let t = read(EventFormat::ClaudeCodeStreamJson, out, &same);
    assert_eq!(
        t.text,
        "npm warn something\n[1,2]\n{not json\ntool Bash $ curl https://example.org/\n\
             tool Mystery {\"a\":1}\n  error: exit 56\n    line 2\n"
    );
    assert_eq!(t.last_message, None);
    assert_eq!(t.error, None);
}

#[test]
fn long_strings_are_clipped_after_redaction() {
    let secret = "s3cr3t";
    let long = format!("{}{secret}", "x".repeat(CLIP_CHARS - 3));
    let out = serde_json::json!({"type":"user","message":{"content":[
            {"type":"tool_result","content": long}]}})
    .to_string();
    let t = read(EventFormat::ClaudeCodeStreamJson, &out, &|s: &str| {
        s.replace(secret, "[redacted]")
    });
    assert!(!t.text.contains("s3c"), "{}", t.text);
    assert!(t.text.contains("xxx[re… (7 more characters)"), "{}", t.text);
}
