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
mod tests {
    use super::*;

    fn binary(path: &str, size: u64) -> ChangedFile {
        ChangedFile {
            path: path.into(),
            old_path: None,
            status: ChangeStatus::Added,
            new_size: Some(size),
            is_symlink: false,
            is_executable: false,
            is_binary: true,
            lines_omitted: false,
        }
    }

    fn changes(files: Vec<ChangedFile>) -> Changes {
        Changes {
            files,
            ..Changes::default()
        }
    }

    #[test]
    fn a_key_inside_a_binary_file_is_found() {
        let work = tempfile::tempdir().unwrap();
        let mut bytes = vec![0u8, 1, 2, 0];
        bytes.extend_from_slice(b"\nAKIAIOSFODNN7EXAMPLE\n");
        std::fs::write(work.path().join("blob.bin"), &bytes).unwrap();
        let found = refusals(
            work.path(),
            &changes(vec![binary("blob.bin", bytes.len() as u64)]),
            1 << 20,
            &[],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("`blob.bin` line 2"), "{found:?}");
        assert!(!found[0].contains("AKIA"), "{found:?}");
    }

    #[test]
    fn a_binary_file_behind_a_link_is_not_followed_and_is_refused() {
        let work = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("x.bin"), b"\0data").unwrap();
        std::os::unix::fs::symlink(outside.path(), work.path().join("dir")).unwrap();
        let found = refusals(
            work.path(),
            &changes(vec![binary("dir/x.bin", 5)]),
            1 << 20,
            &[],
        );
        assert_eq!(found, ["`dir/x.bin` could not be read to scan it"]);
    }

    #[test]
    fn a_file_too_large_to_scan_is_refused() {
        let work = tempfile::tempdir().unwrap();
        let mut big = binary("big.txt", MAX_LINES_BYTES + 1);
        big.is_binary = false;
        big.lines_omitted = true;
        let found = refusals(work.path(), &changes(vec![big]), 100 << 20, &[]);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("too large to scan"), "{found:?}");
    }

    #[test]
    fn a_clean_binary_file_passes() {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("logo.png"), b"\x89PNG\0\0\0").unwrap();
        let found = refusals(
            work.path(),
            &changes(vec![binary("logo.png", 7)]),
            1 << 20,
            &[],
        );
        assert!(found.is_empty(), "{found:?}");
    }
}
