//! agen pushes only to `refs/heads/agen/*` (invariant 5): [`AgenBranch`] can only hold such
//! a name, and the push itself checks the destination again right before git runs.

use super::branch::{AgenBranch, PREFIX};
use super::git::GitToken;
use super::job::JobWorkspace;
use super::{check_clone_url, check_sha, WorkspaceError};

/// The guard before every push: the destination is a valid `refs/heads/agen/…` ref.
fn check_destination(dest: &str) -> Result<(), WorkspaceError> {
    let refused = || {
        WorkspaceError::Refused(format!(
            "push to {dest:?}: agen pushes only to refs/heads/agen/*"
        ))
    };
    let branch = dest.strip_prefix("refs/heads/").ok_or_else(refused)?;
    if !branch.starts_with(PREFIX) || AgenBranch::new(branch).is_err() {
        return Err(refused());
    }
    Ok(())
}

impl JobWorkspace {
    /// Pushes `commit_sha` to `branch` on the remote, without force (agen branches are never
    /// reused, so anything but a new branch or a fast-forward is an error).
    pub fn push(
        &self,
        clone_url: &str,
        token: &GitToken,
        branch: &AgenBranch,
        commit_sha: &str,
    ) -> Result<(), WorkspaceError> {
        self.push_to(clone_url, token, &branch.refname(), commit_sha, false)
    }

    /// Pushes `commit_sha` to `branch`, replacing whatever it held: only for a job run again
    /// after a crash, whose earlier run may already have pushed to the job's own branch.
    pub fn push_replacing(
        &self,
        clone_url: &str,
        token: &GitToken,
        branch: &AgenBranch,
        commit_sha: &str,
    ) -> Result<(), WorkspaceError> {
        self.push_to(clone_url, token, &branch.refname(), commit_sha, true)
    }

    pub(crate) fn push_to(
        &self,
        clone_url: &str,
        token: &GitToken,
        dest: &str,
        commit_sha: &str,
        force: bool,
    ) -> Result<(), WorkspaceError> {
        check_clone_url(clone_url)?;
        check_sha(commit_sha)?;
        check_destination(dest)?;
        let force = if force { "+" } else { "" };
        self.git
            .cmd(Some(&self.git_dir))
            .token(token)
            .args(["push", "--quiet", "--no-verify", "--", clone_url])
            .arg(format!("{force}{commit_sha}:{dest}"))
            .run()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
