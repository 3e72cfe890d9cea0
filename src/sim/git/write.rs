//! Writing to bare repositories, the simulator's own writes: seeding one from a directory,
//! `put_file`, `set_ref` and the REST ref writes. Each ends by refreshing the refs view,
//! so it always equals the bare repository's refs.

use std::path::Path;

use anyhow::{bail, Context};

use super::store::{Bare, ZERO};
use super::{projects, sync_refs};
use crate::sim::state::Repo;
use crate::sim::Simulator;

impl Simulator {
    /// Turns a repository added with `add_repo` into a git-backed one: a bare repository
    /// (owned by the simulator, removed with it) whose default branch holds every file of
    /// `dir` (executable bits kept) in one commit by `Octo Cat <octocat@example.com>` at a
    /// fixed date, so the sha is the same on every run. Files given to `put_file` before
    /// are committed on top, one commit each; refs set before are dropped. Returns the
    /// default branch's sha. From then on the repository is served over smart HTTP at
    /// [`Simulator::git_url`].
    pub fn seed_git_repo(&self, full_name: &str, dir: &Path) -> anyhow::Result<String> {
        let root = self.shared().git_root.clone();
        let mut st = self.shared().lock();
        let repo = st
            .repo_by_full_name(full_name)
            .and_then(|id| st.repos.get_mut(&id))
            .with_context(|| {
                format!("seed_git_repo: no repository {full_name} (add_repo first)")
            })?;
        if repo.git_dir.is_some() {
            bail!("seed_git_repo: {full_name} is git-backed already");
        }
        if !dir.is_dir() {
            bail!("seed_git_repo: {} is not a directory", dir.display());
        }
        let git_dir = projects(&root)
            .join(&repo.owner)
            .join(format!("{}.git", repo.name));
        let bare = Bare {
            root: &root,
            dir: &git_dir,
        };
        let seeded = bare.init(&repo.default_branch).and_then(|()| {
            let mut sha = bare.commit_dir(&repo.default_branch, dir, "Initial commit\n")?;
            for (path, content) in &repo.files {
                let message = format!("Add {path}\n");
                sha = bare.commit_file(&repo.default_branch, path, content, &message)?;
            }
            Ok(sha)
        });
        let sha = match seeded {
            Ok(sha) => sha,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&git_dir);
                return Err(e.context(format!("seed_git_repo {full_name}")));
            }
        };
        repo.files.clear();
        repo.git_dir = Some(git_dir);
        sync_refs(&root, repo)?;
        Ok(sha)
    }
}

fn bare<'a>(root: &'a Path, repo: &'a Repo) -> Option<Bare<'a>> {
    repo.git_dir.as_deref().map(|dir| Bare { root, dir })
}

/// Commits `content` at `path` on the default branch of a git-backed repository.
pub(crate) fn put_file(
    root: &Path,
    repo: &mut Repo,
    path: &str,
    content: &[u8],
) -> anyhow::Result<String> {
    let b = bare(root, repo).context("not git-backed")?;
    let sha = b.commit_file(
        &repo.default_branch,
        path,
        content,
        &format!("Update {path}\n"),
    )?;
    sync_refs(root, repo)?;
    Ok(sha)
}

/// Whether `sha` names a commit of the repository.
pub(crate) fn has_commit(root: &Path, repo: &Repo, sha: &str) -> bool {
    bare(root, repo)
        .and_then(|b| b.resolve(sha))
        .is_some_and(|s| s == sha)
}

/// Points `name` at `sha` (`create`: only if it does not exist yet), or deletes it.
pub(crate) fn write_ref(
    root: &Path,
    repo: &mut Repo,
    name: &str,
    sha: Option<&str>,
    create: bool,
) -> anyhow::Result<()> {
    let b = bare(root, repo).context("not git-backed")?;
    match sha {
        Some(sha) => b.set_ref(name, sha, create.then_some(ZERO))?,
        None => b.delete_ref(name)?,
    }
    sync_refs(root, repo)
}
