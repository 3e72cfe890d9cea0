//! `agen demo`: the whole flow against the built-in simulator, with no account and no
//! network. A small repository is served over real git smart HTTP; a maintainer labels an
//! issue; agen verifies the signed webhook, checks the grant and the person's permission,
//! runs the demo agent and the repository's pipeline in the sandbox, and opens a pull request
//! with a check run, keeping one status comment up to date.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::config::{Config, Source};
use crate::sandbox::Program;
use crate::sim::model::{ModelSim, ModelSimConfig, Step};
use crate::sim::{SimConfig, Simulator};
use crate::store::jobs::Job;

const INSTALLATION: u64 = 1;
const REPO: &str = "demo-org/hello";
const ISSUE: u64 = 1;
const TITLE: &str = "Greet the world";
const BODY: &str =
    "`greeting.txt` says only \"Hello\"; it should greet the world, and `check.sh` should pass.";
const MAINTAINER: &str = "octo-maintainer";
const DEMO_KEY: &str = include_str!("../fixtures/demo-app-key.pem");
/// The demo's agent: agen itself, mounted into the session, asking the simulated model.
const DEMO_AGENT: &str = "/opt/agen/bin/agen demo-agent";
/// The simulated provider's key: held by agen, never seen by the session.
const DEMO_PROVIDER_KEY: &str = "sk-ant-demo-provider-key";
/// The demo repository, built into the binary so the demo runs from anywhere.
const REPO_FILES: &[(&str, &str)] = &[
    ("README.md", include_str!("../fixtures/demo-repo/README.md")),
    (
        "greeting.txt",
        include_str!("../fixtures/demo-repo/greeting.txt"),
    ),
    ("check.sh", include_str!("../fixtures/demo-repo/check.sh")),
    (
        ".github/agen.yml",
        include_str!("../fixtures/demo-repo/.github/agen.yml"),
    ),
];

pub async fn run() -> anyhow::Result<()> {
    let dir = TempDir::new()?;
    let sim = Simulator::start(SimConfig::demo()).await?;
    sim.add_installation(INSTALLATION, "demo-org", "Organization");
    let repo_id = sim.add_repo(INSTALLATION, REPO, true);
    sim.set_permission(REPO, MAINTAINER, "write");
    sim.add_issue(REPO, ISSUE, TITLE, BODY, MAINTAINER);
    let base = sim.seed_git_repo(REPO, &write_repo_files(&dir.0)?)?;
    println!(
        "GitHub simulator on {} with {REPO} (installation {INSTALLATION}), served over git smart HTTP",
        sim.api_url()
    );

    let model = ModelSim::start(ModelSimConfig {
        anthropic_key: DEMO_PROVIDER_KEY.into(),
        openai_key: "sk-demo-openai-unused".into(),
    })
    .await?;
    model.script(Step::text("Hello, world!"));
    println!(
        "model simulator (Anthropic Messages API) on {}",
        model.url()
    );

    let db_url = format!("sqlite://{}", dir.0.join("agen.db").display());
    let data_dir = dir.0.join("data").display().to_string();
    let config = Config::load(&Source::from_pairs([
        ("APP_ID", "1"),
        ("PRIVATE_KEY", DEMO_KEY),
        ("WEBHOOK_SECRET", sim.config().webhook_secret.as_str()),
        ("GITHUB_API_URL", sim.api_url().as_str()),
        ("DATABASE_URL", db_url.as_str()),
        ("AGEN_DATA_DIR", data_dir.as_str()),
        ("AGEN_WORKERS", "1"),
        ("AGEN_AGENT_COMMAND", DEMO_AGENT),
        ("ANTHROPIC_API_KEY", DEMO_PROVIDER_KEY),
        ("ANTHROPIC_BASE_URL", model.url().as_str()),
        ("AGEN_JOB_MAX_USD", "0.50"),
    ]))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let options = crate::server::Options {
        programs: vec![Program {
            name: "agen".into(),
            host_path: std::env::current_exe()?,
        }],
        ..crate::server::Options::default()
    };
    let running = crate::server::start(&config, listener, options).await?;
    println!("agen listening on http://{}", running.addr);

    let delivery = sim.webhook("issues", labeled_payload(repo_id));
    let status = delivery
        .post(&sim, &format!("http://{}/webhook", running.addr))
        .await?;
    println!(
        "\n{MAINTAINER} labels {REPO}#{ISSUE} `agen`; the signed webhook is answered {status}"
    );

    let job = wait_for_end(&running.store).await?;
    println!(
        "\njob {}: {} on {}#{}, requested by @{}, {} round(s)",
        job.id,
        job.state.as_str(),
        job.repo,
        job.issue,
        job.requested_by,
        job.round
    );
    let spend = running.store.job_spend(job.id).await?;
    println!("spent: {}", crate::texts::report::spend_line(&spend));
    for call in model.calls() {
        let key = call
            .headers
            .iter()
            .find(|(name, _)| name == "x-api-key")
            .map_or("", |(_, v)| v.as_str());
        let held = if key == DEMO_PROVIDER_KEY {
            "agen's key, added outside the sandbox"
        } else {
            "NOT agen's key"
        };
        println!("model call {} {} with {held}", call.method, call.path);
    }
    print_pull_request(&sim);
    if let Some(head) = &job.head_sha {
        println!("\ndiff {}..{}:\n", short(&base), short(head));
        println!("{}", diff(&sim, &base, head)?);
    }
    for run in sim.check_runs(REPO) {
        println!(
            "check run `{}` on {}: {} / {}",
            run["name"].as_str().unwrap_or_default(),
            short(run["head_sha"].as_str().unwrap_or_default()),
            run["status"].as_str().unwrap_or_default(),
            run["conclusion"].as_str().unwrap_or_default()
        );
    }
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
    anyhow::ensure!(
        job.state.as_str() == "succeeded",
        "the demo job ended {}: {}",
        job.state.as_str(),
        job.detail.unwrap_or_default()
    );
    println!("\nThe pull request waits for a person to review and merge it; agen never merges.");
    Ok(())
}

