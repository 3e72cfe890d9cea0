//! Routing, body validation, faults, recording and violations.

use serde_json::json;

use super::*;
use crate::sim::Fault;

#[tokio::test]
async fn unknown_routes_and_methods_are_404() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    for (method, path) in [
        ("GET", "/repos/acme/widgets/issues/1"),
        ("DELETE", "/repos/acme/widgets"),
        ("GET", "/nope"),
        ("POST", "/app-manifests/abc/conversions"),
    ] {
        let answer = call(&sim, method, path, Some(&token), None).await;
        assert_eq!(answer.status, 404, "{method} {path}");
        assert_eq!(answer.message(), "Not Found");
    }
    let unknown = &sim.requests()[2];
    assert_eq!(unknown.operation, None);
}

#[tokio::test]
async fn missing_or_mistyped_required_fields_are_422() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let path = "/repos/acme/widgets/issues/1/comments";
    let missing = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.message(),
        "Invalid request.\n\n\"body\" wasn't supplied."
    );
    let empty = call(&sim, "POST", path, Some(&token), None).await;
    assert_eq!(empty.status, 422);
    let typed = call(&sim, "POST", path, Some(&token), Some(json!({"body": 5}))).await;
    assert_eq!(typed.status, 422);
    assert_eq!(
        typed.message(),
        "Invalid request.\n\nFor 'properties/body', 5 is not a string."
    );
    let pulls = call(
        &sim,
        "POST",
        "/repos/acme/widgets/pulls",
        Some(&token),
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(
        pulls.message(),
        "Invalid request.\n\n\"head\", \"base\" weren't supplied."
    );
    let garbage = call_raw(&sim, "POST", path, Some(&token), b"{not json".to_vec()).await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.message(), "Problems parsing JSON");
    assert!(sim.comments(PRIVATE_REPO, 1).is_empty());
}

#[tokio::test]
async fn comment_on_unknown_issue_is_404() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let path = "/repos/acme/widgets/issues/99/comments";
    let answer = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"body": "hi"})),
    )
    .await;
    assert_eq!(answer.status, 404);
}

#[tokio::test]
async fn faults_answer_then_clear() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    sim.inject(Fault::new("POST", "/repos/acme/widgets/issues", 429).header("retry-after", "1"));
    let path = "/repos/acme/widgets/issues/1/comments";
    let first = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"body": "hi"})),
    )
    .await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("1"));
    assert!(first.message().contains("secondary rate limit"));
    let second = call(
        &sim,
        "POST",
        path,
        Some(&token),
        Some(json!({"body": "hi"})),
    )
    .await;
    assert_eq!(second.status, 201);
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [201, 429, 201]);
    assert_eq!(sim.comments(PRIVATE_REPO, 1).len(), 1);
}

#[tokio::test]
async fn primary_rate_limit_fault_keeps_its_headers() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    sim.inject(
        Fault::new("*", "/repos/", 403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", "1999999999")
            .times(2),
    );
    for _ in 0..2 {
        let answer = call(&sim, "GET", "/repos/acme/widgets", Some(&token), None).await;
        assert_eq!(answer.status, 403);
        assert_eq!(answer.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(answer.header("x-ratelimit-reset"), Some("1999999999"));
        assert!(answer.message().starts_with("API rate limit exceeded"));
    }
    assert_eq!(
        call(&sim, "GET", "/repos/acme/widgets", Some(&token), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn every_call_is_recorded_and_writes_listed() {
    let sim = setup().await;
    let token = mint(&sim, json!({"repositories": ["widgets"]})).await;
    let comment = json!({"body": "Working on it"});
    call(
        &sim,
        "POST",
        "/repos/acme/widgets/issues/1/comments?x=1",
        Some(&token),
        Some(comment.clone()),
    )
    .await;
    call(
        &sim,
        "GET",
        "/repos/acme/widgets/issues/1/comments?per_page=5",
        Some(&token),
        None,
    )
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
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    sim.set_ref(PRIVATE_REPO, "refs/heads/agen/issue-1-fix", &"a".repeat(40));
    let pr = json!({"title": "Fix", "head": "agen/issue-1-fix", "base": "main"});
    let created = call(
        &sim,
        "POST",
        "/repos/acme/widgets/pulls",
        Some(&token),
        Some(pr),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.json);
    assert!(sim.violations().is_empty());
    let number = created.json["number"].as_u64().unwrap();
    assert_eq!(number, 2);
    let merge = format!("/repos/acme/widgets/pulls/{number}/merge");
    assert_eq!(
        call(&sim, "PUT", &merge, Some(&token), None).await.status,
        200
    );
    let sha = json!({"ref": "refs/heads/main", "sha": "b".repeat(40)});
    let refused = call(
        &sim,
        "POST",
        "/repos/acme/widgets/git/refs",
        Some(&token),
        Some(sha),
    )
    .await;
    assert_eq!(refused.status, 422);
    let deleted = call(
        &sim,
        "DELETE",
        "/repos/acme/widgets/git/refs/heads/main",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(deleted.status, 422);
    let workflow = "/repos/acme/widgets/contents/.github/workflows/ci.yml";
    assert_eq!(
        call(&sim, "PUT", workflow, Some(&token), None).await.status,
        404
    );
    let approve = format!("/repos/acme/widgets/pulls/{number}/reviews");
    call(
        &sim,
        "POST",
        &approve,
        Some(&token),
        Some(json!({"event": "APPROVE"})),
    )
    .await;
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
    let url = format!("{}/app/installations", sim.api_url());
    let headers = vec![(
        "authorization".to_string(),
        format!("Bearer {}", super::jwt()),
    )];
    let reply = super::http_client::send("GET", &url, &headers, Vec::new())
        .await
        .unwrap();
    assert_eq!(reply.status, 403);
    assert!(String::from_utf8_lossy(&reply.body).contains("User-Agent"));
}
