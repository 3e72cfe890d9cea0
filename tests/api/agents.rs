//! Real agents end to end: the Claude Code CLI itself (installed on the host, seen read-only
//! in the sandbox) runs as the `claude-code` preset of a named agent, against the strict model
//! simulator through agen's gateway, edits the repository with its own tools, and the job
//! ends with a pull request. The simulator holds the real key; the session only a job token.

use crate::support::jobs::{seed_repo, PIPELINE};
use crate::support::{seeded_sim, spawn_configured, Env, REPO};
use agen::sim::model::{ModelCall, ModelSim, ModelSimConfig, Step};
use agen::store::jobs::{Job, JobState};
use serde_json::json;

const KEY: &str = "sk-ant-api03-agents-test-real-key";
const BRANCH: &str = "agen/issue-7-login-test-is-flaky";
const AGENTS: &str = r#"
default_agent = "claude"

[agents.claude]
preset = "claude-code"
models = ["claude-sonnet-4-5", "claude-haiku-4-5"]

[agents.script]
command = "true"
"#;

async fn spawn(toml: &str, agen_yml: &str) -> (Env, ModelSim) {
    spawn_for(Provider::Anthropic, toml, agen_yml).await
}

/// The provider whose key (the simulator's) and base URL (the simulator's) agen is given;
/// the other provider is not configured.
enum Provider {
    Anthropic,
    OpenAi,
}

async fn spawn_for(provider: Provider, toml: &str, agen_yml: &str) -> (Env, ModelSim) {
    let (anthropic_key, openai_key) = match provider {
        Provider::Anthropic => (KEY, "sk-openai-not-configured"),
        Provider::OpenAi => ("sk-ant-not-configured", OPENAI_KEY),
    };
    let model = ModelSim::start(ModelSimConfig {
        anthropic_key: anthropic_key.into(),
        openai_key: openai_key.into(),
    })
    .await
    .unwrap();
    let (key_var, key, url_var, url) = match provider {
        Provider::Anthropic => ("ANTHROPIC_API_KEY", KEY, "ANTHROPIC_BASE_URL", model.url()),
        Provider::OpenAi => (
            "OPENAI_API_KEY",
            OPENAI_KEY,
            "OPENAI_BASE_URL",
            format!("{}/v1", model.url()),
        ),
    };
    let (sim, repo_id) = seeded_sim().await;
    seed_repo(&sim, Some(agen_yml));
    let pairs = [
        ("AGEN_WORKERS", "1"),
        ("AGEN_JOB_LEASE_SECONDS", "2"),
        (key_var, key),
        (url_var, url.as_str()),
    ];
    (spawn_configured(sim, repo_id, &pairs, toml).await, model)
}

fn summary(calls: &[ModelCall]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            let model = c.body.get("model").and_then(|m| m.as_str()).unwrap_or("-");
            format!("{} {} {} {model}", c.status, c.method, c.path)
        })
        .collect()
}

/// Scripts Claude Code's fix: read greeting.txt (it writes only files it has read), write
/// the greeting with its own Write tool, then answer `done`.
fn script_claude_fix(model: &ModelSim, done: &str) {
    model.script(Step::tool_call(
        "Read",
        json!({"file_path": "/work/greeting.txt"}),
    ));
    model.script(Step::tool_call(
        "Write",
        json!({"file_path": "/work/greeting.txt", "content": "Hello, world!\n"}),
    ));
    model.script(Step::text(done));
}

/// Runs the job, expecting it to succeed; returns it, its session log and the model calls.
async fn run_to_success(env: &Env, model: &ModelSim) -> (Job, String, Vec<ModelCall>) {
    let job = env.run_one().await;
    let log = env.session_log(&job);
    let calls = model.calls();
    eprintln!("model calls: {:#?}", summary(&calls));
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}\n{log}");
    (job, log, calls)
}

/// What every agent's fix shows alike: greeting.txt greets the world on agen's branch, in
/// agen's one pull request (whose body quotes `pr_summary` when given); the pipeline passed;
/// nothing tried to leave through the egress proxy; and the status comment's spend line
/// counts every model call the agent made, at least `min_calls`.
async fn assert_the_fix_landed(
    env: &Env,
    job: &Job,
    log: &str,
    pr_summary: Option<&str>,
    min_calls: u64,
) {
    assert_eq!(
        env.sim.file_at(REPO, BRANCH, "greeting.txt"),
        Some(b"Hello, world!\n".to_vec())
    );
    let pulls = env.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(pulls[0]["head"]["ref"], BRANCH);
    if let Some(summary) = pr_summary {
        let body = pulls[0]["body"].as_str().unwrap_or_default();
        assert!(body.contains(&format!("```text\n{summary}\n```")), "{body}");
    }
    assert!(log.contains("ok: greeting.txt greets the world"), "{log}");
    assert!(!log.contains("egress refused"), "{log}");
    let status = env.status_comment(job);
    let spend = env.app.store.job_spend(job.id).await.unwrap();
    assert!(spend.model_calls >= min_calls, "{spend:?}");
    assert!(
        status.contains(&format!("{} model calls", spend.model_calls)),
        "{status}"
    );
}

