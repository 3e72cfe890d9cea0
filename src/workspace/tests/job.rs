//! Preparing, sweeping and removing job workspaces; where the token goes.

use std::fs;
use std::path::Path;

use base64::Engine as _;

use super::super::{GitToken, WorkspaceError};
use super::support::{git, Fixture, HttpGit, TOKEN};
use crate::ids::{JobId, RepoId};

#[test]
fn prepare_checks_out_the_base_with_a_working_git_inside() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    let work = ws.worktree();
    assert_eq!(ws.base_sha(), f.base);
    assert_eq!(
        fs::read_to_string(work.join("src/lib.rs")).unwrap(),
        super::support::LIB_RS
    );
    assert_eq!(
        fs::read_link(work.join("link")).unwrap(),
        Path::new("README.md")
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(work.join("run.sh")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o100, 0o100);
    // The agent's own repository works without the mirror and without agen's git dir.
    assert_eq!(git(work, &["status", "--porcelain"]), "");
    assert_eq!(git(work, &["log", "--format=%H"]), f.base);
    assert_eq!(
        git(work, &["rev-parse", "--abbrev-ref", "HEAD"]),
        "agen/work"
    );
    assert_eq!(git(work, &["remote", "get-url", "origin"]), f.url);
    git(work, &["fsck", "--no-progress"]);
    assert!(!work.join(".git/objects/info/alternates").exists());
    fs::write(work.join("README.md"), "# changed\n").unwrap();
    assert_eq!(git(work, &["status", "--porcelain"]), "M README.md");
    assert!(git(work, &["diff"]).contains("+# changed"));
}

#[test]
fn prepare_again_uses_the_mirror_without_fetching() {
    let f = Fixture::new();
    drop(f.prepare(1));
    // The remote is gone: only a prepare that does not fetch can succeed.
    fs::rename(&f.source, f.tmp.path().join("gone.git")).unwrap();
    let ws = f.prepare(2);
    assert_eq!(git(ws.worktree(), &["log", "--format=%H"]), f.base);
    // And a commit the mirror lacks does need the remote (so the skip above was real).
    let err =
        f.ws.prepare(RepoId(1), JobId(3), &f.url, &f.token, &"1".repeat(40))
            .unwrap_err();
    assert!(matches!(err, WorkspaceError::Git { .. }), "{err}");
}

#[test]
fn prepare_fetches_new_commits_and_commits_outside_branches() {
    let f = Fixture::new();
    drop(f.prepare(1));
    let newer = f.push_commit("new.txt", "new\n", "main");
    let ws =
        f.ws.prepare(RepoId(1), JobId(2), &f.url, &f.token, &newer)
            .unwrap();
    assert_eq!(
        fs::read_to_string(ws.worktree().join("new.txt")).unwrap(),
        "new\n"
    );
    // Only a pull-request ref points at this one: fetched by sha.
    let pr = f.push_commit("pr.txt", "pr\n", "HEAD:refs/pull/1/head");
    let ws =
        f.ws.prepare(RepoId(1), JobId(3), &f.url, &f.token, &pr)
            .unwrap();
    assert_eq!(git(ws.worktree(), &["log", "--format=%H"]), pr);
    let missing = "2".repeat(40);
    let err =
        f.ws.prepare(RepoId(1), JobId(4), &f.url, &f.token, &missing)
            .unwrap_err();
    assert!(err.to_string().contains("fetch"), "{err}");
}

#[test]
fn drop_removes_the_job_and_sweep_removes_only_leftovers() {
    let f = Fixture::new();
    let jobs = f.ws.root().join("jobs");
    let live = f.prepare(1);
    // A crash leftover with files the agent made hard to remove, one without a lock file,
    // and a stray file.
    fs::create_dir_all(jobs.join("7/work/deep")).unwrap();
    fs::write(jobs.join("7/lock"), "").unwrap();
    fs::write(jobs.join("7/work/deep/f"), "x").unwrap();
    fs::create_dir_all(jobs.join("8/work")).unwrap();
    fs::write(jobs.join("stray"), "").unwrap();
    assert_eq!(f.ws.sweep_leftovers(), 3);
    assert_eq!(fs::read_dir(&jobs).unwrap().count(), 1);
    assert!(live.worktree().join("README.md").exists());
    // A second workspace for a live job is refused; a leftover id is reused.
    let err =
        f.ws.prepare(RepoId(1), JobId(1), &f.url, &f.token, &f.base)
            .unwrap_err();
    assert!(matches!(err, WorkspaceError::Refused(_)), "{err}");
    let dir = jobs.join("1");
    drop(live);
    assert!(!dir.exists());
    fs::create_dir_all(dir.join("work/junk")).unwrap();
    let again = f.prepare(1);
    assert!(!again.worktree().join("junk").exists());
    drop(again);
    assert_eq!(fs::read_dir(&jobs).unwrap().count(), 0);
}

