use super::*;

#[test]
fn output_within_the_limit_is_kept_whole() {
    let text = "é".repeat(MAX_OUTPUT_CHARS);
    assert_eq!(clamp_output(&text), text);
}

#[test]
fn output_over_the_limit_is_cut_and_marked() {
    let out = clamp_output(&"x".repeat(MAX_OUTPUT_CHARS + 1));
    assert_eq!(out.chars().count(), MAX_OUTPUT_CHARS);
    assert!(out.ends_with("(truncated: the whole output is in the session log)"));
}