/// The provider saw `header: value` (the real key) on every call, never the job's token,
/// and answered each 200.
fn assert_the_real_key_on_every_call(calls: &[ModelCall], header: &str, value: &str) {
    assert!(!calls.is_empty());
    for call in calls {
        assert_eq!(call.header(header), Some(value), "{call:?}");
        let seen = format!("{:?} {}", call.headers, call.body);
        assert!(
            !seen.contains("agen-job-"),
            "the job token reached the provider"
        );
        assert_eq!(call.status, 200, "{:#?}", summary(calls));
    }
}

#[tokio::test]
async fn claude_code_writes_the_fix_through_the_gateway() {
    let (env, model) = spawn(AGENTS, PIPELINE).await;
    // What the model "decides": Claude Code's fix, then it says it is done.
    script_claude_fix(&model, "I made greeting.txt greet the world.");
    let (job, log, calls) = run_to_success(&env, &model).await;

    // The change is Claude Code's own, on agen's branch, in a pull request. Claude Code
    // wrote no summary file: its last message is the pull request's summary. The spend
    // line counts every call the CLI made.
    let said = "I made greeting.txt greet the world.";
    assert_the_fix_landed(&env, &job, &log, Some(said), 3).await;
    // The session log reads as steps, the raw events after them.
    assert!(log.contains("\ntool Read greeting.txt\n"), "{log}");
    assert!(log.contains("\ntool Write greeting.txt\n"), "{log}");
    assert!(
        log.contains("\nagent done (success): I made greeting.txt greet the world.\n"),
        "{log}"
    );
    assert!(log.contains("==> round 1: agent (raw events)\n"), "{log}");
    assert!(log.contains("\"name\":\"Write\""), "{log}");
    assert!(log.contains("\"subtype\":\"success\""), "{log}");

    // The simulator saw the real key on every call, never the job's token, and only the
    // agent's models.
    assert_the_real_key_on_every_call(&calls, "x-api-key", KEY);
    for call in &calls {
        if let Some(m) = call.body.get("model").and_then(|m| m.as_str()) {
            assert!(m == "claude-sonnet-4-5" || m == "claude-haiku-4-5", "{m}");
        }
    }
}

#[tokio::test]
async fn a_model_the_agent_does_not_name_is_refused_by_the_gateway() {
    // The agent asks Claude Code for a model outside its list: the gateway answers 400 in
    // Anthropic's shape naming the allowed ones, and the provider never sees the call.
    let toml = r#"
[agents.claude]
command = "claude -p hello --model claude-opus-4-1 --output-format stream-json --verbose"
models = ["claude-sonnet-4-5"]
"#;
    let (env, model) = spawn(toml, "max_rounds: 1\n").await;
    let job = env.run_one().await;
    let log = env.session_log(&job);
    // Claude Code reports the API error: the agent failed, and the issue says why.
    assert_eq!(job.state, JobState::Failed, "{job:#?}\n{log}");
    let status = env.status_comment(&job);
    assert!(
        status.contains("API Error: 400 agen: model claude-opus-"),
        "{status}"
    );
    assert!(
        log.contains("API Error: 400 agen: model claude-opus-")
            && log.contains("is not one this job's agent may use; use one of: claude-sonnet-4-5"),
        "{log}"
    );
    let generating: Vec<_> = model
        .calls()
        .into_iter()
        .filter(|c| c.path.starts_with("/v1/messages"))
        .collect();
    assert!(generating.is_empty(), "{:#?}", summary(&generating));
}

#[tokio::test]
async fn an_unknown_agent_or_model_in_agen_yml_is_said_on_the_issue() {
    let (env, model) = spawn(AGENTS, "agent: claude\nmodel: gpt-5\n").await;
    let job = env.run_one().await;
    assert_eq!(job.state, JobState::Failed);
    let status = env.status_comment(&job);
    assert!(
        status.contains(
            "`model` is `gpt-5`, which the agent `claude` does not offer (its models: \
             claude-sonnet-4-5, claude-haiku-4-5)"
        ),
        "{status}"
    );
    assert!(model.calls().is_empty());
}

