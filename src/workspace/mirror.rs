//! One bare mirror per repository: fetched only when it lacks the commit a job needs.
//!
//! Jobs borrow the mirror's objects through `objects/info/alternates`, so nothing here may
//! ever delete an object: automatic gc and maintenance are off (see `git.rs`), fetches only
//! add packs, and `--prune` removes branch refs, never objects. Readers need no lock (git
//! copes with packs appearing); only init + fetch hold `mirrors/<repo>.lock`.

use std::path::{Path, PathBuf};

use super::fsutil;
use super::git::{Git, GitToken};
use super::WorkspaceError;
use crate::ids::RepoId;

pub(crate) struct Mirror<'a> {
    git: &'a Git,
    dir: PathBuf,
    lock: PathBuf,
}

impl<'a> Mirror<'a> {
    pub(crate) fn new(root: &Path, git: &'a Git, repo: RepoId) -> Mirror<'a> {
        let mirrors = root.join("mirrors");
        Mirror {
            git,
            dir: mirrors.join(format!("{repo}.git")),
            lock: mirrors.join(format!("{repo}.lock")),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes sure the mirror has `sha` (and everything it needs): nothing to do when it
    /// already does; else fetch all branches, and if `sha` is on none of them (a pull
    /// request head, a deleted branch), fetch `sha` itself.
    pub(crate) fn ensure_commit(
        &self,
        url: &str,
        token: &GitToken,
        sha: &str,
    ) -> Result<(), WorkspaceError> {
        if self.dir.join("HEAD").is_file() && self.has_commit(sha)? {
            return Ok(());
        }
        let _lock = fsutil::lock(&self.lock, true)
            .map_err(|e| WorkspaceError::io(self.lock.display().to_string(), e))?;
        // Another job may have fetched it while this one waited for the lock.
        if !self.dir.join("HEAD").is_file() {
            self.git
                .cmd(None)
                .args(["init", "--quiet", "--bare", "--template="])
                .arg(&self.dir)
                .run()?;
        } else if self.has_commit(sha)? {
            return Ok(());
        }
        self.fetch(url, token, &["+refs/heads/*:refs/heads/*"], true)?;
        if self.has_commit(sha)? {
            return Ok(());
        }
        self.fetch(url, token, &[sha], false)?;
        if self.has_commit(sha)? {
            Ok(())
        } else {
            Err(WorkspaceError::MissingCommit(sha.to_string()))
        }
    }

    pub(crate) fn has_commit(&self, sha: &str) -> Result<bool, WorkspaceError> {
        self.git
            .cmd(Some(&self.dir))
            .args(["cat-file", "-e"])
            .arg(format!("{sha}^{{commit}}"))
            .succeeds()
    }

    fn fetch(
        &self,
        url: &str,
        token: &GitToken,
        refspecs: &[&str],
        prune: bool,
    ) -> Result<(), WorkspaceError> {
        let mut cmd = self
            .git
            .cmd(Some(&self.dir))
            .token(token)
            // One pack per fetch rather than thousands of loose objects.
            .config("fetch.unpackLimit=1")
            .args(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head"]);
        if prune {
            cmd = cmd.arg("--prune");
        }
        cmd.arg("--").arg(url).args(refspecs).run()?;
        Ok(())
    }
}

/// `agen/…` branch names on the remote (`git ls-remote`, token in the environment).
pub(crate) fn remote_agen_branches(
    git: &Git,
    url: &str,
    token: &GitToken,
) -> Result<Vec<String>, WorkspaceError> {
    let out = git
        .cmd(None)
        .token(token)
        .args([
            "ls-remote",
            "--heads",
            "--refs",
            "--",
            url,
            "refs/heads/agen/*",
        ])
        .run()?;
    let mut names: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|line| line.split('\t').nth(1))
        .filter_map(|name| name.strip_prefix("refs/heads/"))
        .filter(|name| name.starts_with("agen/"))
        .map(str::to_string)
        .collect();
    names.sort();
    Ok(names)
}
