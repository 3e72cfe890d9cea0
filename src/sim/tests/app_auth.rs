//! App JWTs and installation tokens.

use serde_json::json;

use super::*;
use crate::sim::AuthKind;

#[tokio::test]
async fn valid_jwt_lists_installations() {
    let sim = setup().await;
    let answer = sim.as_(&jwt()).get("/app/installations").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json[0]["id"], 42);
    assert_eq!(answer.json[0]["account"]["login"], "acme");
    assert_eq!(answer.json[0]["account"]["type"], "Organization");
    assert_eq!(answer.header("x-ratelimit-limit"), Some("5000"));
    assert!(answer.header("x-ratelimit-remaining").is_some());
    assert_eq!(sim.requests()[0].auth, AuthKind::Jwt);
    assert_eq!(
        sim.requests()[0].operation.as_deref(),
        Some("apps/list-installations")
    );
}

#[tokio::test]
async fn string_issuer_is_accepted() {
    let sim = setup().await;
    let token = jwt_with(-30, 300, json!("1"), PRIVATE_KEY);
    let answer = sim.as_(&token).get("/app").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["slug"], "agen");
}

#[tokio::test]
async fn bad_jwts_are_refused_with_401() {
    let sim = setup().await;
    let other_key = rsa_key_other();
    let cases = [
        (
            jwt_with(-700, -60, json!(1), PRIVATE_KEY),
            "'Expiration time' claim ('exp') must be",
        ),
        (
            jwt_with(-10, 700, json!(1), PRIVATE_KEY),
            "'Expiration time' claim ('exp') is too far in the future",
        ),
        (
            jwt_with(120, 300, json!(1), PRIVATE_KEY),
            "'Issued at' claim ('iat')",
        ),
        (
            jwt_with(-10, 300, json!(2), PRIVATE_KEY),
            "'Issuer' claim ('iss')",
        ),
        (
            jwt_with(-10, 300, json!(1), &other_key),
            "A JSON web token could not be decoded",
        ),
        (
            "not.a.jwt".to_string(),
            "A JSON web token could not be decoded",
        ),
    ];
    for (token, message) in cases {
        let answer = sim.as_(&token).get("/app/installations").await;
        assert_eq!(answer.status, 401, "{message}");
        assert!(
            answer.message().starts_with(message),
            "{}",
            answer.message()
        );
        assert!(answer.json["documentation_url"].is_string());
    }
    assert!(sim.requests().iter().all(|r| r.auth == AuthKind::Invalid));
}

/// A second RSA key (generated with openssl for this test): only the App's key is accepted.
fn rsa_key_other() -> String {
    include_str!("other-key.pem").to_string()
}

#[tokio::test]
async fn installation_token_on_app_endpoint_is_401() {
    let (_sim, gh) = setup_with_token().await;
    let answer = gh.get("/app/installations").await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.message(), "A JSON web token could not be decoded");
}

#[tokio::test]
async fn jwt_on_repository_endpoint_is_403() {
    let sim = setup().await;
    let answer = sim.as_(&jwt()).get("/repos/acme/widgets").await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.message(), "Resource not accessible by integration");
}

