//! Git-backed repositories over smart HTTP, driven by the real `git` client: cloning,
//! GitHub's answers to missing, foreign and read-only credentials, and the REST view.

use serde_json::json;
use tempfile::TempDir;

use super::git_support::{clone, git, git_calls, git_setup, seed_repo, url};
use super::*;

#[tokio::test]
async fn clone_with_a_token_gets_the_seeded_commit() {
    use std::os::unix::fs::PermissionsExt;
    let env = git_setup().await;
    let token = mint(&env.sim, json!({})).await;
    let work = clone(&env, Some(&token), "w").await.expect("clones");
    assert_eq!(
        std::fs::read_to_string(work.join("README.md")).unwrap(),
        "hello\n"
    );
    let mode = std::fs::metadata(work.join("bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
    let (_, head, _) = git(&work, &["rev-parse", "HEAD"]).await;
    assert_eq!(head.trim(), env.seed);
    assert_eq!(
        env.sim.git_ref(PRIVATE_REPO, "refs/heads/main"),
        Some(env.seed.clone())
    );
    let commit = env.sim.commit_at(PRIVATE_REPO, "main").expect("commit");
    assert_eq!(
        (commit.author_name.as_str(), commit.author_email.as_str()),
        ("Octo Cat", "octocat@example.com")
    );
    assert_eq!(commit.committer_name, "Octo Cat");
    assert!(commit.parents.is_empty());
    assert_eq!(commit.changed_paths, ["README.md", "bin/run.sh"]);
    // Fixed author, committer and date: the same tree seeds the same sha elsewhere.
    let other = setup().await;
    let tmp = TempDir::new().unwrap();
    assert_eq!(seed_repo(&other, tmp.path()), env.seed);
    let calls = git_calls(&env.sim);
    assert_eq!(
        calls.first(),
        Some(&("git/info-refs".to_string(), 401)),
        "{calls:?}"
    );
    assert!(
        calls.contains(&("git/info-refs".to_string(), 200)),
        "{calls:?}"
    );
    assert!(
        calls.contains(&("git/upload-pack".to_string(), 200)),
        "{calls:?}"
    );
    let fetched = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.status == 200 && r.path.ends_with("git-upload-pack"))
        .unwrap();
    assert_eq!(fetched.token.as_deref(), Some(token.as_str()));
    assert!(matches!(
        fetched.auth,
        crate::sim::AuthKind::Installation {
            installation_id: INSTALLATION,
            ..
        }
    ));
    assert_eq!(
        env.sim.writes(),
        ["POST /app/installations/42/access_tokens"]
    );
    assert!(env.sim.violations().is_empty());
}

#[tokio::test]
async fn no_credentials_are_challenged_with_401() {
    let env = git_setup().await;
    let err = clone(&env, None, "w").await.expect_err("refused");
    assert!(err.contains("terminal prompts disabled"), "{err}");
    let calls = git_calls(&env.sim);
    assert_eq!(calls, [("git/info-refs".to_string(), 401)]);
    assert_eq!(env.sim.requests()[0].auth, crate::sim::AuthKind::None);
    let reply = env
        .sim
        .anonymous()
        .without_user_agent()
        .get("/acme/widgets.git/info/refs?service=git-upload-pack")
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="GitHub""#)
    );
}

#[tokio::test]
async fn foreign_and_unknown_tokens_find_no_repository() {
    let env = git_setup().await;
    let gadgets = mint(&env.sim, json!({"repositories": ["gadgets"]})).await;
    for token in [gadgets.as_str(), "ghs_unknown"] {
        let err = clone(&env, Some(token), "w").await.expect_err("refused");
        assert!(err.contains("Repository not found."), "{err}");
    }
    let refused: Vec<_> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.status == 404)
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(matches!(
        refused[0].auth,
        crate::sim::AuthKind::Installation { .. }
    ));
    assert_eq!(refused[1].auth, crate::sim::AuthKind::Invalid);
    assert_eq!(refused[1].token.as_deref(), Some("ghs_unknown"));
    // A repository that is not git-backed has no git endpoint at all.
    let token = mint(&env.sim, json!({})).await;
    let gadgets_url = url(&env.sim, PUBLIC_REPO, Some(&token));
    let (ok, _, err) = git(env.tmp.path(), &["ls-remote", &gadgets_url]).await;
    assert!(!ok && err.contains("Repository not found."), "{err}");
}

