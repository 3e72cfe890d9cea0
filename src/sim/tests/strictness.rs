//! Routing, body validation, faults, recording and violations.

use serde_json::json;

use super::*;
use crate::sim::Fault;

#[tokio::test]
async fn unknown_routes_and_methods_are_404() {
    let (sim, gh) = setup_with_token().await;
    for (method, path) in [
        ("GET", "/repos/acme/widgets/issues/1"),
        ("DELETE", "/repos/acme/widgets"),
        ("GET", "/nope"),
        ("POST", "/app-manifests/abc/conversions"),
    ] {
        let answer = gh.send(method, path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.message(), "Not Found");
    }
    let unknown = &sim.requests()[2];
    assert_eq!(unknown.operation, None);
}

#[tokio::test]
async fn missing_or_mistyped_required_fields_are_422() {
    let (sim, gh) = setup_with_token().await;
    let path = "/repos/acme/widgets/issues/1/comments";
    let missing = gh.post(path, json!({"text": "hi"})).await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.message(),
        "Invalid request.\n\n\"body\" wasn't supplied."
    );
    let empty = gh.post(path, None).await;
    assert_eq!(empty.status, 422);
    let typed = gh.post(path, json!({"body": 5})).await;
    assert_eq!(typed.status, 422);
    assert_eq!(
        typed.message(),
        "Invalid request.\n\nFor 'properties/body', 5 is not a string."
    );
    let pulls = gh
        .post("/repos/acme/widgets/pulls", json!({"title": "x"}))
        .await;
    assert_eq!(
        pulls.message(),
        "Invalid request.\n\n\"head\", \"base\" weren't supplied."
    );
    let garbage = gh.send_bytes("POST", path, b"{not json".to_vec()).await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.message(), "Problems parsing JSON");
    assert!(sim.comments(PRIVATE_REPO, 1).is_empty());
}

#[tokio::test]
async fn comment_on_unknown_issue_is_404() {
    let (_sim, gh) = setup_with_token().await;
    let path = "/repos/acme/widgets/issues/99/comments";
    let answer = gh.post(path, json!({"body": "hi"})).await;
    assert_eq!(answer.status, 404);
}

#[tokio::test]
async fn faults_answer_then_clear() {
    let (sim, gh) = setup_with_token().await;
    sim.inject(Fault::new("POST", "/repos/acme/widgets/issues", 429).header("retry-after", "1"));
    let path = "/repos/acme/widgets/issues/1/comments";
    let first = gh.post(path, json!({"body": "hi"})).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("1"));
    assert!(first.message().contains("secondary rate limit"));
    let second = gh.post(path, json!({"body": "hi"})).await;
    assert_eq!(second.status, 201);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [201, 429, 201]);
    assert_eq!(sim.comments(PRIVATE_REPO, 1).len(), 1);
}

#[tokio::test]
async fn primary_rate_limit_fault_keeps_its_headers() {
    let (sim, gh) = setup_with_token().await;
    sim.inject(
        Fault::new("*", "/repos/", 403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "1999999999")
            .times(2),
    );
    for _ in 0..2 {
        let answer = gh.get("/repos/acme/widgets").await;
        assert_eq!(answer.status, 403);
        assert_eq!(answer.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(answer.header("x-ratelimit-reset"), Some("1999999999"));
        assert!(answer.message().starts_with("API rate limit exceeded"));
    }
    assert_eq!(gh.get("/repos/acme/widgets").await.status, 200);
}

#[tokio::test]
async fn every_call_is_recorded_and_writes_listed() {
    let sim = setup().await;
    let token = mint(&sim, json!({"repositories": ["widgets"]})).await;
    let gh = sim.as_(&token);
    let comment = json!({"body": "Working on it"});
    gh.post("/repos/acme/widgets/issues/1/comments?x=1", comment.clone())
        .await;
    gh.get("/repos/acme/widgets/issues/1/comments?per_page=5")
        .await;
    assert_eq!(
        sim.writes(),
        [
            "POST /app/installations/42/access_tokens",
            "POST /repos/acme/widgets/issues/1/comments"
        ]
    );
    let recorded = &sim.requests()[1];
    assert_eq!(recorded.query.as_deref(), Some("x=1"));
    assert_eq!(recorded.operation.as_deref(), Some("issues/create-comment"));
    assert_eq!(recorded.body, Some(comment));
    assert_eq!(recorded.status, 201);
    let listed = &sim.requests()[2];
    assert_eq!(listed.operation.as_deref(), Some("issues/list-comments"));
    assert_eq!(listed.status, 200);
}

#[tokio::test]
async fn merge_and_default_branch_writes_are_violations() {
    let (sim, gh) = setup_with_token().await;
    sim.set_ref(PRIVATE_REPO, "refs/heads/agen/issue-1-fix", &"a".repeat(40));
    let pr = json!({"title": "Fix", "head": "agen/issue-1-fix", "base": "main"});
    let created = gh.post("/repos/acme/widgets/pulls", pr).await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert!(sim.violations().is_empty());
    let number = created.json["number"].as_u64().unwrap();
    assert_eq!(number, 2);
    let merge = format!("/repos/acme/widgets/pulls/{number}/merge");
    assert_eq!(gh.put(&merge, None).await.status, 200);
    let sha = json!({"ref": "refs/heads/main", "sha": "b".repeat(40)});
    let refused = gh.post("/repos/acme/widgets/git/refs", sha).await;
    assert_eq!(refused.status, 422);
    let deleted = gh.delete("/repos/acme/widgets/git/refs/heads/main").await;
    assert_eq!(deleted.status, 422);
    let workflow = "/repos/acme/widgets/contents/.github/workflows/ci.yml";
    assert_eq!(gh.put(workflow, None).await.status, 404);
    let approve = format!("/repos/acme/widgets/pulls/{number}/reviews");
    gh.post(&approve, json!({"event": "APPROVE"})).await;
    assert_eq!(sim.violations().len(), 5, "{:?}", sim.violations());
    assert_eq!(
        sim.git_ref(PRIVATE_REPO, "refs/heads/main")
            .map(|s| s.len()),
        Some(40)
    );
}

#[tokio::test]
async fn a_call_without_user_agent_is_refused_like_github_does() {
    let sim = super::setup().await;
    let reply = sim
        .as_(&super::jwt())
        .without_user_agent()
        .get("/app/installations")
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.text().contains("User-Agent"), "{}", reply.text());
}
