//! Helpers for the git smart HTTP tests: a seeded git-backed repository, and the real
//! `git` client run with a clean environment that never prompts.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;

/// A git-backed `acme/widgets` seeded from a directory, and a scratch directory.
pub(crate) struct GitEnv {
    pub sim: Simulator,
    pub seed: String,
    pub tmp: TempDir,
}

pub(crate) async fn git_setup() -> GitEnv {
    let sim = setup().await;
    let tmp = TempDir::new().expect("temp dir");
    let seed = seed_repo(&sim, tmp.path());
    GitEnv { sim, seed, tmp }
}

/// Seeds `acme/widgets` with `README.md` and an executable `bin/run.sh`.
pub(crate) fn seed_repo(sim: &Simulator, tmp: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmp.join("seed");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("README.md"), "hello\n").unwrap();
    std::fs::write(dir.join("bin/run.sh"), "#!/bin/sh\necho run\n").unwrap();
    let script = dir.join("bin/run.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    sim.seed_git_repo(PRIVATE_REPO, &dir).expect("seeds")
}

/// `http://x-access-token:TOKEN@127.0.0.1:PORT/owner/name.git`, or without credentials.
pub(crate) fn url(sim: &Simulator, full_name: &str, token: Option<&str>) -> String {
    let plain = sim.git_url(full_name);
    match token {
        Some(t) => plain.replacen("http://", &format!("http://x-access-token:{t}@"), 1),
        None => plain,
    }
}

/// Runs the real git client in `dir`, with a clean environment that never prompts.
/// Returns whether it succeeded, and its stdout and stderr.
pub(crate) async fn git(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let home = dir.parent().unwrap_or(dir).join("client-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", "agen[bot]")
        .env("GIT_AUTHOR_EMAIL", "agen[bot]@users.noreply.github.com")
        .env("GIT_COMMITTER_NAME", "agen[bot]")
        .env("GIT_COMMITTER_EMAIL", "agen[bot]@users.noreply.github.com")
        .output()
        .await
        .expect("git runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Clones `acme/widgets` into `tmp/name`; returns the checkout, or git's stderr.
pub(crate) async fn clone(
    env: &GitEnv,
    token: Option<&str>,
    name: &str,
) -> Result<PathBuf, String> {
    let target = env.tmp.path().join(name);
    let url = url(&env.sim, PRIVATE_REPO, token);
    let (ok, _, err) = git(env.tmp.path(), &["clone", "-q", &url, name]).await;
    ok.then_some(target).ok_or(err)
}

/// The recorded git calls as (operation, status).
pub(crate) fn git_calls(sim: &Simulator) -> Vec<(String, u16)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.contains(".git/"))
        .map(|r| (r.operation.unwrap_or_default(), r.status))
        .collect()
}
