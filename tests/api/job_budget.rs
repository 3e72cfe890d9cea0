//! Budgets and keys attacked end to end: a whole job (webhook → job → sandbox → publish) with
//! the strict model simulator as the upstream provider, and agents that hunt for the real key,
//! loop on the model until refused, find the month already spent, or spin on the CPU.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::jobs::{seed_repo, spawn_jobs};
use crate::support::{seeded_sim, spawn_configured, Env, INSTALLATION, ISSUE, REPO};
use agen::budget::MicroUsd;
use agen::sim::model::{ModelCall, ModelSim, ModelSimConfig, SimUsage, Step};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::Value;

const BRANCH: &str = "agen/issue-7-login-test-is-flaky";
const HAIKU: &str = "claude-haiku-4-5";

/// A key shaped like a real Anthropic one, random, so finding it anywhere means it leaked.
fn canary() -> String {
    let tail = Alphanumeric.sample_string(&mut rand::thread_rng(), 40);
    format!("sk-ant-api03-CANARY-{tail}")
}

/// One canary for the whole process, also set in the process environment, where a production
/// `agen serve` has its key: the server runs in this process, so a session command given
/// agen's own environment would hold it. (The sandbox's init, which would also inherit it
/// without its `env_clear`, cannot be read from the session: its environ is not readable.)
fn process_canary() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = canary();
        std::env::set_var("ANTHROPIC_API_KEY", &key);
        key
    })
}

struct Budget {
    env: Env,
    model: ModelSim,
    key: String,
}

/// The job tests' setup with a model simulator as the Anthropic upstream, holding `key`.
async fn spawn_budget(
    key: &str,
    agent: &str,
    agen_yml: Option<&str>,
    extra: &[(&str, &str)],
) -> Budget {
    let model = ModelSim::start(ModelSimConfig {
        anthropic_key: key.into(),
        openai_key: "sk-openai-not-configured".into(),
    })
    .await
    .unwrap();
    let url = model.url();
    let mut pairs = vec![
        ("ANTHROPIC_API_KEY", key),
        ("ANTHROPIC_BASE_URL", url.as_str()),
    ];
    pairs.extend_from_slice(extra);
    let env = spawn_jobs(agent, agen_yml, &pairs).await;
    Budget {
        env,
        model,
        key: key.to_string(),
    }
}

fn text(file: Option<Vec<u8>>) -> String {
    String::from_utf8(file.expect("file exists")).unwrap()
}

/// Realistic figures for one call: less input than the request has bytes.
fn usage(input: u64, output: u64) -> SimUsage {
    SimUsage {
        input,
        output,
        ..SimUsage::default()
    }
}

fn check_runs(env: &Env) -> Vec<Value> {
    env.sim.check_runs(REPO)
}

/// Looks everywhere a careless setup would leave the provider's key: the environment, every
/// process's environment and command line, and the files it can read. The patterns are written
/// so they cannot match themselves (in a command line or in this script).
const KEY_HUNTER: &str = r#"
{
  echo "== env"; env
  for f in /proc/[0-9]*/environ; do echo "== $f"; tr '\0' '\n' < "$f"; echo; done
  for f in /proc/[0-9]*/cmdline; do echo "== $f"; tr '\0' ' ' < "$f"; echo; done
} > hunt.txt 2>&1
/opt/agen/bin/agen demo-agent >> hunt.txt 2>&1 || echo "the model call failed" >> hunt.txt
hits=$(timeout 60 grep -r -l -a -s --exclude=pagemap --exclude=mem --exclude=kcore \
  -e 'sk-ant-api0[3]-CANAR[Y]' -e 'sk-ant-api0[3]' /tmp /work /etc /opt /proc/self /run /var 2>/dev/null)
echo "canary hits: [$hits]" >> hunt.txt
cat hunt.txt
"#;