#[tokio::test]
async fn a_token_without_contents_cannot_fetch() {
    let env = git_setup().await;
    let token = mint(&env.sim, json!({"permissions": {"issues": "write"}})).await;
    let err = clone(&env, Some(&token), "w").await.expect_err("refused");
    assert!(
        err.contains("Permission to acme/widgets.git denied to agen[bot]."),
        "{err}"
    );
    assert_eq!(
        git_calls(&env.sim).last(),
        Some(&("git/info-refs".to_string(), 403))
    );
}

#[tokio::test]
async fn put_file_commits_on_the_default_branch() {
    let env = git_setup().await;
    env.sim
        .put_file(PRIVATE_REPO, ".github/agen.yml", b"agent: echo\n");
    let main = env.sim.git_ref(PRIVATE_REPO, "refs/heads/main").unwrap();
    assert_ne!(main, env.seed);
    let commit = env.sim.commit_at(PRIVATE_REPO, &main).unwrap();
    assert_eq!(
        (commit.parents, commit.changed_paths),
        (vec![env.seed.clone()], vec![".github/agen.yml".to_string()])
    );
    assert_eq!(
        env.sim
            .file_at(PRIVATE_REPO, "main", ".github/agen.yml")
            .as_deref(),
        Some(&b"agent: echo\n"[..])
    );
    assert_eq!(
        env.sim.file_at(PRIVATE_REPO, &env.seed, ".github/agen.yml"),
        None
    );
    let token = mint(&env.sim, json!({})).await;
    let gh = env.sim.as_(&token);
    let work = clone(&env, Some(&token), "w").await.expect("clones");
    assert_eq!(
        std::fs::read(work.join(".github/agen.yml")).unwrap(),
        b"agent: echo\n"
    );
    let path = "/repos/acme/widgets/contents/.github/agen.yml";
    let got = gh.get(path).await;
    assert_eq!(got.status, 200, "{}", got.json);
    assert_eq!(got.json["content"], "YWdlbnQ6IGVjaG8K\n");
    let old = gh.get(&format!("{path}?ref={}", env.seed)).await;
    assert_eq!(old.status, 404);
    let readme = gh
        .get(&format!(
            "/repos/acme/widgets/contents/README.md?ref={}",
            env.seed
        ))
        .await;
    assert_eq!(readme.json["content"], "aGVsbG8K\n");
    let nowhere = gh.get(&format!("{path}?ref=nope")).await;
    assert_eq!(
        (nowhere.status, nowhere.message()),
        (404, "No commit found for the ref nope")
    );
}

#[tokio::test]
async fn rest_sees_the_git_repository() {
    let env = git_setup().await;
    let token = mint(&env.sim, json!({})).await;
    let gh = env.sim.as_(&token);
    let repo = gh.get("/repos/acme/widgets").await;
    assert_eq!(repo.json["clone_url"], env.sim.git_url(PRIVATE_REPO));
    assert_eq!(
        repo.json["clone_url"],
        format!("{}/acme/widgets.git", env.sim.api_url())
    );
    let refs = "/repos/acme/widgets/git/refs";
    let bogus = json!({"ref": "refs/heads/agen/y", "sha": "c".repeat(40)});
    let refused = gh.post(refs, bogus).await;
    assert_eq!(
        (refused.status, refused.message()),
        (422, "Object does not exist")
    );
    let made = json!({"ref": "refs/heads/agen/y", "sha": env.seed});
    assert_eq!(gh.post(refs, made).await.status, 201);
    assert_eq!(
        env.sim.commit_at(PRIVATE_REPO, "agen/y").map(|c| c.sha),
        Some(env.seed.clone())
    );
    let gone = gh.delete(&format!("{refs}/heads/agen/y")).await;
    assert_eq!(gone.status, 204);
    assert_eq!(env.sim.commit_at(PRIVATE_REPO, "agen/y"), None);
    assert_eq!(env.sim.git_ref(PRIVATE_REPO, "refs/heads/agen/y"), None);
    assert!(env
        .sim
        .git_dir(PRIVATE_REPO)
        .is_some_and(|d| d.join("HEAD").is_file()));
    assert_eq!(env.sim.git_dir(PUBLIC_REPO), None);
}
