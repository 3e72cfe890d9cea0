use super::*;
use std::os::unix::fs::symlink;

#[test]
fn task_file_is_written_and_summary_read_back() {
    let work = tempfile::tempdir().unwrap();
    write_task(work.path(), "do it").unwrap();
    assert_eq!(
        fs::read_to_string(work.path().join(".git/agen/task.md")).unwrap(),
        "do it"
    );
    fs::write(work.path().join(".git/agen/summary.md"), "did it").unwrap();
    assert_eq!(read_summary(work.path()).as_deref(), Some("did it"));
}

#[test]
fn a_planted_link_never_redirects_the_task_write() {
    let work = tempfile::tempdir().unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    fs::write(victim.path(), "precious").unwrap();
    fs::create_dir_all(work.path().join(".git/agen")).unwrap();
    symlink(victim.path(), work.path().join(".git/agen/task.md")).unwrap();
    write_task(work.path(), "task").unwrap();
    assert_eq!(fs::read_to_string(victim.path()).unwrap(), "precious");

    // The directory itself replaced by a link to somewhere else.
    let elsewhere = tempfile::tempdir().unwrap();
    fs::remove_dir_all(work.path().join(".git/agen")).unwrap();
    symlink(elsewhere.path(), work.path().join(".git/agen")).unwrap();
    write_task(work.path(), "task").unwrap();
    assert!(!elsewhere.path().join("task.md").exists());
    assert!(elsewhere.path().exists(), "the link's target is left alone");
}

#[test]
fn a_summary_that_is_a_link_is_not_read() {
    let work = tempfile::tempdir().unwrap();
    let secret = tempfile::NamedTempFile::new().unwrap();
    fs::write(secret.path(), "-----BEGIN PRIVATE KEY-----").unwrap();
    write_task(work.path(), "task").unwrap();
    symlink(secret.path(), work.path().join(".git/agen/summary.md")).unwrap();
    assert_eq!(read_summary(work.path()), None);

    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("summary.md"), "from outside").unwrap();
    fs::remove_dir_all(work.path().join(".git/agen")).unwrap();
    symlink(outside.path(), work.path().join(".git/agen")).unwrap();
    assert_eq!(read_summary(work.path()), None);
}

#[test]
fn an_oversized_summary_is_not_read() {
    let work = tempfile::tempdir().unwrap();
    write_task(work.path(), "task").unwrap();
    let big = "x".repeat(MAX_SUMMARY_BYTES as usize + 1);
    fs::write(work.path().join(".git/agen/summary.md"), big).unwrap();
    assert_eq!(read_summary(work.path()), None);
}
