//! Nothing is lost: the server process is killed (SIGKILL, no shutdown) right after it
//! answered 2xx to many concurrent deliveries, restarted on the same database, and every
//! accepted delivery ends as exactly one job and one status comment.

use crate::support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{seeded_sim, REPO};
use agen::sim::Simulator;
use agen::store::Store;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ISSUES: u64 = 40;

/// Starts `agen serve` on port 0 and returns it with the address it printed.
async fn start_agen(sim: &Simulator, db: &str) -> (Child, String) {
    start_agen_with(sim, db, &["serve"], "listening on http://", &[]).await
}

/// Starts `agen ARGS…` and waits for a line containing `ready`; returns what follows it.
async fn start_agen_with(
    sim: &Simulator,
    db: &str,
    args: &[&str],
    ready: &str,
    extra: &[(&str, &str)],
) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agen"));
    cmd.args(args)
        .env_clear()
        .env("RUST_LOG", "info")
        .env("LOG_FORMAT", "pretty");
    for (k, v) in support::config_pairs(sim, db) {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("agen said it was ready")
            .unwrap()
            .expect("agen exited before it was ready");
        if let Some((_, rest)) = line.split_once(ready) {
            break rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect::<String>();
        }
    };
    // Keep draining its output so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_intake_loses_nothing_and_repeats_nothing() {
    let (sim, repo_id) = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agen.db").display().to_string();
    let (mut first, addr) = start_agen(&sim, &db).await;
    let url = format!("http://{addr}/webhook");

    let mut deliveries = Vec::new();
    for issue in 1..=ISSUES {
        sim.add_issue(REPO, issue + 100, "Flaky", "", "reporter");
        let cid = sim.add_comment(REPO, issue + 100, "/agen fix it", "maintainer");
        let payload = support::comment_payload(
            repo_id,
            REPO,
            issue + 100,
            cid,
            "/agen fix it",
            "maintainer",
            "User",
        );
        deliveries.push((issue + 100, cid, sim.webhook("issue_comment", payload)));
    }
    let sends = deliveries.iter().map(|(_, _, d)| d.post(&sim, &url));
    let answers = futures_util::future::join_all(sends).await;
    // Kill mid-stream: some deliveries fully handled, some half-way, most not started.
    let posted = || {
        sim.writes()
            .iter()
            .filter(|w| w.ends_with("/comments"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while posted() < 8 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let accepted: Vec<_> = deliveries
        .iter()
        .zip(&answers)
        .filter(|(_, a)| matches!(a, Ok(202)))
        .map(|((issue, cid, d), _)| (*issue, *cid, d.id.clone()))
        .collect();
    assert_eq!(
        accepted.len(),
        ISSUES as usize,
        "every delivery answered 202: {answers:?}"
    );

    let statuses_before = sim
        .writes()
        .iter()
        .filter(|w| w.ends_with("/comments"))
        .count();
    eprintln!("killed with {statuses_before} of {ISSUES} status comments posted");
    // Some deliveries may be only in the inbox journal (answered, not yet copied into the
    // table): the restart must bring them in too.
    assert!(
        statuses_before < accepted.len(),
        "the kill must land while intake still has work, or this test proves nothing"
    );

    let (mut second, _) = start_agen(&sim, &db).await;
    // Started: the journal is copied before agen listens.
    let store = Store::open(&format!("sqlite://{db}")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.pending_deliveries().await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "intake did not finish after restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.start_kill().unwrap();

    let jobs = store.jobs().await.unwrap();
    assert_eq!(jobs.len(), accepted.len(), "one job per accepted delivery");
    for (issue, cid, delivery) in &accepted {
        let job = jobs
            .iter()
            .find(|j| &j.delivery_id.0 == delivery)
            .expect("job for delivery");
        assert_eq!(job.issue.0, *issue);
        let status: Vec<_> = sim
            .comments(REPO, *issue)
            .into_iter()
            .filter(|c| c.user_login == "agen[bot]")
            .collect();
        assert_eq!(status.len(), 1, "issue {issue}: exactly one status comment");
        assert!(status[0]
            .body
            .ends_with(&format!("<!-- agen:status:{} -->", job.id)));
        assert_eq!(job.status_comment_id.map(|c| c.0), Some(status[0].id));
        assert_eq!(
            sim.reactions(REPO, *cid),
            vec!["eyes"],
            "issue {issue}: one 👀"
        );
    }
    assert!(sim.violations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_only_and_intake_processes_share_the_database() {
    let (sim, repo_id) = seeded_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agen.db").display().to_string();
    let (mut web, addr) = start_agen_with(
        &sim,
        &db,
        &["serve", "--web-only"],
        "listening on http://",
        &[],
    )
    .await;
    let url = format!("http://{addr}/webhook");
    for n in 0..5 {
        let cid = sim.add_comment(REPO, support::ISSUE, "/agen go", "maintainer");
        let payload = support::comment_payload(
            repo_id,
            REPO,
            support::ISSUE,
            cid,
            "/agen go",
            "maintainer",
            "User",
        );
        assert_eq!(
            sim.webhook("issue_comment", payload)
                .post(&sim, &url)
                .await
                .unwrap(),
            202,
            "delivery {n}"
        );
    }
    assert!(
        sim.requests().is_empty(),
        "the web process alone never calls GitHub"
    );
    let (mut intake, _) = start_agen_with(&sim, &db, &["intake"], "agen intake running", &[]).await;
    let store = Store::open(&format!("sqlite://{db}")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The web process copies from its journal into the table; the intake process reads it.
    while store.jobs().await.unwrap().len() < 5 || store.pending_deliveries().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "intake did not drain the inbox");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.jobs().await.unwrap().len(), 5);
    web.start_kill().unwrap();
    intake.start_kill().unwrap();
}

/// `agen serve` processes running jobs on one database and data dir, against a simulator
/// whose repository is a git repository.
struct JobProcesses {
    sim: Simulator,
    repo_id: u64,
    dir: tempfile::TempDir,
}

impl JobProcesses {
    async fn new() -> JobProcesses {
        let (sim, repo_id) = seeded_sim().await;
        support::jobs::seed_repo(&sim, None);
        let dir = tempfile::tempdir().unwrap();
        JobProcesses { sim, repo_id, dir }
    }

    fn db(&self) -> String {
        self.dir.path().join("agen.db").display().to_string()
    }

    /// Starts `agen serve` with one worker running `agent` and a 2-second job lease.
    async fn start(&self, agent: &str) -> (Child, String) {
        let data = self.dir.path().join("data").display().to_string();
        let settings = [
            ("AGEN_WORKERS", "1"),
            ("AGEN_AGENT_COMMAND", agent),
            ("AGEN_JOB_LEASE_SECONDS", "2"),
            ("AGEN_DATA_DIR", data.as_str()),
        ];
        let ready = "listening on http://";
        start_agen_with(&self.sim, &self.db(), &["serve"], ready, &settings).await
    }

    /// The issue is labeled; the webhook goes to the agen at `addr`.
    async fn label(&self, addr: &str) {
        let payload = support::labeled_payload(self.repo_id, "agen", "maintainer");
        let delivery = self.sim.webhook("issues", payload);
        let status = delivery
            .post(&self.sim, &format!("http://{addr}/webhook"))
            .await
            .unwrap();
        assert_eq!(status, 202);
    }

    async fn store(&self) -> Store {
        Store::open(&format!("sqlite://{}", self.db()))
            .await
            .unwrap()
    }
}

/// A job whose agen is killed mid-run is taken over by the restarted agen once its lease
/// runs out, cleaned up and run again: one pull request, one completed check run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_run_is_run_again_once_and_opens_one_pull_request() {
    let jobs = JobProcesses::new().await;
    let (mut first, addr) = jobs
        .start("printf 'Hello, world!\\n' > greeting.txt; sleep 60")
        .await;
    jobs.label(&addr).await;
    let (sim, dir, store) = (&jobs.sim, &jobs.dir, jobs.store().await);
    let deadline = Instant::now() + Duration::from_secs(60);
    while store
        .jobs()
        .await
        .unwrap()
        .first()
        .is_none_or(|j| j.round != 1)
    {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().await.unwrap();

    let (_second, _) = jobs.start(support::jobs::GOOD_AGENT).await;
    let job = loop {
        let job = store.jobs().await.unwrap().remove(0);
        if job.timings.is_some() {
            break job;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(30),
            "{job:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    assert_eq!(job.attempts, 2, "taken over once");
    assert_eq!(sim.pulls(REPO).len(), 1);
    let runs = sim.check_runs(REPO);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "completed");
    let agen_comments: Vec<_> = sim
        .comments(REPO, support::ISSUE)
        .into_iter()
        .filter(|c| c.user_login == "agen[bot]")
        .collect();
    assert_eq!(agen_comments.len(), 1, "one status comment");
    assert!(
        agen_comments[0].body.contains(" opened #"),
        "{}",
        agen_comments[0].body
    );
    let jobs_dir = dir.path().join("data/jobs");
    let left: Vec<_> = std::fs::read_dir(&jobs_dir)
        .map(|d| d.count())
        .into_iter()
        .collect();
    assert!(
        left.iter().all(|n| *n == 0),
        "workspaces left behind: {left:?}"
    );
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

/// A job whose agen dies under it twice is not run a third time: it ends as failed, and the
/// issue says so. Nothing is pushed and no check run is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_twice_ends_as_failed_saying_so() {
    let jobs = JobProcesses::new().await;
    let (mut agen, addr) = jobs.start("sleep 60").await;
    jobs.label(&addr).await;
    let (sim, store) = (&jobs.sim, jobs.store().await);
    let deadline = Instant::now() + Duration::from_secs(90);
    for attempt in 1..=2 {
        while store
            .jobs()
            .await
            .unwrap()
            .first()
            .is_none_or(|j| j.attempts < attempt || j.round != 1)
        {
            assert!(Instant::now() < deadline, "attempt {attempt} never started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        agen.kill().await.unwrap();
        agen = jobs.start("sleep 60").await.0;
    }
    let job = loop {
        let job = store.jobs().await.unwrap().remove(0);
        if !job.state.is_active() {
            break job;
        }
        assert!(Instant::now() < deadline, "{job:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    assert_eq!(job.attempts, 3, "claimed a third time, and not run");
    // The status comment is edited right after the state is written.
    loop {
        let status = &sim.comments(REPO, support::ISSUE)[0];
        assert_eq!(status.user_login, "agen[bot]");
        if status
            .body
            .contains("agen stopped twice while running this job")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{}", status.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sim.pulls(REPO).is_empty());
    assert!(sim.check_runs(REPO).is_empty());
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    drop(agen);
}