#[tokio::test]
async fn mint_defaults_to_everything_the_app_holds() {
    let sim = setup().await;
    let path = "/app/installations/42/access_tokens";
    let answer = sim.as_(&jwt()).post(path, None).await;
    assert_eq!(answer.status, 201);
    let token = answer.json["token"].as_str().unwrap();
    assert!(token.starts_with("ghs_") && token.len() == 40, "{token}");
    assert!(token[4..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(answer.json["repository_selection"], "all");
    assert_eq!(
        answer.json["permissions"],
        json!(SimConfig::demo().app_permissions)
    );
    assert!(answer.json["expires_at"].as_str().unwrap().ends_with('Z'));
    let minted = &sim.tokens()[0];
    assert_eq!(minted.repository_ids.len(), 2);
}

#[tokio::test]
async fn mint_scoped_to_one_repo_hides_the_other() {
    let sim = setup().await;
    let widgets = sim.tokens().len();
    assert_eq!(widgets, 0);
    let token = mint(
        &sim,
        json!({"repositories": ["widgets"], "permissions": {"issues": "write"}}),
    )
    .await;
    let gh = sim.as_(&token);
    let minted = sim.tokens().pop().unwrap();
    assert_eq!(minted.repository_selection, "selected");
    assert_eq!(
        minted.permissions.get("issues").map(String::as_str),
        Some("write")
    );
    assert_eq!(
        minted.permissions.get("metadata").map(String::as_str),
        Some("read")
    );
    assert_eq!(gh.get("/repos/acme/widgets").await.status, 200);
    let other = gh.get("/repos/acme/gadgets").await;
    assert_eq!(other.status, 404);
    assert_eq!(other.message(), "Not Found");
}

#[tokio::test]
async fn mint_refuses_what_the_app_does_not_hold() {
    let sim = setup().await;
    let path = "/app/installations/42/access_tokens";
    let cases = [
        json!({"permissions": {"administration": "read"}}),
        json!({"permissions": {"checks": "admin"}}),
        json!({"permissions": {"no_such_permission": "read"}}),
        json!({"permissions": {"issues": "sideways"}}),
        json!({"repositories": ["not-installed"]}),
        json!({"repository_ids": [999_999]}),
    ];
    for body in cases {
        let answer = sim.as_(&jwt()).post(path, body.clone()).await;
        assert_eq!(answer.status, 422, "{body}");
    }
    assert!(sim.tokens().is_empty());
}

#[tokio::test]
async fn mint_for_unknown_or_suspended_installation() {
    let sim = setup().await;
    let app = sim.as_(&jwt());
    let unknown = app.post("/app/installations/7/access_tokens", None).await;
    assert_eq!(unknown.status, 404);
    sim.suspend_installation(INSTALLATION);
    let suspended = app.post("/app/installations/42/access_tokens", None).await;
    assert_eq!(suspended.status, 403);
}

#[tokio::test]
async fn token_without_issues_permission_cannot_comment() {
    let sim = setup().await;
    let token = mint(&sim, json!({"permissions": {"contents": "read"}})).await;
    let path = "/repos/acme/widgets/issues/1/comments";
    let answer = sim.as_(&token).post(path, json!({"body": "hi"})).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.message(), "Resource not accessible by integration");
    assert!(sim.comments(PRIVATE_REPO, 1).is_empty());
}

#[tokio::test]
async fn expired_token_is_401() {
    let (sim, gh) = setup_with_token().await;
    sim.advance_clock(std::time::Duration::from_secs(3601));
    let answer = gh.get("/repos/acme/widgets").await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.message(), "Bad credentials");
    assert!(matches!(
        sim.requests().last().unwrap().auth,
        AuthKind::Installation { .. }
    ));
}

#[tokio::test]
async fn tokens_die_with_their_installation() {
    let (sim, gh) = setup_with_token().await;
    sim.suspend_installation(INSTALLATION);
    assert_eq!(gh.get("/repos/acme/widgets").await.status, 403);
    sim.remove_installation(INSTALLATION);
    assert_eq!(gh.get("/repos/acme/widgets").await.status, 401);
    assert_eq!(
        sim.as_("ghs_unknown")
            .get("/repos/acme/widgets")
            .await
            .status,
        401
    );
    assert_eq!(sim.anonymous().get("/repos/acme/widgets").await.status, 401);
}

#[tokio::test]
async fn installation_repositories_lists_what_the_token_covers() {
    let sim = setup().await;
    let all = mint(&sim, json!({})).await;
    let answer = sim
        .as_(&all)
        .get("/installation/repositories?per_page=1")
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["total_count"], 2);
    assert_eq!(answer.json["repositories"].as_array().unwrap().len(), 1);
    assert!(answer.header("link").unwrap().contains("rel=\"next\""));
    let one = mint(&sim, json!({"repositories": ["gadgets"]})).await;
    let answer = sim.as_(&one).get("/installation/repositories").await;
    assert_eq!(answer.json["total_count"], 1);
    assert_eq!(answer.json["repositories"][0]["full_name"], "acme/gadgets");
    assert_eq!(answer.json["repositories"][0]["default_branch"], "main");
}
