//! Pushing over smart HTTP with the real `git` client: what lands and how it is recorded,
//! and what is refused as github.com refuses an App (read-only tokens, the default branch,
//! refs outside branches and tags, workflow files without the `workflows` permission).

use std::path::Path;

use serde_json::json;

use super::git_support::{clone, git, git_setup, seed_repo, GitEnv};
use super::*;

const ZERO: &str = "0000000000000000000000000000000000000000";

/// Writes `files` and commits them on a new branch; returns the commit's sha.
async fn commit_on(work: &Path, branch: &str, files: &[(&str, &str)]) -> String {
    assert!(git(work, &["checkout", "-q", "-b", branch]).await.0);
    for (path, content) in files {
        let file = work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    assert!(git(work, &["add", "-A"]).await.0);
    let (ok, _, err) = git(work, &["commit", "-q", "-m", "Fix the widget"]).await;
    assert!(ok, "{err}");
    git(work, &["rev-parse", "HEAD"]).await.1.trim().to_string()
}

/// `git push origin REFSPEC…`: whether it succeeded, and stderr.
async fn push(work: &Path, refspecs: &[&str]) -> (bool, String) {
    let mut args = vec!["push", "origin"];
    args.extend(refspecs);
    let (ok, _, err) = git(work, &args).await;
    (ok, err)
}

async fn cloned(env: &GitEnv, token_body: serde_json::Value) -> std::path::PathBuf {
    let token = mint(&env.sim, token_body).await;
    clone(env, Some(&token), "w").await.expect("clones")
}

#[tokio::test]
async fn a_pushed_branch_lands_and_is_recorded() {
    let env = git_setup().await;
    let work = cloned(&env, json!({})).await;
    let sha = commit_on(&work, "agen/x", &[("README.md", "fixed\n")]).await;
    let (ok, err) = push(&work, &["agen/x"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        env.sim.git_ref(PRIVATE_REPO, "refs/heads/agen/x"),
        Some(sha.clone())
    );
    let commit = env.sim.commit_at(PRIVATE_REPO, "agen/x").unwrap();
    assert_eq!(
        (commit.parents, commit.changed_paths),
        (vec![env.seed.clone()], vec!["README.md".to_string()])
    );
    assert_eq!(
        (commit.author_name.as_str(), commit.message.as_str()),
        ("agen[bot]", "Fix the widget")
    );
    assert_eq!(
        env.sim.file_at(PRIVATE_REPO, &sha, "README.md").as_deref(),
        Some(&b"fixed\n"[..])
    );
    assert_eq!(
        env.sim.writes(),
        [
            "POST /app/installations/42/access_tokens",
            "POST /acme/widgets.git/git-receive-pack"
        ]
    );
    let pushed = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("git-receive-pack"))
        .unwrap();
    assert_eq!(pushed.operation.as_deref(), Some("git/receive-pack"));
    assert_eq!(pushed.status, 200);
    let update = json!({"ref": "refs/heads/agen/x", "old": ZERO, "new": sha});
    assert_eq!(pushed.body, Some(json!({"updates": [update]})));
    let token = env.sim.tokens()[0].token.clone();
    let gh = env.sim.as_(&token);
    assert_eq!(pushed.token, Some(token.clone()));
    let got = gh.get("/repos/acme/widgets/git/ref/heads/agen/x").await;
    assert_eq!(got.json["object"]["sha"], sha);
    let pr = json!({"title": "Fix", "head": "agen/x", "base": "main"});
    let created = gh.post("/repos/acme/widgets/pulls", pr).await;
    assert_eq!(
        (created.status, &created.json["head"]["sha"]),
        (201, &json!(sha))
    );
    assert!(
        env.sim.violations().is_empty(),
        "{:?}",
        env.sim.violations()
    );
}

#[tokio::test]
async fn a_read_only_token_fetches_but_cannot_push() {
    let env = git_setup().await;
    let work = cloned(&env, json!({"permissions": {"contents": "read"}})).await;
    commit_on(&work, "agen/x", &[("README.md", "fixed\n")]).await;
    let (ok, err) = push(&work, &["agen/x"]).await;
    assert!(!ok);
    assert!(
        err.contains("Permission to acme/widgets.git denied to agen[bot]."),
        "{err}"
    );
    assert_eq!(env.sim.git_ref(PRIVATE_REPO, "refs/heads/agen/x"), None);
    assert_eq!(
        env.sim.writes(),
        ["POST /app/installations/42/access_tokens"]
    );
    assert!(env.sim.violations().is_empty());
}

#[tokio::test]
async fn the_default_branch_and_other_namespaces_are_refused() {
    let env = git_setup().await;
    let work = cloned(&env, json!({})).await;
    let sha = commit_on(&work, "work", &[("README.md", "fixed\n")]).await;
    let (ok, err) = push(&work, &["HEAD:main"]).await;
    assert!(!ok);
    assert!(
        err.contains("GH006: Protected branch update failed for refs/heads/main."),
        "{err}"
    );
    // One refused ref fails the whole push: the branch beside it is not created either.
    let (ok, _) = push(&work, &["HEAD:refs/heads/agen/ok", "HEAD:main"]).await;
    assert!(!ok);
    let (ok, err) = push(&work, &["HEAD:refs/pull/1/head"]).await;
    assert!(!ok);
    assert!(
        err.contains("only branches and tags can be pushed"),
        "{err}"
    );
    let violations = env.sim.violations();
    assert_eq!(violations.len(), 3, "{violations:?}");
    assert!(
        violations[0].contains("GH006") && violations[0].contains("git-receive-pack"),
        "{violations:?}"
    );
    assert!(violations[1].contains("refs/heads/main"), "{violations:?}");
    assert!(violations[2].contains("refs/pull/1/head"), "{violations:?}");
    assert_eq!(
        env.sim.git_ref(PRIVATE_REPO, "refs/heads/main"),
        Some(env.seed.clone())
    );
    assert_eq!(env.sim.git_ref(PRIVATE_REPO, "refs/heads/agen/ok"), None);
    assert_eq!(
        env.sim.commit_at(PRIVATE_REPO, &sha),
        None,
        "refused objects are not kept"
    );
    // Each push's ref updates are its recorded body (sorted here: git picks the order).
    let pushes: Vec<Vec<String>> = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.operation.as_deref() == Some("git/receive-pack"))
        .map(|r| {
            let updates = r
                .body
                .as_ref()
                .and_then(|b| b["updates"].as_array().cloned());
            let mut refs: Vec<String> = updates
                .unwrap_or_default()
                .iter()
                .map(|u| u["ref"].as_str().unwrap_or_default().to_string())
                .collect();
            refs.sort();
            refs
        })
        .collect();
    let expected = [
        vec!["refs/heads/main"],
        vec!["refs/heads/agen/ok", "refs/heads/main"],
        vec!["refs/pull/1/head"],
    ];
    assert_eq!(pushes, expected);
}

