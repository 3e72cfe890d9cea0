//! Git-backed repositories: a real bare repository per opted-in simulated repository,
//! served over git smart HTTP like github.com (`/{owner}/{repo}.git/...`).
//!
//! Every git process runs with a cleared environment (its own empty `HOME`, no system
//! config), so the host's git configuration never changes what the simulator does.

mod address;
mod cgi;
mod gate;
mod hook;
mod pktline;
mod read;
mod smart;
pub(crate) mod store;
mod write;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

pub use read::SimCommit;
pub(crate) use read::{blob_at, blob_in_commit};

use super::state::Repo;
pub(crate) use address::target;
pub(crate) use smart::serve;
pub(crate) use write::{has_commit, put_file, write_ref};

/// The fixed author and committer of the commits the simulator makes itself.
pub(crate) const AUTHOR_NAME: &str = "Octo Cat";
pub(crate) const AUTHOR_EMAIL: &str = "octocat@example.com";
/// A fixed date, so the shas of seeded commits are the same on every run.
pub(crate) const AUTHOR_DATE: &str = "1700000000 +0000";

/// The directory holding a simulator's bare repositories (`repos/{owner}/{name}.git`) and
/// the empty `HOME` its git processes see. Created on first use, removed on drop.
pub(crate) struct GitRoot {
    path: PathBuf,
}

impl GitRoot {
    /// A fresh, unique path under the system's temporary directory (not created yet).
    pub fn new() -> GitRoot {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let salt: u32 = rand::random();
        let name = format!("agen-sim-git-{}-{n}-{salt:08x}", std::process::id());
        GitRoot {
            path: std::env::temp_dir().join(name),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for GitRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where a simulator's bare repositories live, below its root (the CGI's project root).
pub(crate) fn projects(root: &Path) -> PathBuf {
    root.join("repos")
}

/// Makes a git-backed repository's refs view equal its bare repository's refs.
pub(crate) fn sync_refs(root: &Path, repo: &mut Repo) -> anyhow::Result<()> {
    if let Some(dir) = repo.git_dir.clone() {
        repo.refs = store::Bare { root, dir: &dir }.refs()?;
    }
    Ok(())
}

/// `git` with a clean environment: only `PATH`, an empty `HOME`, no system config.
pub(crate) fn command(root: &Path) -> Command {
    let home = root.join("home");
    let _ = std::fs::create_dir_all(&home);
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("LC_ALL", "C");
    cmd
}