const OPENAI_KEY: &str = "sk-proj-agents-test-real-openai-key";
const CODEX_AGENTS: &str = r#"
default_agent = "codex"

[agents.codex]
preset = "codex"
models = ["gpt-5-codex"]
"#;

/// Like `spawn`, with only an OpenAI key: the simulator's `/v1` is agen's OpenAI upstream.
async fn spawn_openai(toml: &str, agen_yml: &str) -> (Env, ModelSim) {
    spawn_for(Provider::OpenAi, toml, agen_yml).await
}

#[tokio::test]
async fn codex_writes_the_fix_through_the_gateway() {
    let (env, model) = spawn_openai(CODEX_AGENTS, PIPELINE).await;
    // What the model "decides" (Responses function calls): run a shell command with Codex's
    // own `exec_command` tool, then say it is done.
    model.script(Step::tool_call(
        "exec_command",
        json!({"cmd": "printf 'Hello, world!\\n' > greeting.txt"}),
    ));
    model.script(Step::text("I made greeting.txt greet the world."));
    let (job, log, calls) = run_to_success(&env, &model).await;

    // The change is Codex's own, on agen's branch, in a pull request. Codex wrote no
    // summary file: its last message is the pull request's summary.
    let said = "I made greeting.txt greet the world.";
    assert_the_fix_landed(&env, &job, &log, Some(said), 2).await;
    // The session log reads as steps, the raw events after them.
    assert!(
        log.contains("\ntool shell $ /bin/bash -lc \"printf 'Hello, world")
            && log.contains(" > greeting.txt\"\n  result:\n"),
        "{log}"
    );
    assert!(
        log.contains("\nmodel: I made greeting.txt greet the world.\n"),
        "{log}"
    );
    assert!(log.contains("==> round 1: agent (raw events)\n"), "{log}");
    assert!(log.contains("\"type\":\"turn.completed\""), "{log}");

    // The simulator saw the real key on every call, never the job's token, and only the
    // agent's model; the second call carries the tool's output back.
    let bearer = format!("Bearer {OPENAI_KEY}");
    assert!(calls.len() >= 2, "{:#?}", summary(&calls));
    assert_the_real_key_on_every_call(&calls, "authorization", &bearer);
    for call in &calls {
        assert_eq!(call.path, "/v1/responses", "{:#?}", summary(&calls));
        assert_eq!(call.body["model"], "gpt-5-codex");
    }
    let outputs: Vec<_> = calls[1].body["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "function_call_output")
        .collect();
    assert_eq!(outputs.len(), 1, "{}", calls[1].body["input"]);
}

#[tokio::test]
async fn a_failed_model_call_fails_the_job_with_its_error() {
    // The provider refuses the call: Claude Code's last event says it failed (`is_error:
    // true`; the CLI exits 1 here, 0 in some versions), so the job fails, not "no changes",
    // with the error from that event on the issue.
    let (env, model) = spawn(AGENTS, "max_rounds: 1\n").await;
    // (Claude Code tries a failed call again: every try fails.)
    for _ in 0..10 {
        model.script(Step::error(400));
    }
    let job = env.run_one().await;
    let log = env.session_log(&job);
    assert_eq!(job.state, JobState::Failed, "{job:#?}\n{log}");
    let status = env.status_comment(&job);
    assert!(
        status.contains("failed: the agent ")
            && status.contains("```text\nAPI Error: 400 Scripted error\n```"),
        "{status}"
    );
    assert!(log.contains("\nagent failed ("), "{log}");
    assert!(env.pulls().is_empty());
}

/// The tool result the transcript shows for the Bash call running `command`.
fn bash_result<'a>(log: &'a str, command: &str) -> &'a str {
    let call = format!("tool Bash $ {command}\n");
    let start = log
        .find(&call)
        .unwrap_or_else(|| panic!("no {call:?} in\n{log}"))
        + call.len();
    let rest = &log[start..];
    let end = ["\ntool ", "\nmodel: ", "\nagent done", "\n==> "]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn what_the_agent_runs_cannot_leave_or_find_secrets() {
    let (env, model) = spawn(AGENTS, PIPELINE).await;
    let data = env.data_dir();
    // A hostile model: through Claude Code's Bash tool, reach a host not allowed, look for
    // git credentials and list agen's own data directory; then do the work.
    let curl = "curl -sS --max-time 20 https://example.org/; echo \"curl exit $?\"";
    let creds = "cat ~/.git-credentials /root/.git-credentials; echo \"cat exit $?\"";
    let list = format!(
        "ls -la {} {}/logs; echo \"ls exit $?\"",
        data.display(),
        data.display()
    );
    for command in [curl, creds, list.as_str()] {
        model.script(Step::tool_call("Bash", json!({"command": command})));
    }
    script_claude_fix(&model, "Done.");
    let job = env.run_one().await;
    let log = env.session_log(&job);
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}\n{log}");

    // The proxy refused the host, and the log says so.
    assert!(log.contains("egress refused: example.org"), "{log}");
    let fetched = bash_result(&log, curl);
    assert!(!fetched.contains("curl exit 0"), "{fetched}");
    assert!(!fetched.contains("Example Domain"), "{fetched}");
    // No credentials in the session's home or the host's.
    let found = bash_result(&log, creds);
    assert!(found.contains("No such file"), "{found}");
    assert!(!found.contains("cat exit 0"), "{found}");
    // agen's data directory is not in the sandbox: nothing of it is listed.
    let listed = bash_result(&log, &list)
        .replace(&format!("{}/logs", data.display()), "DATA")
        .replace(&data.display().to_string(), "DATA");
    assert!(!listed.contains("ls exit 0"), "{listed}");
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .chain(std::fs::read_dir(data.join("logs")).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.is_empty());
    for name in &names {
        assert!(!listed.contains(name.as_str()), "{name} listed: {listed}");
    }
    // Nothing secret anywhere in what the agent saw (the log would show it redacted).
    for marker in ["[redacted]", "ghs_", "agen-job-", KEY] {
        assert!(!log.contains(marker), "{marker} in\n{log}");
    }
    assert_eq!(
        env.sim.file_at(REPO, BRANCH, "greeting.txt"),
        Some(b"Hello, world!\n".to_vec())
    );
}

