//! `spawn()`: the real server on port 0 with a fresh SQLite file, against a fresh simulator
//! seeded with one organisation installation, one private repository and a few people.

pub mod jobs;
pub mod raw_http;

/// The name the test harness knows test `$name` of the calling module by: `sandbox::$name`
/// (each module of this binary is one topic), for a test that runs this binary again with
/// `--exact` to run that one test alone.
#[macro_export]
macro_rules! test_path {
    ($name:expr) => {
        match module_path!().split_once("::") {
            Some((_, module)) => format!("{module}::{}", $name),
            None => $name.to_string(),
        }
    };
}

use std::time::{Duration, Instant};

use agen::config::{Config, Source};
use agen::github::RetryPolicy;
use agen::ids::InstallationId;
use agen::server::{self, Running};
use agen::sim::{merge_json, SimConfig, Simulator};
use serde_json::{json, Value};

pub const INSTALLATION: u64 = 11;
pub const REPO: &str = "acme/app";
pub const ISSUE: u64 = 7;
pub const KEY: &str = include_str!("../../../fixtures/demo-app-key.pem");

pub struct Env {
    pub sim: Simulator,
    pub app: Running,
    pub repo_id: u64,
    pub url: String,
    dir: tempfile::TempDir,
}

/// Retries quick enough for tests, with the same shape as production's.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_backoff: Duration::from_millis(20),
        max_wait: Duration::from_secs(2),
    }
}

pub async fn seeded_sim() -> (Simulator, u64) {
    let sim = Simulator::start(SimConfig::demo()).await.unwrap();
    sim.add_installation(INSTALLATION, "acme", "Organization");
    let repo_id = sim.add_repo(INSTALLATION, REPO, true);
    sim.set_permission(REPO, "maintainer", "write");
    sim.set_permission(REPO, "owner", "admin");
    sim.set_permission(REPO, "reader", "read");
    sim.set_permission(REPO, "triager", "triage");
    sim.add_issue(
        REPO,
        ISSUE,
        "Login test is flaky",
        "It fails one run in ten.",
        "reporter",
    );
    (sim, repo_id)
}

pub fn config_pairs(sim: &Simulator, db: &str) -> Vec<(String, String)> {
    vec![
        ("APP_ID".into(), "1".into()),
        ("PRIVATE_KEY".into(), KEY.into()),
        ("WEBHOOK_SECRET".into(), sim.config().webhook_secret.clone()),
        ("GITHUB_API_URL".into(), sim.api_url()),
        ("DATABASE_URL".into(), format!("sqlite://{db}")),
        ("AGEN_LISTEN".into(), "127.0.0.1:0".into()),
        // Intake tests see queued jobs stay queued; job tests ask for workers.
        ("AGEN_WORKERS".into(), "0".into()),
    ]
}

pub async fn spawn() -> Env {
    let (sim, repo_id) = seeded_sim().await;
    spawn_with(sim, repo_id, &[]).await
}

pub async fn spawn_with(sim: Simulator, repo_id: u64, extra: &[(&str, &str)]) -> Env {
    spawn_configured(sim, repo_id, extra, "").await
}

/// [`spawn_with`], with `toml` as the `AGEN_CONFIG` file's text.
pub async fn spawn_configured(
    sim: Simulator,
    repo_id: u64,
    extra: &[(&str, &str)],
    toml: &str,
) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agen.db").display().to_string();
    let mut pairs = config_pairs(&sim, &db);
    let data = dir.path().join("data").display().to_string();
    pairs.push(("AGEN_DATA_DIR".into(), data));
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let source =
        Source::from_toml(toml, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
    let config = Config::load(&source).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = server::Options {
        retry: fast_retry(),
        sandbox_exe: Some(env!("CARGO_BIN_EXE_agen").into()),
        // Sessions find agen at /opt/agen/bin/agen (for `agen demo-agent`).
        programs: vec![agen::sandbox::Program {
            name: "agen".into(),
            host_path: env!("CARGO_BIN_EXE_agen").into(),
        }],
    };
    let app = server::start(&config, listener, options).await.unwrap();
    let url = format!("http://{}/webhook", app.addr);
    let env = Env {
        sim,
        app,
        repo_id,
        url,
        dir,
    };
    // Grants are reconciled from GitHub at start; wait for that before sending anything.
    env.wait_until("grants reconciled", || async {
        env.app
            .store
            .installation(InstallationId(INSTALLATION))
            .await
            .unwrap()
            .is_some()
    })
    .await;
    env
}

impl Env {
    /// The server's `DATABASE_URL` (for the CLI, which reads nothing else).
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("agen.db").display())
    }

    /// `AGEN_DATA_DIR`: mirrors, session logs.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub async fn wait_until<F, Fut>(&self, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !check().await {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signs and posts `payload` as `event`; returns the HTTP status.
    pub async fn send(&self, event: &str, payload: Value) -> u16 {
        let delivery = self.sim.webhook(event, payload);
        delivery.post(&self.sim, &self.url).await.unwrap()
    }

    /// Waits until intake has processed every stored delivery (copied from the journal
    /// first, then processed).
    pub async fn settle(&self) {
        self.wait_until("inbox drained", || async {
            self.app.inbox.uncopied() == 0
                && self.app.store.pending_deliveries().await.unwrap() == 0
        })
        .await;
    }

    /// Writes made after start-up (the start-up reconcile mints one listing token).
    pub fn writes_after_start(&self) -> Vec<String> {
        let writes = self.sim.writes();
        let start = format!("POST /app/installations/{INSTALLATION}/access_tokens");
        assert_eq!(
            writes.first(),
            Some(&start),
            "start-up mints one listing token"
        );
        writes[1..].to_vec()
    }

    pub fn repository(&self) -> Value {
        repository(self.repo_id, REPO)
    }

    pub fn comment_payload(&self, comment_id: u64, body: &str, login: &str) -> Value {
        comment_payload(self.repo_id, REPO, ISSUE, comment_id, body, login, "User")
    }

    pub fn labeled_payload(&self, label: &str, login: &str) -> Value {
        labeled_payload(self.repo_id, label, login)
    }

    pub async fn jobs(&self) -> Vec<agen::store::jobs::Job> {
        self.app.store.jobs().await.unwrap()
    }
}

