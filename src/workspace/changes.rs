//! What the agent changed, staged in agen's index and described for the checks that run
//! before anything is committed (secret scan, size and binary limits, the PR body).
//!
//! What is described is exactly what [`JobWorkspace::commit`] commits: the index, not the
//! worktree. Renames are detected (`-M`), so a moved file does not count as all-new lines.

use super::job::JobWorkspace;
use super::WorkspaceError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    /// A file became a symbolic link or the other way round.
    TypeChanged,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    pub path: String,
    /// The path before a rename.
    pub old_path: Option<String>,
    pub status: ChangeStatus,
    /// Size in bytes of the new content; `None` when deleted.
    pub new_size: Option<u64>,
    pub is_symlink: bool,
    pub is_executable: bool,
    /// Git's own judgement (a NUL byte early in the content); deleted files count too.
    pub is_binary: bool,
    /// Larger than [`MAX_LINES_BYTES`]: its added lines are not in [`Changes::added_lines`]
    /// (a check that needs them must look at the file another way, or refuse it).
    pub lines_omitted: bool,
}

/// New content above this size is left out of the added lines, so that one huge generated
/// file cannot make agen hold its whole diff in memory.
pub const MAX_LINES_BYTES: u64 = 4 << 20;

/// One line the change adds, with its 1-based line number in the new file: what the secret
/// scan reads.
/// One line a commit adds, as read from the diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedLine {
    pub path: String,
    /// 1-based line number in the new file.
    pub line: u32,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub files: Vec<ChangedFile>,
    /// Lines added to text files (binary files have none here).
    pub added_lines: Vec<AddedLine>,
    /// `git diff --stat` text, for the pull request.
    pub diffstat: String,
    /// Nested repositories the agent created or changed (cloned dependencies, or a `.git`
    /// file pointing anywhere on the host): left out of the commit, since git would record
    /// them as gitlinks holding the other repository's HEAD.
    pub skipped_nested_repos: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

pub(crate) const GITLINK: &str = "160000";

impl JobWorkspace {
    pub(crate) fn diff(&self, args: &[&str]) -> Result<Vec<u8>, WorkspaceError> {
        self.diff_except(args, &[])
    }

    /// `git diff --cached -M <args> <base> -- :/ :(exclude,literal)<except>...`
    pub(crate) fn diff_except(
        &self,
        args: &[&str],
        except: &[&str],
    ) -> Result<Vec<u8>, WorkspaceError> {
        let mut cmd = self
            .trusted()
            .args(["diff", "--cached", "-M"])
            .args(args)
            .arg(&self.base_sha)
            .args(["--", ":/"]);
        for path in except {
            cmd = cmd.arg(format!(":(exclude,literal){path}"));
        }
        cmd.run()
    }

    /// Every changed path with its new mode (`--raw -z`), and the new content's size.
    pub(crate) fn raw_diff(&self) -> Result<Vec<(ChangedFile, String)>, WorkspaceError> {
        let raw = self.diff(&["--raw", "-z", "--no-abbrev"])?;
        let mut fields = raw.split(|&b| b == 0).map(|f| String::from_utf8_lossy(f));
        let mut out = Vec::new();
        let mut blobs = Vec::new();
        while let Some(meta) = fields.next() {
            // ":old_mode new_mode old_sha new_sha status"
            let meta: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
            let [_, new_mode, _, new_sha, status] = meta[..] else {
                break;
            };
            let first = fields.next().unwrap_or_default().into_owned();
            let (status, old_path, path) = match status.chars().next() {
                Some('A') => (ChangeStatus::Added, None, first),
                Some('D') => (ChangeStatus::Deleted, None, first),
                Some('T') => (ChangeStatus::TypeChanged, None, first),
                Some('R') => {
                    let to = fields.next().unwrap_or_default().into_owned();
                    (ChangeStatus::Renamed, Some(first), to)
                }
                _ => (ChangeStatus::Modified, None, first),
            };
            let deleted = status == ChangeStatus::Deleted;
            if !deleted && new_mode != GITLINK {
                blobs.push((out.len(), new_sha.to_string()));
            }
            let file = ChangedFile {
                path,
                old_path,
                status,
                new_size: None,
                is_symlink: new_mode == "120000",
                is_executable: new_mode == "100755",
                is_binary: false,
                lines_omitted: false,
            };
            out.push((file, new_mode.to_string()));
        }
        if !blobs.is_empty() {
            let names: String = blobs.iter().map(|(_, sha)| format!("{sha}\n")).collect();
            let sizes = self
                .trusted()
                .args(["cat-file", "--batch-check=%(objectsize)"])
                .stdin(names.into_bytes())
                .run()?;
            for ((i, _), size) in blobs.iter().zip(String::from_utf8_lossy(&sizes).lines()) {
                out[*i].0.new_size = size.trim().parse().ok();
            }
        }
        Ok(out)
    }