#[tokio::test]
async fn workflow_files_need_the_workflows_permission() {
    let env = git_setup().await;
    let work = cloned(&env, json!({})).await;
    commit_on(
        &work,
        "agen/wf",
        &[(".github/workflows/ci.yml", "on: push\n")],
    )
    .await;
    let (ok, err) = push(&work, &["agen/wf"]).await;
    assert!(!ok);
    let message = "refusing to allow a GitHub App to create or update workflow '.github/workflows/ci.yml' without 'workflows' permission";
    assert!(err.contains(message), "{err}");
    let violations = env.sim.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains(message));
    assert_eq!(env.sim.git_ref(PRIVATE_REPO, "refs/heads/agen/wf"), None);

    // The same push with the permission lands.
    let mut cfg = SimConfig::demo();
    cfg.app_permissions
        .insert("workflows".into(), "write".into());
    let sim = Simulator::start(cfg).await.unwrap();
    sim.add_installation(INSTALLATION, "acme", "Organization");
    sim.add_repo(INSTALLATION, PRIVATE_REPO, true);
    let tmp = tempfile::TempDir::new().unwrap();
    let seed = seed_repo(&sim, tmp.path());
    let allowed = GitEnv { sim, seed, tmp };
    let work = cloned(&allowed, json!({})).await;
    let sha = commit_on(
        &work,
        "agen/wf",
        &[(".github/workflows/ci.yml", "on: push\n")],
    )
    .await;
    let (ok, err) = push(&work, &["agen/wf"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        allowed.sim.git_ref(PRIVATE_REPO, "refs/heads/agen/wf"),
        Some(sha)
    );
    assert!(allowed.sim.violations().is_empty());
}
