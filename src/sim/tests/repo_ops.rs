//! Repository operations behave like GitHub's.

use serde_json::json;

use super::*;

async fn comment(gh: &SimClient, body: &str) -> u64 {
    let path = "/repos/acme/widgets/issues/1/comments";
    let answer = gh.post(path, json!({"body": body})).await;
    assert_eq!(answer.status, 201);
    answer.json["id"].as_u64().unwrap()
}

#[tokio::test]
async fn comments_are_created_updated_and_listed() {
    let (sim, gh) = setup_with_token().await;
    let id = comment(&gh, "Queued").await;
    let path = format!("/repos/acme/widgets/issues/comments/{id}");
    let updated = gh.patch(&path, json!({"body": "Done"})).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json["user"]["login"], "agen[bot]");
    assert_eq!(updated.json["user"]["type"], "Bot");
    let comments = sim.comments(PRIVATE_REPO, 1);
    assert_eq!(comments.len(), 1);
    assert_eq!(
        (comments[0].body.as_str(), comments[0].user_login.as_str()),
        ("Done", "agen[bot]")
    );
    let other_repo = format!("/repos/acme/gadgets/issues/comments/{id}");
    let answer = gh.patch(&other_repo, json!({"body": "x"})).await;
    assert_eq!(answer.status, 404);
    let listed = gh.get("/repos/acme/widgets/issues/1/comments").await;
    assert_eq!(listed.json[0]["body"], "Done");
}

#[tokio::test]
async fn reactions_are_idempotent_and_checked() {
    let (sim, gh) = setup_with_token().await;
    let id = comment(&gh, "/agen fix it").await;
    let path = format!("/repos/acme/widgets/issues/comments/{id}/reactions");
    let eyes = json!({"content": "eyes"});
    let first = gh.post(&path, eyes.clone()).await;
    assert_eq!(first.status, 201);
    let second = gh.post(&path, eyes).await;
    assert_eq!(second.status, 200);
    assert_eq!(first.json["id"], second.json["id"]);
    let bad = gh.post(&path, json!({"content": "tada"})).await;
    assert_eq!(bad.status, 422);
    assert_eq!(sim.reactions(PRIVATE_REPO, id), ["eyes"]);
}

#[tokio::test]
async fn collaborator_permission_maps_roles() {
    let (sim, gh) = setup_with_token().await;
    sim.set_permission(PRIVATE_REPO, "mia", "maintain");
    sim.set_permission(PRIVATE_REPO, "tom", "triage");
    let cases = [
        (PRIVATE_REPO, "alice", "write", "write"),
        (PRIVATE_REPO, "mia", "write", "maintain"),
        (PRIVATE_REPO, "tom", "read", "triage"),
        (PRIVATE_REPO, "stranger", "none", "none"),
        (PUBLIC_REPO, "stranger", "read", "read"),
    ];
    for (repo, login, permission, role) in cases {
        let path = format!("/repos/{repo}/collaborators/{login}/permission");
        let answer = gh.get(&path).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json["permission"], permission, "{login}");
        assert_eq!(answer.json["role_name"], role, "{login}");
        assert_eq!(answer.json["user"]["login"], login);
    }
}