    /// `--numstat` shows `-` for both counts of a binary file.
    pub(crate) fn mark_binary(&self, files: &mut [ChangedFile]) -> Result<(), WorkspaceError> {
        let numstat = self.diff(&["--numstat", "-z"])?;
        let mut fields = numstat.split(|&b| b == 0);
        while let Some(entry) = fields.next() {
            let entry = String::from_utf8_lossy(entry);
            let mut parts = entry.splitn(3, '\t');
            let (Some(added), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                break;
            };
            // A rename: the path field is empty and the two paths follow.
            let path = if path.is_empty() {
                fields.next();
                String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned()
            } else {
                path.to_string()
            };
            if added == "-" {
                if let Some(file) = files.iter_mut().find(|f| f.path == path) {
                    file.is_binary = true;
                }
            }
        }
        Ok(())
    }
}

/// Added lines of a `-U0` patch: `+++ b/<path>` names the file, `@@ -a,b +c,d @@` the first
/// new line number, and each `+` line after it is the next line of the new file.
pub(crate) fn parse_added_lines(patch: &[u8]) -> Vec<AddedLine> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    let mut line = 0u32;
    let mut in_hunk = false;
    for raw in patch.split(|&b| b == b'\n') {
        if raw.starts_with(b"diff --git ") {
            (path, in_hunk) = (None, false);
        } else if !in_hunk && raw.starts_with(b"+++ ") {
            path = parse_new_path(&raw[4..]);
        } else if raw.starts_with(b"@@ ") {
            in_hunk = true;
            line = hunk_new_start(raw).unwrap_or(0);
        } else if in_hunk && raw.first() == Some(&b'+') {
            if let Some(path) = &path {
                let text = String::from_utf8_lossy(&raw[1..]).into_owned();
                out.push(AddedLine {
                    path: path.clone(),
                    line,
                    text,
                });
            }
            line += 1;
        }
    }
    out
}

/// `b/<path>` (maybe followed by a tab) or a C-quoted `"b/<path>"`; `/dev/null` for a deletion.
fn parse_new_path(field: &[u8]) -> Option<String> {
    let unquoted = if field.first() == Some(&b'"') {
        unquote_c(field.get(1..field.len().saturating_sub(1))?)
    } else {
        // Git ends an unquoted name holding a space with a tab (for GNU patch); a name
        // that really ends with a tab would have been quoted.
        field.strip_suffix(b"\t").unwrap_or(field).to_vec()
    };
    let path = unquoted.strip_prefix(b"b/")?;
    Some(String::from_utf8_lossy(path).into_owned())
}

fn unquote_c(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'\\' || i + 1 >= s.len() {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let c = s[i + 1];
        i += 2;
        out.push(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'a' => 7,
            b'b' => 8,
            b'f' => 12,
            b'v' => 11,
            b'r' => b'\r',
            b'0'..=b'7' => {
                let digits = &s[i - 1..(i + 2).min(s.len())];
                i += digits.len() - 1;
                digits
                    .iter()
                    .fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0'))
            }
            other => other,
        });
    }
    out
}

fn hunk_new_start(header: &[u8]) -> Option<u32> {
    let header = String::from_utf8_lossy(header);
    let plus = header.split(' ').find(|f| f.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}
