//! Building a workspace from a mirror that has the commit: two things done side by side,
//! - checkout of the base tree into `work/` by agen's git dir, which reads the mirror's
//!   objects through alternates (nothing is copied; parallel checkout where cores allow);
//! - the agent's `work/.git`: a shallow, self-contained repository holding exactly the
//!   base commit and its tree, written as one pack by `pack-objects` in the mirror (it
//!   reuses the mirror's compressed objects and writes the pack index itself: no
//!   `index-pack`, no history copied). Copies, never hardlinks: a hardlink would let the
//!   agent write into the mirror.
//!
//! Then agen's index is copied to `work/.git/index`, so `git status` in the sandbox is
//! clean at once. The agent's repository is on a local branch `agen/work` at the base
//! commit (agents that commit on their own can; agen ignores their commits and takes the
//! worktree as it is), and its `origin` is the plain clone URL. Both repositories compare
//! files by size and mtime only (`core.checkStat=minimal`, `core.trustctime=false`):
//! lending the worktree to the sandbox changes owners and ctimes.

use std::ffi::OsString;
use std::fs;
use std::path::Path;

use super::fsutil;
use super::git::{Git, GitCmd};
use super::WorkspaceError;

/// The local branch of the agent's repository.
const AGENT_BRANCH: &str = "agen/work";

/// Git on agen's own git dir for a job and the job's worktree. The worktree's `.git` is
/// never read as a repository; `safe.directory=*` because the worktree may belong to the
/// sandbox's uid for a while, and this git dir is agen's own.
pub(crate) fn trusted<'a>(git: &'a Git, git_dir: &Path, work: &Path) -> GitCmd<'a> {
    let mut work_tree = OsString::from("--work-tree=");
    work_tree.push(work);
    git.cmd(Some(git_dir))
        .arg(work_tree)
        .config("core.bare=false")
        .config("core.trustctime=false")
        .config("core.checkStat=minimal")
        .config("core.untrackedCache=false")
        .config("core.splitIndex=false")
        .config("checkout.workers=0")
        .config("safe.directory=*")
        // Throw-away data: a crash ends the job anyway.
        .config("core.fsync=none")
}

fn io(what: &Path) -> impl FnOnce(std::io::Error) -> WorkspaceError {
    let what = what.display().to_string();
    move |e| WorkspaceError::io(what, e)
}

/// Creates `git_dir` and `work` (neither may exist) at `sha`, which `mirror` must have.
pub(crate) fn build(
    git: &Git,
    mirror: &Path,
    git_dir: &Path,
    work: &Path,
    clone_url: &str,
    sha: &str,
) -> Result<(), WorkspaceError> {
    git.cmd(None)
        .args(["init", "--quiet", "--bare", "--template="])
        .arg(git_dir)
        .run()?;
    let mut alternates = mirror.join("objects").into_os_string().into_encoded_bytes();
    alternates.push(b'\n');
    let info = git_dir.join("objects/info/alternates");
    fsutil::write(&info, &alternates).map_err(io(&info))?;
    let head = git_dir.join("HEAD");
    fs::write(&head, format!("{sha}\n")).map_err(io(&head))?;
    fs::create_dir(work).map_err(io(work))?;

    let (checkout, agent_repo) = std::thread::scope(|s| {
        let checkout = s.spawn(|| {
            trusted(git, git_dir, work)
                .args(["read-tree", "--reset", "-u", sha])
                .run()
        });
        let agent_repo = write_agent_repo(git, mirror, work, clone_url, sha);
        (checkout.join(), agent_repo)
    });
    checkout.unwrap_or_else(|_| Err(WorkspaceError::Refused("checkout panicked".into())))?;
    agent_repo?;
    let index = work.join(".git/index");
    fs::copy(git_dir.join("index"), &index).map_err(io(&index))?;
    Ok(())
}

fn write_agent_repo(
    git: &Git,
    mirror: &Path,
    work: &Path,
    clone_url: &str,
    sha: &str,
) -> Result<(), WorkspaceError> {
    let dot_git = work.join(".git");
    git.cmd(None)
        .args(["init", "--quiet", "--bare", "--template="])
        .arg(&dot_git)
        .run()?;
    let objects = git
        .cmd(Some(mirror))
        .args(["rev-list", "--objects", "--no-walk", sha])
        .run()?;
    git.cmd(Some(mirror))
        .config("core.fsync=none")
        .args(["pack-objects", "--quiet", "--window=0"])
        .arg(dot_git.join("objects/pack/pack"))
        .stdin(objects)
        .run()?;
    let files = [
        ("config", agent_config(clone_url)),
        ("shallow", format!("{sha}\n")),
        ("HEAD", format!("ref: refs/heads/{AGENT_BRANCH}\n")),
        (&format!("refs/heads/{AGENT_BRANCH}"), format!("{sha}\n")),
    ];
    for (name, contents) in files {
        let path = dot_git.join(name);
        fsutil::write(&path, contents.as_bytes()).map_err(io(&path))?;
    }
    Ok(())
}

/// The agent's `.git/config`. `clone_url` holds no quote, backslash or control character
/// (checked by `check_clone_url`), so quoting it is enough.
fn agent_config(clone_url: &str) -> String {
    format!(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\
         \tlogallrefupdates = true\n\tcheckStat = minimal\n\ttrustctime = false\n\
         [remote \"origin\"]\n\turl = \"{clone_url}\"\n\
         \tfetch = +refs/heads/*:refs/remotes/origin/*\n"
    )
}
