//! Repository operations behave like GitHub's.

use serde_json::json;

use super::*;

async fn comment(sim: &Simulator, token: &str, body: &str) -> u64 {
    let path = "/repos/acme/widgets/issues/1/comments";
    let answer = call(sim, "POST", path, Some(token), Some(json!({"body": body}))).await;
    assert_eq!(answer.status, 201);
    answer.json["id"].as_u64().unwrap()
}

#[tokio::test]
async fn comments_are_created_updated_and_listed() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let id = comment(&sim, &token, "Queued").await;
    let path = format!("/repos/acme/widgets/issues/comments/{id}");
    let updated = call(
        &sim,
        "PATCH",
        &path,
        Some(&token),
        Some(json!({"body": "Done"})),
    )
    .await;
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
    let answer = call(
        &sim,
        "PATCH",
        &other_repo,
        Some(&token),
        Some(json!({"body": "x"})),
    )
    .await;
    assert_eq!(answer.status, 404);
    let listed = call(
        &sim,
        "GET",
        "/repos/acme/widgets/issues/1/comments",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(listed.json[0]["body"], "Done");
}

#[tokio::test]
async fn reactions_are_idempotent_and_checked() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let id = comment(&sim, &token, "/agen fix it").await;
    let path = format!("/repos/acme/widgets/issues/comments/{id}/reactions");
    let eyes = json!({"content": "eyes"});
    let first = call(&sim, "POST", &path, Some(&token), Some(eyes.clone())).await;
    assert_eq!(first.status, 201);
    let second = call(&sim, "POST", &path, Some(&token), Some(eyes)).await;
    assert_eq!(second.status, 200);
    assert_eq!(first.json["id"], second.json["id"]);
    let bad = call(
        &sim,
        "POST",
        &path,
        Some(&token),
        Some(json!({"content": "tada"})),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(sim.reactions(PRIVATE_REPO, id), ["eyes"]);
}

#[tokio::test]
async fn collaborator_permission_maps_roles() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
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
        let answer = call(&sim, "GET", &path, Some(&token), None).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json["permission"], permission, "{login}");
        assert_eq!(answer.json["role_name"], role, "{login}");
        assert_eq!(answer.json["user"]["login"], login);
    }
}

#[tokio::test]
async fn labels_are_added_and_removed() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let path = "/repos/acme/widgets/issues/1/labels";
    let added = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"labels": ["agen"]})),
    )
    .await;
    assert_eq!(added.status, 200);
    assert_eq!(added.json[0]["name"], "agen");
    let bare = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!(["agen", "bug"])),
    )
    .await;
    assert_eq!(bare.json.as_array().unwrap().len(), 2);
    let empty = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"labels": []})),
    )
    .await;
    assert_eq!(empty.status, 422);
    let removed = call(
        &sim,
        "DELETE",
        "/repos/acme/widgets/issues/1/labels/agen",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(removed.status, 200);
    assert_eq!(sim.labels(PRIVATE_REPO, 1), ["bug"]);
    let again = call(
        &sim,
        "DELETE",
        "/repos/acme/widgets/issues/1/labels/agen",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn check_runs_follow_the_schema() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let path = "/repos/acme/widgets/check-runs";
    let sha = "c".repeat(40);
    let incomplete = json!({"name": "agen", "head_sha": sha, "status": "completed"});
    assert_eq!(
        call(&sim, "POST", path, Some(&token), Some(incomplete))
            .await
            .status,
        422
    );
    let actions_only = json!({"name": "agen", "head_sha": sha, "status": "pending"});
    assert_eq!(
        call(&sim, "POST", path, Some(&token), Some(actions_only))
            .await
            .status,
        422
    );
    let created = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"name": "agen", "head_sha": sha, "status": "in_progress"})),
    )
    .await;
    assert_eq!(created.status, 201);
    let run = format!("{path}/{}", created.json["id"]);
    let long = "x".repeat(65536);
    let too_long = json!({"conclusion": "success", "output": {"title": "t", "summary": long}});
    assert_eq!(
        call(&sim, "PATCH", &run, Some(&token), Some(too_long))
            .await
            .status,
        422
    );
    let done = json!({"conclusion": "success", "output": {"title": "Passed", "summary": "ok"}});
    let updated = call(&sim, "PATCH", &run, Some(&token), Some(done)).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json["status"], "completed");
    assert_eq!(sim.check_runs(PRIVATE_REPO)[0]["output"]["title"], "Passed");
}

