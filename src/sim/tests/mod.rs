//! Tests that drive the simulator over real HTTP, as agen will.

mod app_auth;
mod conformance;
mod git_http;
mod git_push;
mod git_support;
mod models;
mod repo_ops;
mod routing;
mod strictness;
mod webhooks;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::{SimClient, SimConfig, Simulator};

const PRIVATE_KEY: &str = include_str!("../../../fixtures/demo-app-key.pem");
pub(crate) const INSTALLATION: u64 = 42;
pub(crate) const PRIVATE_REPO: &str = "acme/widgets";
pub(crate) const PUBLIC_REPO: &str = "acme/gadgets";

/// A simulator with installation 42 on org `acme`, holding `acme/widgets` (private, issue
/// 1, alice has write) and `acme/gadgets` (public).
pub(crate) async fn setup() -> Simulator {
    let sim = Simulator::start(SimConfig::demo())
        .await
        .expect("simulator starts");
    sim.add_installation(INSTALLATION, "acme", "Organization");
    sim.add_repo(INSTALLATION, PRIVATE_REPO, true);
    sim.add_repo(INSTALLATION, PUBLIC_REPO, false);
    sim.add_issue(PRIVATE_REPO, 1, "Fix the widget", "It is broken.", "alice");
    sim.set_permission(PRIVATE_REPO, "alice", "write");
    sim
}

/// [`setup`], and a client holding an installation token for all the App holds.
pub(crate) async fn setup_with_token() -> (Simulator, SimClient) {
    let sim = setup().await;
    let token = mint(&sim, json!({})).await;
    let gh = sim.as_(&token);
    (sim, gh)
}

/// An App JWT signed with the demo key; times relative to now, in seconds.
pub(crate) fn jwt_with(iat: i64, exp: i64, iss: Value, key_pem: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iat": now + iat, "exp": now + exp, "iss": iss});
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).expect("test key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("signs")
}

/// A valid App JWT, as GitHub recommends (iat 60 s in the past, 10 minutes).
pub(crate) fn jwt() -> String {
    jwt_with(-60, 540, json!(1), PRIVATE_KEY)
}

/// Mints an installation token with `body`, expecting 201.
pub(crate) async fn mint(sim: &Simulator, body: Value) -> String {
    let path = format!("/app/installations/{INSTALLATION}/access_tokens");
    let answer = sim.as_(&jwt()).post(&path, body).await;
    assert_eq!(answer.status, 201, "{}", answer.json);
    answer.json["token"].as_str().expect("token").to_string()
}
