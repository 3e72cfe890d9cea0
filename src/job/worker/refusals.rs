//! What is never pushed, checked on the staged change before anything leaves the host:
//! workflow files, files over the size limit, and secrets in any added line, binary files
//! included (git shows no lines for them, so their bytes are read and scanned as text).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::scan;
use crate::markdown::code_span;
use crate::workspace::{AddedLine, ChangeStatus, ChangedFile, Changes, MAX_LINES_BYTES};

/// Every reason the change may not be pushed, one line each (paths and line numbers, never
/// a secret's value); empty when it may.
pub fn refusals(
    worktree: &Path,
    changes: &Changes,
    max_file_bytes: u64,
    secrets: &[&str],
) -> Vec<String> {
    let sizes: Vec<(String, u64)> = changes
        .files
        .iter()
        .filter_map(|f| Some((f.path.clone(), f.new_size?)))
        .collect();
    let mut reasons: Vec<String> = scan::refused_paths(&sizes, max_file_bytes)
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut lines = changes.added_lines.clone();
    for file in changes.files.iter().filter(|f| needs_reading(f)) {
        if file.lines_omitted && file.new_size.unwrap_or(0) <= max_file_bytes {
            reasons.push(format!(
                "{} is too large to scan for secrets (over {MAX_LINES_BYTES} bytes)",
                code_span(&file.path)
            ));
            continue;
        }
        match read_plain_file(worktree, &file.path, max_file_bytes) {
            Some(bytes) => lines.extend(as_lines(&file.path, &bytes)),
            None => reasons.push(format!(
                "{} could not be read to scan it",
                code_span(&file.path)
            )),
        }
    }
    reasons.extend(scan::scan(&lines, secrets).iter().map(ToString::to_string));
    reasons
}

/// Binary or oversized new content, which the diff shows no lines of.
fn needs_reading(file: &ChangedFile) -> bool {
    (file.is_binary || file.lines_omitted)
        && !file.is_symlink
        && file.status != ChangeStatus::Deleted
        && file.new_size.is_some()
}

/// A regular file below `worktree` reached through no symbolic link, at most `max` bytes.
fn read_plain_file(worktree: &Path, path: &str, max: u64) -> Option<Vec<u8>> {
    let mut current = worktree.to_path_buf();
    for part in Path::new(path).components() {
        current.push(part);
        if std::fs::symlink_metadata(&current)
            .ok()?
            .file_type()
            .is_symlink()
        {
            return None;
        }
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&current)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

fn as_lines(path: &str, bytes: &[u8]) -> Vec<AddedLine> {
    String::from_utf8_lossy(bytes)
        .split('\n')
        .enumerate()
        .map(|(n, text)| AddedLine {
            path: path.to_string(),
            line: n as u32 + 1,
            text: text.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