const AIDER_AGENTS: &str = r#"
default_agent = "aider"

[agents.aider]
preset = "aider"
models = ["gpt-4.1"]
"#;

#[tokio::test]
async fn aider_writes_the_fix_through_the_gateway() {
    let (env, model) = spawn_openai(AIDER_AGENTS, PIPELINE).await;
    // What the model "decides": one of aider's SEARCH/REPLACE edit blocks (its `diff` edit
    // format for gpt-4.1), which aider applies to the file itself. The first answer names a
    // file not yet in aider's chat: aider adds it and asks again, and the answer is the same.
    let edit = "I will make greeting.txt greet the world.\n\n\
                greeting.txt\n```\n<<<<<<< SEARCH\nHello\n=======\nHello, world!\n\
                >>>>>>> REPLACE\n```\n";
    model.script(Step::text(edit));
    model.script(Step::text(edit));
    // Anything more aider asks gets a plain answer.
    for _ in 0..4 {
        model.script(Step::text("Done."));
    }
    let (job, log, calls) = run_to_success(&env, &model).await;

    // The change is aider's own edit, in agen's pull request, and nothing else: no commit
    // of its own, no cache or history file in the worktree, no `.gitignore` edit. No traffic
    // but model calls: no price list, update check or analytics left the session.
    assert_the_fix_landed(&env, &job, &log, None, 1).await;
    for left in [
        ".aider.tags.cache.v4",
        ".aider.chat.history.md",
        ".gitignore",
    ] {
        assert_eq!(env.sim.file_at(REPO, BRANCH, left), None, "{left} pushed");
    }
    // Aider's own account of the edit is the session's transcript.
    assert!(log.contains("Applied edit to greeting.txt"), "{log}");

    // The simulator saw the real key on every call, never the job's token, and only the
    // agent's model.
    let bearer = format!("Bearer {OPENAI_KEY}");
    assert_the_real_key_on_every_call(&calls, "authorization", &bearer);
    for call in &calls {
        assert_eq!(call.path, "/v1/chat/completions", "{:#?}", summary(&calls));
        assert_eq!(call.body["model"], "gpt-4.1");
    }
}

#[tokio::test]
async fn an_agent_whose_program_is_not_installed_ends_the_job_saying_so() {
    let toml = "[agents.ghost]\ncommand = \"no-such-agent-cli --task \\\"$AGEN_TASK_FILE\\\"\"\n";
    let (env, model) = spawn(toml, PIPELINE).await;
    let job = env.run_one().await;
    assert_eq!(job.state, JobState::Failed, "{job:#?}");
    let status = env.status_comment(&job);
    assert!(
        status.contains(
            "the agent `ghost` runs the program `no-such-agent-cli`, which is not installed on \
             this agen server"
        ) && status.contains("fix the agent's `command` in AGEN_CONFIG"),
        "{status}"
    );
    // Ended before any session: no model call, no branch, no pull request.
    assert!(model.calls().is_empty());
    assert!(env.pulls().is_empty());
    assert_eq!(env.sim.file_at(REPO, BRANCH, "greeting.txt"), None);
}