#[tokio::test]
async fn contents_refs_rules_and_deployments() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let file = "/repos/acme/widgets/contents/.github/agen.yml";
    assert_eq!(
        call(&sim, "GET", file, Some(&token), None).await.status,
        404
    );
    sim.put_file(PRIVATE_REPO, ".github/agen.yml", b"agent: echo\n");
    let got = call(&sim, "GET", file, Some(&token), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json["encoding"], "base64");
    assert_eq!(got.json["content"], "YWdlbnQ6IGVjaG8K\n");
    let other_ref = call(
        &sim,
        "GET",
        &format!("{file}?ref=feature"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(other_ref.status, 404);

    let main = call(
        &sim,
        "GET",
        "/repos/acme/widgets/git/ref/heads/main",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(main.status, 200);
    assert_eq!(main.json["ref"], "refs/heads/main");
    let sha = main.json["object"]["sha"].clone();
    let branch = json!({"ref": "refs/heads/agen/issue-1", "sha": sha});
    let created = call(
        &sim,
        "POST",
        "/repos/acme/widgets/git/refs",
        Some(&token),
        Some(branch.clone()),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        call(
            &sim,
            "POST",
            "/repos/acme/widgets/git/refs",
            Some(&token),
            Some(branch)
        )
        .await
        .status,
        422
    );
    let encoded = "/repos/acme/widgets/git/ref/heads%2Fagen%2Fissue-1";
    assert_eq!(
        call(&sim, "GET", encoded, Some(&token), None).await.status,
        200
    );
    let delete = "/repos/acme/widgets/git/refs/heads/agen/issue-1";
    assert_eq!(
        call(&sim, "DELETE", delete, Some(&token), None)
            .await
            .status,
        204
    );

    let rules = call(
        &sim,
        "GET",
        "/repos/acme/widgets/rules/branches/main",
        Some(&token),
        None,
    )
    .await;
    assert_eq!((rules.status, rules.json.clone()), (200, json!([])));
    let protection = "/repos/acme/widgets/branches/main/protection";
    assert_eq!(
        call(&sim, "GET", protection, Some(&token), None)
            .await
            .status,
        403
    );

    let deployment = call(
        &sim,
        "POST",
        "/repos/acme/widgets/deployments",
        Some(&token),
        Some(json!({"ref": "main"})),
    )
    .await;
    assert_eq!(
        deployment.status, 403,
        "the demo App holds no deployments permission"
    );
}

#[tokio::test]
async fn pulls_are_numbered_after_issues_and_reviewers_checked() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    sim.add_issue(PRIVATE_REPO, 7, "Seven", "", "alice");
    let pr = json!({"title": "Fix", "head": "agen/issue-7", "base": "main", "draft": true});
    let created = call(
        &sim,
        "POST",
        "/repos/acme/widgets/pulls",
        Some(&token),
        Some(pr.clone()),
    )
    .await;
    assert_eq!(created.json["number"], 8);
    assert_eq!(
        call(
            &sim,
            "POST",
            "/repos/acme/widgets/pulls",
            Some(&token),
            Some(pr)
        )
        .await
        .status,
        422
    );
    let reviewers = "/repos/acme/widgets/pulls/8/requested_reviewers";
    assert_eq!(
        call(&sim, "POST", reviewers, Some(&token), Some(json!({})))
            .await
            .status,
        422
    );
    let stranger = json!({"reviewers": ["stranger"]});
    assert_eq!(
        call(&sim, "POST", reviewers, Some(&token), Some(stranger))
            .await
            .status,
        422
    );
    let alice = call(
        &sim,
        "POST",
        reviewers,
        Some(&token),
        Some(json!({"reviewers": ["alice"]})),
    )
    .await;
    assert_eq!(alice.status, 201);
    assert_eq!(alice.json["requested_reviewers"][0]["login"], "alice");
    let listed = call(
        &sim,
        "GET",
        "/repos/acme/widgets/pulls?head=acme:agen/issue-7",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    let closed = call(
        &sim,
        "PATCH",
        "/repos/acme/widgets/pulls/8",
        Some(&token),
        Some(json!({"state": "closed"})),
    )
    .await;
    assert_eq!(closed.json["state"], "closed");
    assert_eq!(sim.pulls(PRIVATE_REPO)[0]["draft"], true);
    assert!(sim.violations().is_empty());
}