async fn wait_for_end(store: &crate::store::Store) -> anyhow::Result<Job> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Timings are recorded last, once GitHub shows the outcome too.
        let jobs = store.jobs().await?;
        if let Some(job) = jobs.into_iter().find(|j| j.timings.is_some()) {
            return Ok(job);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the demo job did not end within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first seven characters of a sha, as GitHub shows it.
fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn print_pull_request(sim: &Simulator) {
    for pr in sim.pulls(REPO) {
        let reviewers: Vec<&str> = pr["requested_reviewers"]
            .as_array()
            .map(|r| r.iter().filter_map(|u| u["login"].as_str()).collect())
            .unwrap_or_default();
        println!(
            "\npull request #{}: {}\n  {} → {}{}, review requested from {}\n",
            pr["number"],
            pr["title"].as_str().unwrap_or_default(),
            pr["head"]["ref"].as_str().unwrap_or_default(),
            pr["base"]["ref"].as_str().unwrap_or_default(),
            if pr["draft"] == true { " (draft)" } else { "" },
            reviewers.join(", ")
        );
        let body = pr["body"].as_str().unwrap_or_default();
        println!("  {}", body.replace('\n', "\n  "));
    }
}

/// `git diff base head` in the simulator's repository.
fn diff(sim: &Simulator, base: &str, head: &str) -> anyhow::Result<String> {
    let dir = sim
        .git_dir(REPO)
        .ok_or_else(|| anyhow::anyhow!("the demo repository has no git directory"))?;
    let out = std::process::Command::new("git")
        .args(["--no-pager", "diff", "--no-color", base, head])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .current_dir(dir)
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write_repo_files(root: &Path) -> anyhow::Result<PathBuf> {
    let repo = root.join("repo");
    for (path, text) in REPO_FILES {
        let file = repo.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, text)?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        repo.join("check.sh"),
        std::fs::Permissions::from_mode(0o755),
    )?;
    Ok(repo)
}

/// A scratch directory removed when the demo ends, however it ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("agen-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn labeled_payload(repo_id: u64) -> serde_json::Value {
    let (owner, name) = REPO.split_once('/').unwrap_or_default();
    let user = json!({ "login": MAINTAINER, "id": 1001, "type": "User" });
    json!({
        "action": "labeled",
        "issue": { "number": ISSUE, "title": TITLE, "body": BODY, "user": user },
        "label": { "name": "agen" },
        "repository": { "id": repo_id, "name": name, "full_name": REPO, "private": true,
                        "owner": { "login": owner, "type": "Organization" } },
        "installation": { "id": INSTALLATION },
        "sender": user,
    })
}