/// A stable account id for a test login.
pub fn user_id(login: &str) -> u64 {
    login
        .bytes()
        .fold(5381u64, |h, b| h.wrapping_mul(33) ^ u64::from(b))
        % 100_000_000
}

/// An example payload from `shared/github/webhook-payloads/<event>/<file>` (the directory is
/// `AGEN_SHARED_GITHUB` or `../shared/github` beside the crate). Panics when the file is
/// missing or not JSON.
pub fn example_payload(event: &str, file: &str) -> Value {
    let dir = std::env::var("AGEN_SHARED_GITHUB")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/github").into());
    let path = format!("{dir}/webhook-payloads/{event}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `issues` `labeled` on the test issue, as GitHub sends it.
pub fn labeled_payload(repo_id: u64, label: &str, login: &str) -> Value {
    let mut p = example_payload("issues", "labeled.with-organization.payload.json");
    merge_json(
        &mut p,
        json!({
            "installation": { "id": INSTALLATION },
            "repository": repository(repo_id, REPO),
            "issue": { "number": ISSUE, "title": "Login test is flaky", "body": "It fails one run in ten." },
            "label": { "name": label },
            "sender": { "login": login, "id": user_id(login), "type": "User" },
        }),
    );
    p
}

pub fn repository(id: u64, full_name: &str) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap();
    json!({ "id": id, "name": name, "full_name": full_name, "private": true, "owner": { "login": owner } })
}

pub fn comment_payload(
    repo_id: u64,
    full_name: &str,
    issue: u64,
    comment_id: u64,
    body: &str,
    login: &str,
    user_type: &str,
) -> Value {
    let mut p = example_payload("issue_comment", "created.with-installation.payload.json");
    merge_json(
        &mut p,
        json!({
            "action": "created",
            "installation": { "id": INSTALLATION },
            "repository": repository(repo_id, full_name),
            "issue": { "number": issue, "title": "Login test is flaky", "body": "It fails one run in ten." },
            "comment": { "id": comment_id, "body": body, "user": { "login": login, "type": user_type } },
            "sender": { "login": login, "id": user_id(login), "type": user_type },
        }),
    );
    p
}

impl Env {
    /// A person writes `body` on the issue: the comment exists on GitHub, then its webhook
    /// arrives. Returns the comment id and agen's HTTP answer.
    pub async fn comment(&self, body: &str, login: &str) -> (u64, u16) {
        let id = self.sim.add_comment(REPO, ISSUE, body, login);
        let status = self
            .send("issue_comment", self.comment_payload(id, body, login))
            .await;
        (id, status)
    }

    /// Bodies of the comments agen wrote on the issue, oldest first.
    /// GETs `path` from agen's HTTP server: status, headers, body.
    pub async fn get(&self, path: &str) -> (u16, http::HeaderMap, String) {
        use http_body_util::{BodyExt, Empty};
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Empty<bytes::Bytes>>();
        let uri = format!("http://{}{path}", self.app.addr).parse().unwrap();
        let answer = client.get(uri).await.unwrap();
        let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    pub fn agen_comments(&self) -> Vec<String> {
        self.sim
            .comments(REPO, ISSUE)
            .into_iter()
            .filter(|c| c.user_login == "agen[bot]")
            .map(|c| c.body)
            .collect()
    }
}

/// Whatever a test did, agen must never have merged, approved, auto-merged, updated a branch,
/// written a workflow or pushed to a default branch.
impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let violations = self.sim.violations();
            assert!(
                violations.is_empty(),
                "forbidden GitHub calls: {violations:?}"
            );
        }
    }
}

/// A job queued straight in `store` (no webhook, no worker), as the payer its model calls are
/// charged to.
pub async fn payer_of_new_job(
    store: &agen::store::Store,
    delivery: &str,
    installation: u64,
    repo_id: u64,
    repo: &str,
) -> agen::store::model_calls::Payer {
    use agen::ids::{DeliveryId, IssueNumber, Login, RepoId, RepoName};
    use agen::store::jobs::{NewJob, Trigger};
    let job = store
        .create_job(&NewJob {
            delivery: DeliveryId(delivery.into()),
            installation: InstallationId(installation),
            repo_id: RepoId(repo_id),
            repo: RepoName(repo.into()),
            issue: IssueNumber(1),
            is_pull_request: false,
            trigger: Trigger::Comment,
            requested_by: Login("maintainer".into()),
            requested_by_id: None,
            instructions: String::new(),
            title: String::new(),
            body: String::new(),
        })
        .await
        .unwrap();
    agen::store::model_calls::Payer {
        job: job.id,
        repo_id: job.repo_id,
        repo: job.repo,
        installation: job.installation_id,
        agent: "default".into(),
    }
}
