//! The task and summary files, in `.git/agen/` of the worktree. agen reads and writes them
//! as itself, outside the sandbox, in a directory the agent controlled a moment ago: a
//! symbolic link planted there must never make agen write over, or publish, a file of the
//! host (the agent is gone by then, so checking first cannot race it).

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Relative to the worktree; the same path inside the sandbox under `/work`.
pub const DIR: &str = ".git/agen";
pub const TASK: &str = "task.md";
pub const SUMMARY: &str = "summary.md";
/// A longer summary is not read at all.
const MAX_SUMMARY_BYTES: u64 = 64 * 1024;

/// Writes the task file afresh: whatever the agent left at `.git/agen` is removed first, and
/// the file is created new (never opened through a link).
pub fn write_task(worktree: &Path, text: &str) -> io::Result<()> {
    let git = worktree.join(".git");
    match fs::symlink_metadata(&git) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            fs::remove_file(&git)?;
            fs::create_dir(&git)?;
        }
        Err(_) => fs::create_dir(&git)?,
    }
    let dir = worktree.join(DIR);
    match fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&dir)?,
        Ok(_) => fs::remove_file(&dir)?,
        Err(_) => {}
    }
    fs::create_dir(&dir)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(TASK))?;
    file.write_all(text.as_bytes())
}

/// The summary the agent wrote, if it is a plain file of sane size reached through no link.
pub fn read_summary(worktree: &Path) -> Option<String> {
    let path = no_links(worktree, &[".git", "agen", SUMMARY])?;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_SUMMARY_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `base/parts…`, if no part of it below `base` is a symbolic link.
fn no_links(base: &Path, parts: &[&str]) -> Option<PathBuf> {
    let mut path = base.to_path_buf();
    for part in parts {
        path.push(part);
        if fs::symlink_metadata(&path).ok()?.file_type().is_symlink() {
            return None;
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
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
}
