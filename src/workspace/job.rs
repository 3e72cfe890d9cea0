//! A job's workspace: `jobs/<job>/git` (agen's, trusted) and `jobs/<job>/work` (lent to the
//! sandbox). Removed when the [`JobWorkspace`] is dropped, whatever happened.
//!
//! The two directories come from a spare (see `spare.rs`) when one is ready at the base
//! commit, else they are built on the spot (see `build.rs`).

use std::fs;
use std::path::{Path, PathBuf};

use super::git::{Git, GitCmd};
use super::mirror::Mirror;
use super::{build, fsutil, spare};
use super::{WorkspaceError, Workspaces};
use crate::ids::{JobId, RepoId};

pub struct JobWorkspace {
    pub(crate) dir: PathBuf,
    pub(crate) git_dir: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) base_sha: String,
    pub(crate) git: Git,
    /// The tree the job's setup steps left, once [`JobWorkspace::mark_setup`] recorded it.
    pub(crate) setup_tree: Option<String>,
    // Held (locked) for the life of the workspace, so sweeps leave it alone.
    _lock: fsutil::Lock,
}

impl std::fmt::Debug for JobWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobWorkspace")
            .field("dir", &self.dir)
            .field("base_sha", &self.base_sha)
            .finish()
    }
}

impl JobWorkspace {
    pub(crate) fn create(
        owner: &Workspaces,
        mirror: &Mirror<'_>,
        repo: RepoId,
        job: JobId,
        clone_url: &str,
        base_sha: &str,
    ) -> Result<JobWorkspace, WorkspaceError> {
        let (root, git) = (owner.root.as_path(), &owner.git);
        let dir = root.join("jobs").join(job.to_string());
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |e| WorkspaceError::io(what, e)
        };
        if fs::create_dir(&dir).is_err() {
            // A leftover of this job (crash, retry): reuse the id once nobody holds it.
            let held = fsutil::lock(&dir.join("lock"), false).map_err(io(&dir))?;
            if held.is_none() {
                return Err(WorkspaceError::Refused(format!(
                    "job {job} workspace in use"
                )));
            }
            fsutil::remove_tree(&dir).map_err(io(&dir))?;
            fs::create_dir(&dir).map_err(io(&dir))?;
        }
        let lock = fsutil::lock(&dir.join("lock"), false)
            .map_err(io(&dir))?
            .ok_or_else(|| WorkspaceError::Refused(format!("job {job} workspace in use")))?;
        // From here on, Drop removes the directory on every error path.
        let ws = JobWorkspace {
            git_dir: dir.join("git"),
            work: dir.join("work"),
            dir,
            base_sha: base_sha.to_string(),
            git: git.clone(),
            setup_tree: None,
            _lock: lock,
        };
        let spared = owner.spares && spare::take(root, repo, base_sha, &ws.dir)?;
        if !spared {
            build::build(
                &ws.git,
                mirror.dir(),
                &ws.git_dir,
                &ws.work,
                clone_url,
                base_sha,
            )?;
        }
        Ok(ws)
    }

    /// The directory to lend to the sandbox.
    pub fn worktree(&self) -> &Path {
        &self.work
    }

    /// The commit the workspace started from.
    pub fn base_sha(&self) -> &str {
        &self.base_sha
    }

    /// Git on agen's own git dir and the job's worktree (see [`build::trusted`]).
    pub(crate) fn trusted(&self) -> GitCmd<'_> {
        build::trusted(&self.git, &self.git_dir, &self.work)
    }
}

impl Drop for JobWorkspace {
    fn drop(&mut self) {
        if let Err(e) = fsutil::remove_tree(&self.dir) {
            tracing::warn!(path = %self.dir.display(), "cannot remove job workspace: {e}");
        }
    }
}

/// Removes every job directory no live workspace holds the lock of. Returns how many.
pub(crate) fn sweep(jobs: &Path) -> usize {
    let Ok(entries) = fs::read_dir(jobs) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            removed += usize::from(fs::remove_file(&path).is_ok());
            continue;
        }
        // Locking (creating the lock file if a crash left none) keeps a job that starts
        // now from getting this directory while it is being removed.
        let free = fsutil::lock(&path.join("lock"), false);
        if let Ok(Some(_held)) = free {
            if fsutil::remove_tree(&path).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}
