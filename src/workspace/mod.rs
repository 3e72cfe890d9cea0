//! Git outside the sandbox: a mirror per repository, a fresh workspace per job, and the
//! commit and push of what the agent changed: git credentials never reach the agent, and
//! only `agen/…` branches are ever pushed.
//!
//! Layout under the data dir:
//!
//! ```text
//! home/                  empty: HOME and working directory of every git run
//! mirrors/<repo>.git     bare mirror of the repository's branches (+ commits fetched by sha)
//! mirrors/<repo>.lock    flock: one fetch per mirror at a time, across agen processes
//! jobs/<job>/lock        flock held while the job's workspace lives (sweeps skip it)
//! jobs/<job>/git         agen's trusted git dir for the job (alternates into the mirror)
//! jobs/<job>/work        the worktree the sandbox mounts; work/.git is the agent's own repo
//! spares/<repo>/         a workspace built ahead for the next job (see `spare.rs`)
//! ```
//!
//! Two repositories look at `work/`: the agent's `work/.git` (self-contained, shallow, so git
//! works inside the sandbox where the mirror is not visible) and agen's `jobs/<job>/git`.
//! The agent may rewrite everything in `work/.git` (hooks, `core.fsmonitor`, filters), so
//! agen never runs git with it; every git run of agen goes through `git.rs` (no hooks, no
//! fsmonitor, no user config). The token reaches git only through the environment of the
//! process that fetches or pushes ([`GitToken`]).

mod branch;
mod build;
mod changes;
mod commit;
mod fsutil;
mod git;
mod job;
mod mirror;
mod push;
mod retention;
mod spare;
mod stage;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

pub use branch::{branch_for_issue, AgenBranch};
pub use changes::{AddedLine, ChangeStatus, ChangedFile, Changes, MAX_LINES_BYTES};
pub use commit::Identity;
pub use fsutil::remove_tree;
pub use git::GitToken;
pub use job::JobWorkspace;

use crate::ids::{JobId, RepoId};

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// `stderr` is the end of git's error output, with the token scrubbed out.
    #[error("`{command}` failed (exit {code:?}): {stderr}")]
    Git {
        command: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("commit {0} is not in the repository")]
    MissingCommit(String),
    #[error("refused: {0}")]
    Refused(String),
}

impl WorkspaceError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> WorkspaceError {
        WorkspaceError::Io {
            what: what.into(),
            source,
        }
    }

    fn invalid(what: &'static str, detail: impl Into<String>) -> WorkspaceError {
        WorkspaceError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

/// The mirrors and job workspaces under one data dir. Call from blocking threads.
#[derive(Debug)]
pub struct Workspaces {
    root: PathBuf,
    git: git::Git,
    spares: bool,
    /// Spares being built in the background; joined on drop.
    refills: Mutex<Vec<JoinHandle<()>>>,
}

impl Workspaces {
    /// Creates the layout under `root` (the data dir) if it is missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Workspaces, WorkspaceError> {
        let root: PathBuf = root.into();
        for dir in ["home", "mirrors", "jobs", "spares"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path)
                .map_err(|e| WorkspaceError::io(path.display().to_string(), e))?;
        }
        let root = root
            .canonicalize()
            .map_err(|e| WorkspaceError::io(root.display().to_string(), e))?;
        Ok(Workspaces {
            git: git::Git::new(root.join("home")),
            root,
            spares: true,
            refills: Mutex::new(Vec::new()),
        })
    }

    /// No spares: every workspace is built when its job asks for it (less background work
    /// and disk, slower start).
    pub fn without_spares(mut self) -> Workspaces {
        self.spares = false;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes job workspaces no live job holds (left by a crash), and spares. Returns how
    /// many job workspaces it removed.
    pub fn sweep_leftovers(&self) -> usize {
        spare::sweep(&self.root);
        job::sweep(&self.root.join("jobs"))
    }

    /// A fresh workspace for `job` at `base_sha`: fetches into the repository's mirror only
    /// when the mirror lacks that commit, then takes the repository's spare if it is at
    /// that commit or checks the commit out under `jobs/<job>/`; then starts building the
    /// next spare.
    pub fn prepare(
        &self,
        repo: RepoId,
        job: JobId,
        clone_url: &str,
        token: &GitToken,
        base_sha: &str,
    ) -> Result<JobWorkspace, WorkspaceError> {
        check_clone_url(clone_url)?;
        check_sha(base_sha)?;
        let mirror = mirror::Mirror::new(&self.root, &self.git, repo);
        mirror.ensure_commit(clone_url, token, base_sha)?;
        let ws = job::JobWorkspace::create(self, &mirror, repo, job, clone_url, base_sha)?;
        if self.spares {
            self.refill_spare(repo, clone_url, base_sha);
        }
        Ok(ws)
    }

    fn refill_spare(&self, repo: RepoId, clone_url: &str, sha: &str) {
        let (root, git) = (self.root.clone(), self.git.clone());
        let (url, sha) = (clone_url.to_string(), sha.to_string());
        let spawned = std::thread::Builder::new()
            .name("agen-spare".into())
            .spawn(move || {
                let mirror = mirror::Mirror::new(&root, &git, repo);
                if let Err(e) = spare::refill(&root, &git, mirror.dir(), repo, &url, &sha) {
                    tracing::warn!(%repo, "cannot build a spare workspace: {e}");
                }
            });
        let mut refills = self.refills.lock().unwrap_or_else(|e| e.into_inner());
        refills.retain(|h| !h.is_finished());
        match spawned {
            Ok(handle) => refills.push(handle),
            Err(e) => tracing::warn!("cannot start building a spare workspace: {e}"),
        }
    }

    /// Waits for the spares being built.
    pub fn wait_for_spares(&self) {
        let handles = std::mem::take(&mut *self.refills.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }

    /// Names (`agen/…`) of the `agen/` branches the remote has, for [`branch_for_issue`].
    pub fn remote_agen_branches(
        &self,
        clone_url: &str,
        token: &GitToken,
    ) -> Result<Vec<String>, WorkspaceError> {
        check_clone_url(clone_url)?;
        mirror::remote_agen_branches(&self.git, clone_url, token)
    }
}

impl Drop for Workspaces {
    fn drop(&mut self) {
        self.wait_for_spares();
    }
}

/// A full, lowercase hexadecimal object name (SHA-1 or SHA-256): never an option or a
/// revision expression when it lands in argv.
pub(crate) fn check_sha(sha: &str) -> Result<(), WorkspaceError> {
    let hex = sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex && (sha.len() == 40 || sha.len() == 64) {
        Ok(())
    } else {
        Err(WorkspaceError::invalid("commit sha", sha))
    }
}

/// `http(s)://` (or `file://`, for tests and local setups) without credentials or anything
/// git could read as an option.
pub(crate) fn check_clone_url(url: &str) -> Result<(), WorkspaceError> {
    let rest = ["https://", "http://", "file://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .ok_or_else(|| WorkspaceError::invalid("clone url", "not http(s):// or file://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        // Never echo it: it may hold a credential.
        return Err(WorkspaceError::invalid("clone url", "has user info"));
    }
    // Also written, quoted, into the agent's `.git/config`: no quotes or backslashes.
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '\\')
    {
        return Err(WorkspaceError::invalid(
            "clone url",
            "has spaces, quotes or controls",
        ));
    }
    Ok(())
}
