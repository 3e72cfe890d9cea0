//! Spares, concurrent jobs on one mirror, and a worktree lent to another uid.

use std::fs;
use std::path::Path;

use super::super::{Identity, Workspaces};
use super::support::{git, Fixture};
use crate::ids::{JobId, RepoId};

#[test]
fn the_next_job_at_the_same_commit_takes_the_spare() {
    let f = Fixture::new();
    drop(f.prepare(1));
    f.ws.wait_for_spares();
    let spare = f.ws.root().join("spares/1");
    assert_eq!(
        fs::read_to_string(spare.join("sha")).unwrap().trim(),
        f.base
    );
    fs::write(spare.join("work/.marker"), "from the spare").unwrap();

    let ws = f.prepare(2);
    assert!(
        ws.worktree().join(".marker").exists(),
        "the spare was not taken"
    );
    fs::remove_file(ws.worktree().join(".marker")).unwrap();
    // As sound as a workspace built on the spot.
    assert_eq!(git(ws.worktree(), &["status", "--porcelain"]), "");
    assert_eq!(git(ws.worktree(), &["log", "--format=%H"]), f.base);
    assert!(ws.stage().unwrap().is_empty());
    fs::write(ws.worktree().join("README.md"), "# spare\n").unwrap();
    let changes = ws.stage().unwrap();
    assert_eq!(changes.files.len(), 1);
    let sha = ws
        .commit("from a spare", &Identity::github_bot("agen", 1))
        .unwrap();
    assert_eq!(git(&ws.git_dir, &["rev-parse", &format!("{sha}^")]), f.base);
    drop(ws);

    // Another commit: the spare (rebuilt at the base) is not taken.
    f.ws.wait_for_spares();
    fs::write(spare.join("work/.marker"), "from the spare").unwrap();
    let newer = f.push_commit("new.txt", "new\n", "main");
    let ws =
        f.ws.prepare(RepoId(1), JobId(3), &f.url, &f.token, &newer)
            .unwrap();
    assert!(!ws.worktree().join(".marker").exists());
    assert!(ws.worktree().join("new.txt").exists());
    f.ws.wait_for_spares();
    assert_eq!(fs::read_to_string(spare.join("sha")).unwrap().trim(), newer);
    assert!(!spare.join("work/.marker").exists());
}

#[test]
fn without_spares_nothing_is_built_ahead() {
    let f = Fixture::new();
    let ws = Workspaces::new(f.tmp.path().join("plain"))
        .unwrap()
        .without_spares();
    let job = ws
        .prepare(RepoId(1), JobId(1), &f.url, &f.token, &f.base)
        .unwrap();
    ws.wait_for_spares();
    assert_eq!(fs::read_dir(ws.root().join("spares")).unwrap().count(), 0);
    assert_eq!(git(job.worktree(), &["status", "--porcelain"]), "");
}

#[test]
fn concurrent_jobs_share_a_fresh_mirror() {
    let f = Fixture::new();
    std::thread::scope(|s| {
        let jobs: Vec<_> = (1..=4)
            .map(|job| {
                let f = &f;
                s.spawn(move || {
                    let ws =
                        f.ws.prepare(RepoId(1), JobId(job), &f.url, &f.token, &f.base);
                    git(ws.unwrap().worktree(), &["status", "--porcelain"])
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.join().unwrap(), "");
        }
    });
    assert_eq!(
        git(&f.ws.root().join("mirrors/1.git"), &["rev-parse", "main"]),
        f.base
    );
}

fn chown_tree(dir: &Path, uid: u32) {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid)).unwrap();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            chown_tree(&entry.path(), uid);
        } else {
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(uid)).unwrap();
        }
    }
}

#[test]
fn a_worktree_lent_to_another_uid_stages_only_real_changes() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: needs root to chown");
        return;
    }
    let f = Fixture::new();
    let ws = f.prepare(1);
    chown_tree(ws.worktree(), 54321);
    fs::write(ws.worktree().join("src/lib.rs"), "fn changed() {}\n").unwrap();
    // Still owned by the other uid: agen's git works.
    let changes = ws.stage().unwrap();
    assert_eq!(changes.files.len(), 1, "{changes:#?}");
    chown_tree(ws.worktree(), 0);
    let changes = ws.stage().unwrap();
    assert_eq!(changes.files.len(), 1, "{changes:#?}");
    assert_eq!(changes.files[0].path, "src/lib.rs");
    assert_eq!(
        git(ws.worktree(), &["status", "--porcelain"]),
        "M src/lib.rs"
    );
}