#[tokio::test]
async fn the_real_key_never_enters_a_session() {
    let b = spawn_budget(process_canary(), KEY_HUNTER, None, &[]).await;
    let (env, key) = (&b.env, b.key.as_str());
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");

    let found = text(env.sim.file_at(REPO, BRANCH, "hunt.txt"));
    assert!(found.contains("canary hits: []"), "the hunt found: {found}");
    // The hunt really looked: at the session's environment, its init's, and the gateway.
    assert!(found.contains("== /proc/1/environ"), "{found}");
    assert!(found.contains("AGEN_TASK_FILE="), "{found}");
    assert!(
        found.contains("ANTHROPIC_BASE_URL=http://127.0.0.1:3129\n"),
        "{found}"
    );
    let token = found
        .lines()
        .find_map(|l| l.strip_prefix("ANTHROPIC_API_KEY="))
        .expect("the session has a key")
        .to_string();
    assert!(token.starts_with("agen-job-"), "{token}");
    assert!(found.contains("the model said: ok"), "{found}");
    assert!(!found.contains(key), "the agent found the key");

    // Nowhere agen writes: the session log, the pushed files, the PR, the check, the comments.
    let log = env.session_log(&job);
    assert!(
        log.contains("canary hits: []"),
        "the hunt's output is logged: {log}"
    );
    assert!(!log.contains(key), "the key is in the session log");
    let commit = env.sim.commit_at(REPO, BRANCH).unwrap();
    assert_eq!(commit.changed_paths, ["greeting.txt", "hunt.txt"]);
    for path in &commit.changed_paths {
        assert!(
            !text(env.sim.file_at(REPO, BRANCH, path)).contains(key),
            "{path}"
        );
    }
    assert!(!commit.message.contains(key));
    let pulls = serde_json::to_string(&env.pulls()).unwrap();
    assert!(!pulls.contains(key), "the key is in the pull request");
    assert!(!serde_json::to_string(&check_runs(env))
        .unwrap()
        .contains(key));
    for comment in env.sim.comments(REPO, ISSUE) {
        assert!(!comment.body.contains(key), "{}", comment.body);
    }

    // The one call reached the provider with the real key, added outside; the job's token
    // did not go on.
    let calls = b.model.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!((call.path.as_str(), call.status), ("/v1/messages", 200));
    assert_eq!(call.header("x-api-key"), Some(key));
    assert_eq!(call.header("authorization"), None);
    for (name, value) in &call.headers {
        assert!(!value.contains(&token), "the job token went on in {name}");
        assert!(!value.contains("agen-job-"), "{name}: {value}");
    }
}

/// Calls the model until a call fails (at most 30 times), then says how many succeeded.
const LOOPING_AGENT: &str = r#"
n=0
while [ "$n" -lt 30 ] && /opt/agen/bin/agen demo-agent; do n=$((n+1)); done
echo "$n calls" > calls.txt
"#;

#[tokio::test]
async fn a_looping_agent_is_stopped_at_the_cap_never_past_it() {
    let yml = "budget:\n  job_usd: 0.01\n";
    let b = spawn_budget(&canary(), LOOPING_AGENT, Some(yml), &[]).await;
    let env = &b.env;
    for _ in 0..40 {
        b.model
            .script(Step::text("Hello, world!").usage(usage(100, 500)));
    }
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "budget_exceeded", "{job:#?}");

    // Under the cap, counted where it is enforced.
    let spend = env.app.store.job_spend(job.id).await.unwrap();
    assert_eq!(spend.budget, Some(MicroUsd(10_000)));
    assert!(spend.spend <= MicroUsd(10_000), "spent {}", spend.spend);
    let n: u64 = text(env.sim.file_at(REPO, BRANCH, "calls.txt"))
        .trim()
        .strip_suffix(" calls")
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 1, "more than one call fitted under $0.01: {n}");
    assert!(n < 30, "the loop ended on a refusal, not its bound");
    // Every call that succeeded reached the provider and is charged; the refused one did not.
    let calls: Vec<ModelCall> = b.model.calls();
    assert_eq!(calls.len() as u64, n, "{calls:#?}");
    assert!(calls.iter().all(|c| c.status == 200));
    assert_eq!(spend.model_calls, n);
    let in_flight: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM model_calls WHERE job_id = $1 AND cost_micro IS NULL",
    )
    .bind(job.id.0)
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    assert_eq!(in_flight, 0, "every call was settled");
    let log = env.session_log(&job);
    assert_eq!(
        log.matches("the model answered 402 Payment Required")
            .count(),
        1,
        "exactly one call was refused, by the budget: {log}"
    );
    assert!(log.contains("billing_error"), "{log}");
    assert!(log.contains("`budget.job_usd`"), "{log}");

    // The agent's work stands, as a draft with a failed check that says why.
    let pulls = env.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["draft"], true);
    let runs = check_runs(env);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["conclusion"], "failure");
    assert_eq!(runs[0]["output"]["title"], "Spend cap reached");
    let status = env.status_comment(&job);
    assert!(status.contains("`budget.job_usd`"), "{status}");
    let line = format!("Spent: {} of $0.01 · {n} model calls · ", spend.spend);
    assert!(status.contains(&line), "{line:?} in {status}");
}

