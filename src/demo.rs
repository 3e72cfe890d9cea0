//! `agen demo`: the whole flow that exists so far, against the built-in simulator, with no
//! account and no network. A maintainer labels an issue; agen verifies the signed webhook,
//! checks the grant and the person's permission, queues a job and answers on the issue.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::config::{Config, Source};
use crate::github::RetryPolicy;
use crate::sim::{SimConfig, Simulator};

const INSTALLATION: u64 = 1;
const REPO: &str = "demo-org/hello";
const ISSUE: u64 = 1;
const MAINTAINER: &str = "octo-maintainer";
const DEMO_KEY: &str = include_str!("../fixtures/demo-app-key.pem");

pub async fn run() -> anyhow::Result<()> {
    let sim = Simulator::start(SimConfig::demo()).await?;
    sim.add_installation(INSTALLATION, "demo-org", "Organization");
    let repo_id = sim.add_repo(INSTALLATION, REPO, true);
    sim.set_permission(REPO, MAINTAINER, "write");
    sim.add_issue(
        REPO,
        ISSUE,
        "Greet the world",
        "The greeting should say hello.",
        MAINTAINER,
    );
    println!(
        "GitHub simulator on {} with {REPO} (installation {INSTALLATION})",
        sim.api_url()
    );

    let dir = tempfile_dir()?;
    let db = dir.join("agen.db");
    let api_url = sim.api_url();
    let db_url = format!("sqlite://{}", db.display());
    let config = Config::load(&Source::from_pairs([
        ("APP_ID", "1"),
        ("PRIVATE_KEY", DEMO_KEY),
        ("WEBHOOK_SECRET", sim.config().webhook_secret.as_str()),
        ("GITHUB_API_URL", api_url.as_str()),
        ("DATABASE_URL", db_url.as_str()),
    ]))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = crate::server::start(&config, listener, RetryPolicy::default()).await?;
    println!("agen listening on http://{}", running.addr);

    let delivery = sim.webhook("issues", labeled_payload(repo_id));
    let status = delivery
        .post(&sim, &format!("http://{}/webhook", running.addr))
        .await?;
    println!(
        "\n{MAINTAINER} labels {REPO}#{ISSUE} `agen`; the signed webhook is answered {status}"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let jobs = running.store.jobs().await?;
        if let Some(job) = jobs.into_iter().find(|j| j.status_comment_id.is_some()) {
            break job;
        }
        anyhow::ensure!(Instant::now() < deadline, "no job was queued within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "\njob {}: {} on {}#{}, requested by @{}",
        job.id,
        job.state.as_str(),
        job.repo,
        job.issue,
        job.requested_by
    );
    println!("\nstatus comment on the issue:\n");
    for comment in sim.comments(REPO, ISSUE) {
        println!(
            "  {}: {}",
            comment.user_login,
            comment.body.replace('\n', "\n  ")
        );
    }
    println!("\nwhat agen did on GitHub:");
    for write in sim.writes() {
        println!("  {write}");
    }
    anyhow::ensure!(
        sim.violations().is_empty(),
        "the simulator saw forbidden calls: {:?}",
        sim.violations()
    );
    println!("\nThe sandboxed agent run and the pull request come next (issue 3 and 4).");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("agen-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn labeled_payload(repo_id: u64) -> serde_json::Value {
    let (owner, name) = REPO.split_once('/').unwrap_or_default();
    let user = json!({ "login": MAINTAINER, "id": 1001, "type": "User" });
    json!({
        "action": "labeled",
        "issue": { "number": ISSUE, "title": "Greet the world", "body": "The greeting should say hello.", "user": user },
        "label": { "name": "agen" },
        "repository": { "id": repo_id, "name": name, "full_name": REPO, "private": true,
                        "owner": { "login": owner, "type": "Organization" } },
        "installation": { "id": INSTALLATION },
        "sender": user,
    })
}
