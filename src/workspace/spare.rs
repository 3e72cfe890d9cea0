//! Spares: after a job's workspace is prepared, a second one at the same commit is built in
//! the background, so the next job of that repository at that commit (the usual case: jobs
//! start from the default branch's head) gets its workspace by two renames instead of a
//! checkout. A spare is built by agen and never lent to anyone before a job takes it, so
//! it is as fresh as one built on the spot.
//!
//! `spares/<repo>/{sha,git,work}` is a ready spare; `spares/<repo>.build` one being built
//! (renamed into place only when complete); `spares/<repo>.lock` is held by whoever builds
//! or takes the spare. Nobody waits for that lock: a job that finds it held builds its own.

use std::fs;
use std::path::{Path, PathBuf};

use super::git::Git;
use super::{build, fsutil, WorkspaceError};
use crate::ids::RepoId;

struct Paths {
    ready: PathBuf,
    building: PathBuf,
    lock: PathBuf,
}

fn paths(root: &Path, repo: RepoId) -> Paths {
    let spares = root.join("spares");
    Paths {
        ready: spares.join(repo.to_string()),
        building: spares.join(format!("{repo}.build")),
        lock: spares.join(format!("{repo}.lock")),
    }
}

fn io(what: &Path) -> impl FnOnce(std::io::Error) -> WorkspaceError {
    let what = what.display().to_string();
    move |e| WorkspaceError::io(what, e)
}

fn ready_sha(ready: &Path) -> Option<String> {
    let sha = fs::read_to_string(ready.join("sha")).ok()?;
    Some(sha.trim().to_string())
}

/// Moves the spare of `repo` into `job_dir` (as `git/` and `work/`) when it is ready at
/// `sha` and nobody holds it. Returns whether it did.
pub(crate) fn take(
    root: &Path,
    repo: RepoId,
    sha: &str,
    job_dir: &Path,
) -> Result<bool, WorkspaceError> {
    let p = paths(root, repo);
    let Ok(Some(_lock)) = fsutil::lock(&p.lock, false) else {
        return Ok(false);
    };
    if ready_sha(&p.ready).as_deref() != Some(sha) {
        return Ok(false);
    }
    for name in ["git", "work"] {
        let to = job_dir.join(name);
        fs::rename(p.ready.join(name), &to).map_err(io(&to))?;
    }
    fsutil::remove_tree(&p.ready).map_err(io(&p.ready))?;
    Ok(true)
}

/// Builds the spare of `repo` at `sha` (which `mirror` has) unless it is ready at that
/// commit already or someone holds it.
pub(crate) fn refill(
    root: &Path,
    git: &Git,
    mirror: &Path,
    repo: RepoId,
    clone_url: &str,
    sha: &str,
) -> Result<(), WorkspaceError> {
    let p = paths(root, repo);
    let Some(_lock) = fsutil::lock(&p.lock, false).map_err(io(&p.lock))? else {
        return Ok(());
    };
    if ready_sha(&p.ready).as_deref() == Some(sha) {
        return Ok(());
    }
    fsutil::remove_tree(&p.ready).map_err(io(&p.ready))?;
    fsutil::remove_tree(&p.building).map_err(io(&p.building))?;
    fs::create_dir(&p.building).map_err(io(&p.building))?;
    let (git_dir, work) = (p.building.join("git"), p.building.join("work"));
    let built = build::build(git, mirror, &git_dir, &work, clone_url, sha).and_then(|()| {
        let sha_file = p.building.join("sha");
        fs::write(&sha_file, format!("{sha}\n")).map_err(io(&sha_file))?;
        fs::rename(&p.building, &p.ready).map_err(io(&p.ready))
    });
    if built.is_err() {
        let _ = fsutil::remove_tree(&p.building);
    }
    built
}

/// Removes every spare nobody holds (at start: they are cheap to rebuild, and this keeps
/// spares of repositories agen no longer serves from piling up).
pub(crate) fn sweep(root: &Path) {
    let spares = root.join("spares");
    let Ok(entries) = fs::read_dir(&spares) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".lock") {
            continue;
        }
        let repo = name.trim_end_matches(".build");
        if let Ok(Some(_held)) = fsutil::lock(&spares.join(format!("{repo}.lock")), false) {
            let _ = fsutil::remove_tree(&entry.path());
        }
    }
}