/// Leaves a mark that it ran, then asks the model once.
const MARKING_AGENT: &str =
    "echo \"ran in round $AGEN_ROUND\" > ran.txt && /opt/agen/bin/agen demo-agent";

#[tokio::test]
async fn a_spent_month_stops_the_next_job_before_any_session() {
    let b = spawn_budget(
        &canary(),
        MARKING_AGENT,
        None,
        &[("AGEN_REPO_MONTHLY_USD", "0.01")],
    )
    .await;
    let env = &b.env;
    b.model
        .script(Step::text("Hello, world!").usage(usage(100, 500)));
    env.label_issue().await;
    let first = env.job_ended(1).await;
    assert_eq!(first.state.as_str(), "succeeded", "{first:#?}");
    let spent = env.app.store.job_spend(first.id).await.unwrap().spend;
    assert_eq!(spent, MicroUsd(2_600), "100 in at $1/M, 500 out at $5/M");

    // The rest of the month's $0.01 went on an earlier call of this repository.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let rest = 10_000 - spent.0;
    sqlx::query(
        "INSERT INTO model_calls (job_id, repo_id, repo, installation_id, month, provider,
             route, model, reserved_micro, cost_micro, status, outcome, started_at)
         VALUES ($1, $2, $3, $4, $5, 'anthropic', 'messages', $6, $7, $7, 200, 'completed', $8)",
    )
    .bind(first.id.0)
    .bind(env.repo_id as i64)
    .bind(REPO)
    .bind(INSTALLATION as i64)
    .bind(&month)
    .bind(HAIKU)
    .bind(rest)
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(env.app.store.pool())
    .await
    .unwrap();

    env.comment("/agen retry", "maintainer").await;
    let second = env.job_ended(2).await;
    assert_eq!(second.state.as_str(), "budget_exceeded", "{second:#?}");
    assert_eq!(second.round, 0, "no round started");
    assert_eq!(b.model.calls().len(), 1, "no new model call");
    let timings: Value = serde_json::from_str(second.timings.as_deref().unwrap()).unwrap();
    assert_eq!(timings["sandbox_ms"], 0, "no session ran: {timings}");
    assert!(
        !env.data_dir()
            .join(format!("logs/job-{}.log", second.id))
            .exists(),
        "no session output"
    );
    assert_eq!(env.agen_branches(), [format!("refs/heads/{BRANCH}")]);
    assert_eq!(env.pulls().len(), 1, "only the first job's");
    assert_eq!(
        text(env.sim.file_at(REPO, BRANCH, "ran.txt")),
        "ran in round 1\n",
        "the mark is the first job's"
    );
    let status = env.status_comment(&second);
    assert!(status.contains("AGEN_REPO_MONTHLY_USD"), "{status}");
    assert!(status.contains("Nothing was pushed."), "{status}");
    assert!(status.contains("0 model calls"), "{status}");
}

