//! The simulator's answers deserialize into octocrab's models, and octocrab itself can drive
//! the App flow (JWT, token, comment) against it.

use octocrab::models::{self, InstallationId};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::*;
use crate::sim::SimAnswer;

fn parses<T: DeserializeOwned>(answer: &SimAnswer) -> T {
    serde_json::from_value(answer.json.clone()).unwrap_or_else(|e| panic!("{e}: {}", answer.json))
}

#[tokio::test]
async fn answers_fit_octocrab_models() {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let app = sim.as_(&jwt());
    let gh = sim.as_(&token);
    let _: Vec<models::Installation> = parses(&app.get("/app/installations").await);
    let minted = app
        .post(
            "/app/installations/42/access_tokens",
            json!({"repositories": ["widgets"]}),
        )
        .await;
    let _: models::InstallationToken = parses(&minted);
    let _: models::Repository = parses(&gh.get("/repos/acme/widgets").await);
    let comment = gh
        .post(
            "/repos/acme/widgets/issues/1/comments",
            json!({"body": "hi"}),
        )
        .await;
    let id = comment.json["id"].clone();
    let _: models::issues::Comment = parses(&comment);
    let reaction = format!("/repos/acme/widgets/issues/comments/{id}/reactions");
    let _: models::reactions::Reaction =
        parses(&gh.post(&reaction, json!({"content": "eyes"})).await);
    let labels = gh
        .post(
            "/repos/acme/widgets/issues/1/labels",
            json!({"labels": ["agen"]}),
        )
        .await;
    let _: Vec<models::Label> = parses(&labels);
    let pr = json!({"title": "Fix", "head": "agen/issue-1", "base": "main", "body": null});
    let _: models::pulls::PullRequest = parses(&gh.post("/repos/acme/widgets/pulls", pr).await);
    let run = json!({"name": "agen", "head_sha": "d".repeat(40)});
    let _: models::checks::CheckRun = parses(&gh.post("/repos/acme/widgets/check-runs", run).await);
    let _: models::repos::Ref = parses(&gh.get("/repos/acme/widgets/git/ref/heads/main").await);
    sim.put_file(PRIVATE_REPO, "README.md", b"hello");
    let _: models::repos::Content = parses(&gh.get("/repos/acme/widgets/contents/README.md").await);
}

/// A client authenticating with `bearer` (octocrab sends it as `Bearer`).
fn octocrab_with(sim: &Simulator, bearer: String) -> octocrab::Octocrab {
    octocrab::Octocrab::builder()
        .personal_token(bearer)
        .base_uri(sim.api_url())
        .expect("base uri")
        .build()
        .expect("client")
}

#[tokio::test]
async fn octocrab_drives_the_app_flow() {
    let sim = setup().await;
    let app = octocrab_with(&sim, jwt());
    let installations = app.apps().installations().send().await.unwrap();
    assert_eq!(installations.items[0].id, InstallationId(42));
    let body = json!({"repository_ids": [999_999]});
    let denied = app
        .post::<_, models::InstallationToken>("/app/installations/42/access_tokens", Some(&body))
        .await;
    assert!(
        denied.is_err(),
        "repository 999999 is not in the installation"
    );
    let token: models::InstallationToken = app
        .post(
            "/app/installations/42/access_tokens",
            Some(&json!({"repositories": ["widgets"]})),
        )
        .await
        .unwrap();
    let client = octocrab_with(&sim, token.token);
    let comment = client
        .issues("acme", "widgets")
        .create_comment(1, "Queued")
        .await
        .unwrap();
    assert_eq!(comment.user.login, "agen[bot]");
    assert_eq!(sim.comments(PRIVATE_REPO, 1)[0].body, "Queued");
    assert!(sim.violations().is_empty());
}
