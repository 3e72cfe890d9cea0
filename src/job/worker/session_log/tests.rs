use super::*;
use crate::ids::JobId;

#[test]
fn the_log_is_redacted_and_cut_at_its_cap_with_the_cut_marked() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "ghs_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let log = SessionLog::new(dir.path(), JobId(3), vec![secret.to_string()], 1024);
    log.append("round 1: agent", format!("token {secret}\n").as_bytes());
    let first = std::fs::read_to_string(dir.path().join("job-3.log")).unwrap();
    assert!(first.starts_with("==> round 1: agent\ntoken "), "{first}");
    assert!(!first.contains(secret), "{first}");
    // A session that prints far more than the cap: what fits is kept, then the mark.
    log.append("round 1: cargo test", "é".repeat(2000).as_bytes());
    log.append("round 2: agent", b"never kept\n");
    let text = std::fs::read_to_string(dir.path().join("job-3.log")).unwrap();
    let (kept, mark) = text.split_once("\n[the session log is cut here").unwrap();
    assert_eq!(kept.len(), 1024, "the cap holds exactly");
    assert!(mark.contains("AGEN_LOG_MAX_BYTES (1024 bytes)"), "{mark}");
    assert!(!text.contains("never kept"), "{text}");
    assert_eq!(text.matches("is cut here").count(), 1);
}