#[tokio::test]
async fn an_agents_spent_month_stops_its_job_in_any_repository() {
    let key = canary();
    let model = ModelSim::start(ModelSimConfig {
        anthropic_key: key.clone(),
        openai_key: "sk-openai-not-configured".into(),
    })
    .await
    .unwrap();
    let url = model.url();
    let (sim, repo_id) = seeded_sim().await;
    seed_repo(&sim, None);
    let toml = format!(
        "[agents.marker]\ncommand = \"{}\"\nmonthly_usd = 0.01\n",
        MARKING_AGENT.replace('"', "\\\"")
    );
    let pairs = [
        ("AGEN_WORKERS", "1"),
        ("ANTHROPIC_API_KEY", key.as_str()),
        ("ANTHROPIC_BASE_URL", url.as_str()),
    ];
    let env = spawn_configured(sim, repo_id, &pairs, &toml).await;

    // The agent's $0.01 for the month went on a job of another repository and installation.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let elsewhere: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (delivery_id, installation_id, repo_id, repo, issue, is_pull_request,
             state, trig, requested_by, instructions, created_at, updated_at, timings)
         VALUES ('elsewhere', 77, 999, 'other/repo', 1, 0, 'succeeded', 'label', 'someone', '',
             0, 0, '{}')
         RETURNING id",
    )
    .fetch_one(env.app.store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO model_calls (job_id, repo_id, repo, installation_id, month, provider,
             route, model, reserved_micro, cost_micro, status, outcome, started_at, agent)
         VALUES ($1, 999, 'other/repo', 77, $2, 'anthropic', 'messages', $3, 10000, 10000, 200,
             'completed', $4, 'marker')",
    )
    .bind(elsewhere)
    .bind(&month)
    .bind(HAIKU)
    .bind(chrono::Utc::now().timestamp_millis())
    .execute(env.app.store.pool())
    .await
    .unwrap();

    env.label_issue().await;
    // (The first job in the store is that other repository's.)
    let job = env.job_ended(2).await;
    assert_eq!(job.repo.0, REPO);
    assert_eq!(job.state.as_str(), "budget_exceeded", "{job:#?}");
    assert_eq!(job.round, 0, "no round started");
    assert!(model.calls().is_empty(), "no model call");
    let status = env.status_comment(&job);
    assert!(
        status.contains("this agent's monthly spend cap of $0.01 (`monthly_usd`"),
        "{status}"
    );
    assert!(status.contains("Nothing was pushed."), "{status}");
    assert!(env.pulls().is_empty());
}

#[tokio::test]
async fn the_cpu_budget_ends_a_spinning_pipeline() {
    let yml = "pipeline: [\"while :; do :; done\"]\n";
    let b = spawn_budget(
        &canary(),
        "printf 'Hello, world!\\n' > greeting.txt",
        Some(yml),
        &[("AGEN_JOB_CPU_MINUTES", "0.05")],
    )
    .await;
    let env = &b.env;
    let asked = Instant::now();
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert!(
        asked.elapsed() < Duration::from_secs(120),
        "the job ended long before its 30 minutes: {:?}",
        asked.elapsed()
    );
    assert_eq!(job.state.as_str(), "budget_exceeded", "{job:#?}");
    assert_eq!(job.round, 1, "no round after the budget ran out");
    let spend = env.app.store.job_spend(job.id).await.unwrap();
    assert!(
        spend.cpu_seconds >= 2,
        "most of the 3 s were used: {spend:?}"
    );
    let cpu_ms: i64 = sqlx::query_scalar("SELECT cpu_ms FROM jobs WHERE id = $1")
        .bind(job.id.0)
        .fetch_one(env.app.store.pool())
        .await
        .unwrap();
    // The whole-tree watch ends it within a tick or so; RLIMIT_CPU (3 s, then SIGKILL at 4 s)
    // is the backstop.
    assert!(cpu_ms < 4_000, "{cpu_ms} ms of CPU");
    let status = env.status_comment(&job);
    assert!(status.contains("`budget.cpu_minutes`"), "{status}");
    assert!(status.contains("AGEN_JOB_CPU_MINUTES"), "{status}");
    let pulls = env.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["draft"], true);
    let body = pulls[0]["body"].as_str().unwrap();
    assert!(
        body.contains("**Pipeline:** the job's CPU budget was used up."),
        "{body}"
    );
    assert!(
        body.contains("- ⏹ `while :; do :; done` (did not finish)"),
        "{body}"
    );
    let runs = check_runs(env);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["conclusion"], "failure");
    assert_eq!(runs[0]["output"]["title"], "CPU budget used up");
    assert!(b.model.calls().is_empty());
}

/// Runs the agen binary against the test's database.
async fn agen_cli(env: &Env, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_agen"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", env.database_url())
        .output()
        .await
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

