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
mod tests;