#[test]
fn bad_inputs_are_refused_before_git_runs() {
    let f = Fixture::new();
    let prepare = |url: &str, sha: &str| f.ws.prepare(RepoId(1), JobId(1), url, &f.token, sha);
    for sha in [
        "HEAD",
        "--upload-pack=touch",
        &f.base[..39],
        &f.base.to_uppercase(),
    ] {
        assert!(
            matches!(prepare(&f.url, sha), Err(WorkspaceError::Invalid { .. })),
            "{sha}"
        );
    }
    for url in [
        "https://x-access-token:secret@github.com/o/r.git",
        "ssh://github.com/o/r.git",
        "--upload-pack=touch /tmp/x",
        "https://github.com/o/r.git\n",
        "https://github.com/o/\"r.git",
    ] {
        let err = prepare(url, &f.base).unwrap_err();
        assert!(matches!(err, WorkspaceError::Invalid { .. }), "{url}");
        assert!(!err.to_string().contains("secret"));
    }
}

/// Every file under `dir`, read as bytes.
fn all_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            all_files(&path, out);
        } else if kind.is_file() {
            out.push((path.display().to_string(), fs::read(&path).unwrap()));
        }
    }
}

fn header_value(token: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    format!("Basic {b64}")
}

#[test]
fn the_token_goes_in_a_header_and_is_written_nowhere() {
    let f = Fixture::new();
    let server = HttpGit::start(f.source.parent().unwrap(), Some(header_value(TOKEN)));
    let url = format!("{}/source.git", server.base_url);
    let ws =
        f.ws.prepare(RepoId(1), JobId(1), &url, &f.token, &f.base)
            .unwrap();
    fs::write(ws.worktree().join("README.md"), "# changed\n").unwrap();
    ws.stage().unwrap();
    let sha = ws
        .commit("change", &super::super::Identity::github_bot("agen", 42))
        .unwrap();
    let branch = super::super::AgenBranch::new("agen/http").unwrap();
    ws.push(&url, &f.token, &branch, &sha).unwrap();
    assert_eq!(git(&f.source, &["rev-parse", "refs/heads/agen/http"]), sha);
    assert_eq!(
        f.ws.remote_agen_branches(&url, &f.token).unwrap(),
        ["agen/http"]
    );
    let seen = server.seen_auth.lock().unwrap().clone();
    assert!(
        seen.len() >= 3 && seen.iter().all(|h| *h == header_value(TOKEN)),
        "{seen:?}"
    );

    let mut files = Vec::new();
    all_files(f.ws.root(), &mut files);
    assert!(files.len() > 10);
    let b64 = &header_value(TOKEN)["Basic ".len()..];
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(TOKEN) && !text.contains(b64),
            "token in {path}"
        );
    }
    let config = fs::read_to_string(ws.worktree().join(".git/config")).unwrap();
    assert!(config.contains(&url) && !config.contains(TOKEN));

    // A wrong token is refused by the server, and the error does not show it.
    let wrong = GitToken::new("ghs_WrongToken");
    let err =
        f.ws.prepare(RepoId(2), JobId(2), &url, &wrong, &f.base)
            .unwrap_err();
    assert!(!err.to_string().contains("ghs_WrongToken"), "{err}");
    assert!(!format!("{err:?}").contains("ghs_WrongToken"));
}

#[test]
fn token_is_redacted_in_debug_display_and_scrubbed_text() {
    let token = GitToken::new(TOKEN);
    assert_eq!(format!("{token:?} {token}"), "GitToken(***) ***");
    let b64 = &header_value(TOKEN)["Basic ".len()..];
    let text = format!("fatal: {TOKEN} and {b64}");
    assert_eq!(token.scrub(&text), "fatal: *** and ***");
}