#[tokio::test]
async fn labels_are_added_and_removed() {
    let (sim, gh) = setup_with_token().await;
    let path = "/repos/acme/widgets/issues/1/labels";
    let added = gh.post(path, json!({"labels": ["agen"]})).await;
    assert_eq!(added.status, 200);
    assert_eq!(added.json[0]["name"], "agen");
    let bare = gh.post(path, json!(["agen", "bug"])).await;
    assert_eq!(bare.json.as_array().unwrap().len(), 2);
    let empty = gh.post(path, json!({"labels": []})).await;
    assert_eq!(empty.status, 422);
    let removed = gh.delete("/repos/acme/widgets/issues/1/labels/agen").await;
    assert_eq!(removed.status, 200);
    assert_eq!(sim.labels(PRIVATE_REPO, 1), ["bug"]);
    let again = gh.delete("/repos/acme/widgets/issues/1/labels/agen").await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn check_runs_follow_the_schema() {
    let (sim, gh) = setup_with_token().await;
    let path = "/repos/acme/widgets/check-runs";
    let sha = "c".repeat(40);
    let incomplete = json!({"name": "agen", "head_sha": sha, "status": "completed"});
    assert_eq!(gh.post(path, incomplete).await.status, 422);
    let actions_only = json!({"name": "agen", "head_sha": sha, "status": "pending"});
    assert_eq!(gh.post(path, actions_only).await.status, 422);
    let created = gh
        .post(
            path,
            json!({"name": "agen", "head_sha": sha, "status": "in_progress"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let run = format!("{path}/{}", created.json["id"]);
    let long = "x".repeat(65536);
    let too_long = json!({"conclusion": "success", "output": {"title": "t", "summary": long}});
    assert_eq!(gh.patch(&run, too_long).await.status, 422);
    let done = json!({"conclusion": "success", "output": {"title": "Passed", "summary": "ok"}});
    let updated = gh.patch(&run, done).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json["status"], "completed");
    assert_eq!(sim.check_runs(PRIVATE_REPO)[0]["output"]["title"], "Passed");
}

#[tokio::test]
async fn contents_refs_rules_and_deployments() {
    let (sim, gh) = setup_with_token().await;
    let file = "/repos/acme/widgets/contents/.github/agen.yml";
    assert_eq!(gh.get(file).await.status, 404);
    sim.put_file(PRIVATE_REPO, ".github/agen.yml", b"agent: echo\n");
    let got = gh.get(file).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["encoding"], "base64");
    assert_eq!(got.json["content"], "YWdlbnQ6IGVjaG8K\n");
    let other_ref = gh.get(&format!("{file}?ref=feature")).await;
    assert_eq!(other_ref.status, 404);

    let main = gh.get("/repos/acme/widgets/git/ref/heads/main").await;
    assert_eq!(main.status, 200);
    assert_eq!(main.json["ref"], "refs/heads/main");
    let sha = main.json["object"]["sha"].clone();
    let branch = json!({"ref": "refs/heads/agen/issue-1", "sha": sha});
    let created = gh
        .post("/repos/acme/widgets/git/refs", branch.clone())
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        gh.post("/repos/acme/widgets/git/refs", branch).await.status,
        422
    );
    let encoded = "/repos/acme/widgets/git/ref/heads%2Fagen%2Fissue-1";
    assert_eq!(gh.get(encoded).await.status, 200);
    let delete = "/repos/acme/widgets/git/refs/heads/agen/issue-1";
    assert_eq!(gh.delete(delete).await.status, 204);

    let rules = gh.get("/repos/acme/widgets/rules/branches/main").await;
    assert_eq!((rules.status, rules.json.clone()), (200, json!([])));
    let protection = "/repos/acme/widgets/branches/main/protection";
    assert_eq!(gh.get(protection).await.status, 403);

    let deployment = gh
        .post("/repos/acme/widgets/deployments", json!({"ref": "main"}))
        .await;
    assert_eq!(
        deployment.status, 403,
        "the demo App holds no deployments permission"
    );
}

#[tokio::test]
async fn pulls_are_numbered_after_issues_and_reviewers_checked() {
    let (sim, gh) = setup_with_token().await;
    sim.add_issue(PRIVATE_REPO, 7, "Seven", "", "alice");
    let pr = json!({"title": "Fix", "head": "agen/issue-7", "base": "main", "draft": true});
    let created = gh.post("/repos/acme/widgets/pulls", pr.clone()).await;
    assert_eq!(created.json["number"], 8);
    assert_eq!(gh.post("/repos/acme/widgets/pulls", pr).await.status, 422);
    let reviewers = "/repos/acme/widgets/pulls/8/requested_reviewers";
    assert_eq!(gh.post(reviewers, json!({})).await.status, 422);
    let stranger = json!({"reviewers": ["stranger"]});
    assert_eq!(gh.post(reviewers, stranger).await.status, 422);
    let alice = gh.post(reviewers, json!({"reviewers": ["alice"]})).await;
    assert_eq!(alice.status, 201);
    assert_eq!(alice.json["requested_reviewers"][0]["login"], "alice");
    let listed = gh
        .get("/repos/acme/widgets/pulls?head=acme:agen/issue-7")
        .await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    let closed = gh
        .patch("/repos/acme/widgets/pulls/8", json!({"state": "closed"}))
        .await;
    assert_eq!(closed.json["state"], "closed");
    assert_eq!(sim.pulls(PRIVATE_REPO)[0]["draft"], true);
    assert!(sim.violations().is_empty());
}
