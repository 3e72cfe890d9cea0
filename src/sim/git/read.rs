//! Reading git-backed repositories, for tests and the REST handlers: where they are
//! served, and what a branch or commit holds.

use std::path::{Path, PathBuf};

use super::store::Bare;
use crate::sim::Simulator;

/// A commit as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCommit {
    pub sha: String,
    pub parents: Vec<String>,
    pub author_name: String,
    pub author_email: String,
    pub committer_name: String,
    pub committer_email: String,
    /// The whole message, without trailing whitespace.
    pub message: String,
    /// Paths added, modified or deleted against the first parent (every path of a root
    /// commit), sorted.
    pub changed_paths: Vec<String>,
}

impl Simulator {
    /// The smart HTTP address of a repository, `http://127.0.0.1:PORT/owner/name.git`, as
    /// `clone_url` gives it (credentials go in HTTP Basic, see `git::gate`).
    pub fn git_url(&self, full_name: &str) -> String {
        format!("{}/{full_name}.git", self.api_url())
    }

    /// The bare repository behind a git-backed repository.
    pub fn git_dir(&self, full_name: &str) -> Option<PathBuf> {
        let st = self.shared().lock();
        let id = st.repo_by_full_name(full_name)?;
        st.repos.get(&id)?.git_dir.clone()
    }

    /// A file's bytes at `rev` (a branch, tag, ref or sha); `None` when either is absent.
    pub fn file_at(&self, full_name: &str, rev: &str, path: &str) -> Option<Vec<u8>> {
        let dir = self.git_dir(full_name)?;
        let found = blob_at(&self.shared().git_root, &dir, rev, path);
        found.ok().flatten().map(|(_, bytes)| bytes)
    }

    /// The commit `rev` names (a branch, tag, ref or sha).
    pub fn commit_at(&self, full_name: &str, rev: &str) -> Option<SimCommit> {
        let dir = self.git_dir(full_name)?;
        let bare = Bare {
            root: &self.shared().git_root,
            dir: &dir,
        };
        let sha = bare.resolve(rev)?;
        let format = "--format=%H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%B";
        let out = bare.run(&["show", "-s", format, &sha], b"", &[]).ok()?;
        let text = String::from_utf8_lossy(&out);
        let fields: Vec<&str> = text.splitn(7, '\0').collect();
        let [sha, parents, an, ae, cn, ce, message] = fields.as_slice() else {
            return None;
        };
        let args = [
            "diff-tree",
            "-r",
            "-z",
            "--root",
            "--no-commit-id",
            "--name-only",
            "--diff-merges=first-parent",
            sha,
        ];
        let paths = bare.run(&args, b"", &[]).ok()?;
        let mut changed_paths: Vec<String> = paths
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        changed_paths.sort();
        Some(SimCommit {
            sha: sha.to_string(),
            parents: parents.split_whitespace().map(str::to_string).collect(),
            author_name: an.to_string(),
            author_email: ae.to_string(),
            committer_name: cn.to_string(),
            committer_email: ce.to_string(),
            message: message.trim_end().to_string(),
            changed_paths,
        })
    }
}

/// The blob at `path` in the commit `rev` names: (blob sha, bytes); `Err` when `rev` names
/// no commit, `None` when the commit has no such file.
/// The blob at `path` in commit `sha` (no ref to resolve).
pub(crate) fn blob_in_commit(
    root: &Path,
    dir: &Path,
    sha: &str,
    path: &str,
) -> Option<(String, Vec<u8>)> {
    Bare { root, dir }.blob(sha, path)
}

pub(crate) fn blob_at(
    root: &Path,
    dir: &Path,
    rev: &str,
    path: &str,
) -> Result<Option<(String, Vec<u8>)>, ()> {
    let bare = Bare { root, dir };
    let sha = bare.resolve(rev).ok_or(())?;
    Ok(bare.blob(&sha, path))
}