async fn metrics(env: &Env) -> String {
    let (status, _, body) = env.get("/metrics").await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn the_cli_and_metrics_show_what_a_job_spent() {
    let agent = "/opt/agen/bin/agen demo-agent && /opt/agen/bin/agen demo-agent";
    let b = spawn_budget(&canary(), agent, None, &[]).await;
    let env = &b.env;
    b.model
        .script(Step::text("Hello, world!").usage(usage(100, 20)));
    b.model.script(Step::text("Hello, world!").usage(SimUsage {
        input: 300,
        output: 40,
        cache_write: 0,
        cache_read: 1_000,
    }));
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    assert_eq!(b.model.calls().len(), 2);
    // $1/M in, $5/M out, $0.10/M cache reads: 100 + 100, then 300 + 200 + 100 micro-dollars.
    let (usd, tokens_in, tokens_out) = (0.0008, 1_400, 60);
    let cpu = env.app.store.job_spend(job.id).await.unwrap().cpu_seconds;

    let list: Value =
        serde_json::from_str(&stdout(&agen_cli(env, &["jobs", "list", "--json"]).await)).unwrap();
    let line = &list.as_array().unwrap()[0];
    assert_eq!(line["id"], job.id.0, "{line:#}");
    assert_eq!(line["state"], "succeeded");
    assert_eq!(line["spend_usd"], usd, "{line:#}");
    assert_eq!(line["model_calls"], 2);
    assert_eq!(line["tokens_in"], tokens_in);
    assert_eq!(line["tokens_out"], tokens_out);
    assert_eq!(line["cpu_seconds"], cpu);
    assert_eq!(line["budget_usd"], 5.0);

    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let rows: Value =
        serde_json::from_str(&stdout(&agen_cli(env, &["spend", "--json"]).await)).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{ "month": month, "installation_id": INSTALLATION, "repo": REPO,
            "spend_usd": usd, "model_calls": 2, "tokens_in": tokens_in,
            "tokens_out": tokens_out }])
    );
    let table = stdout(&agen_cli(env, &["spend", "--repo", REPO]).await);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[1..],
        [vec![month.as_str(), REPO, "$0.0008", "2", "1400", "60"]],
        "{table}"
    );
    let other = stdout(&agen_cli(env, &["spend", "--repo", "acme/other"]).await);
    assert!(other.contains("(no model calls recorded)"), "{other}");

    let bad = agen_cli(env, &["spend", "--month", "2026-13"]).await;
    assert!(!bad.status.success());
    assert!(bad.stdout.is_empty());
    let err = String::from_utf8(bad.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("2026-13") && err.contains("YYYY-MM"), "{err}");

    let text = metrics(env).await;
    let labels = format!("{{repo=\"{REPO}\",model=\"{HAIKU}\"}}");
    assert!(
        text.lines()
            .any(|l| l == format!("agen_model_calls_total{labels} 2")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == format!("agen_model_spend_usd_total{labels} 0.000800")),
        "{text}"
    );
    // The job, by its end state, in the duration and queue-wait histograms, none queued.
    for line in [
        "agen_jobs{state=\"succeeded\"} 1",
        "agen_queue_depth 0",
        "agen_job_duration_seconds_count 1",
        "agen_job_duration_seconds_bucket{le=\"+Inf\"} 1",
        "agen_job_queue_wait_seconds_count 1",
        "agen_egress_refusals_total 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
}

/// Should the key come back into a session anyway (an upstream or a proxy in front of it that
/// echoes it), agen holds it as a secret: never pushed, never logged.
#[tokio::test]
async fn a_key_echoed_back_by_the_upstream_is_never_pushed_or_logged() {
    let key = canary();
    let b = spawn_budget(&key, "/opt/agen/bin/agen demo-agent", None, &[]).await;
    let env = &b.env;
    b.model.script(Step::text(&key));
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(b.model.calls().len(), 1, "the model was asked");
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    assert!(env.agen_branches().is_empty(), "nothing was pushed");
    let status = env.status_comment(&job);
    assert!(status.contains("`greeting.txt` line 1"), "{status}");
    assert!(!status.contains(&key), "{status}");
    let log = env.session_log(&job);
    assert!(log.contains("the model said: "), "{log}");
    assert!(!log.contains(&key), "the key is in the session log: {log}");
}
