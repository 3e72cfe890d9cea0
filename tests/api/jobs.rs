//! Jobs end to end: a labeled issue or a `/agen` comment becomes a pull request on an
//! `agen/…` branch, with real git over smart HTTP against the simulator and the agent in the
//! real sandbox. Every test also fails on any violation (merge, approve, push to main, …).

use crate::support;

use crate::support::jobs::{spawn_jobs, stable, GOOD_AGENT, PIPELINE};
use crate::support::{Env, INSTALLATION, ISSUE, REPO};
use serde_json::Value;

const BRANCH: &str = "agen/issue-7-login-test-is-flaky";

fn check_runs(env: &Env) -> Vec<(String, String, String)> {
    env.sim
        .check_runs(REPO)
        .iter()
        .map(|r| {
            (
                r["head_sha"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
                r["conclusion"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn text(file: Option<Vec<u8>>) -> String {
    String::from_utf8(file.expect("file exists")).unwrap()
}

#[test]
fn stable_hides_times_and_shas() {
    assert_eq!(
        stable("after 1 round, 3s. took 1m 05s) sha 0123456789abcdef0123456789abcdef01234567."),
        "after 1 round, <time>. took <time>) sha <sha>."
    );
}

#[tokio::test]
async fn labeled_issue_becomes_a_pull_request_with_a_passing_check() {
    let env = spawn_jobs(GOOD_AGENT, Some(PIPELINE), &[]).await;
    let review_rule = serde_json::json!([{ "type": "pull_request", "parameters": {
        "required_approving_review_count": 1 } }]);
    env.sim.set_branch_rules(REPO, "main", review_rule);
    let main_before = env.main_sha();
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    assert_eq!((job.round, job.attempts), (1, 1));
    // Every decision of the job, in the audit log, in order.
    assert_eq!(
        env.audit_kinds(&job).await,
        [
            "job_queued",
            "job_started",
            "token_minted",
            "pushed",
            "pull_request_opened",
            "check_run_written",
            "job_ended"
        ]
    );

    // The branch holds the change, on top of main, by the bot, co-authored by the requester.
    let head = env
        .sim
        .git_ref(REPO, &format!("refs/heads/{BRANCH}"))
        .unwrap();
    assert_eq!(job.head_sha.as_deref(), Some(head.as_str()));
    assert_eq!(
        text(env.sim.file_at(REPO, BRANCH, "greeting.txt")),
        "Hello, world!\n"
    );
    let commit = env.sim.commit_at(REPO, &head).unwrap();
    assert_eq!(commit.parents, vec![main_before.clone()]);
    assert_eq!(commit.changed_paths, vec!["greeting.txt"]);
    assert_eq!(commit.author_name, "agen[bot]");
    assert_eq!(commit.author_email, "1+agen[bot]@users.noreply.github.com");
    let co_author = format!(
        "Co-authored-by: maintainer <{}+maintainer@users.noreply.github.com>",
        support::user_id("maintainer")
    );
    assert!(commit.message.ends_with(&co_author), "{}", commit.message);
    assert_eq!(
        env.main_sha(),
        main_before,
        "the default branch is untouched"
    );
    assert_eq!(env.agen_branches(), vec![format!("refs/heads/{BRANCH}")]);

    // One pull request, head and base right, review asked of the requester, not a draft.
    let pulls = env.pulls();
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!(pr["head"]["ref"], BRANCH);
    assert_eq!(pr["head"]["sha"], head.as_str());
    assert_eq!(pr["base"]["ref"], "main");
    assert_eq!(pr["draft"], false);
    assert_eq!(pr["title"], "agen: Login test is flaky");
    let reviewers: Vec<&Value> = pr["requested_reviewers"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(reviewers.len(), 1);
    assert_eq!(reviewers[0]["login"], "maintainer");
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains("Closes #7."), "{body}");
    assert!(
        body.contains("**Pipeline:** the pipeline passed."),
        "{body}"
    );
    assert!(body.contains("- ✅ `sh check.sh`"), "{body}");

    // One check run, completed, success, on the pushed commit.
    assert_eq!(
        check_runs(&env),
        vec![(head.clone(), "completed".into(), "success".into())]
    );
    assert_eq!(
        env.sim.check_runs(REPO)[0]["external_id"],
        format!("job:{}", job.id)
    );

    // The status comment, edited in place to the outcome.
    let number = pr["number"].as_u64().unwrap();
    assert_eq!(
        env.status_comment(&job),
        format!(
            "**agen** · job {id} opened #{number} (https://github.com/{REPO}/pull/{number}): \
             the pipeline passed after 1 round, <time>.\n\n\
             Spent: $0.00 of $5.00 · 0 model calls · 0 tokens in, 0 out · <time> CPU.\n\n\
             Branch `{BRANCH}`, commit <sha>. A person reviews and merges; agen never does.\
             \n\n[Job page](<job page>): every step and the session log (the link holds 7 days).\n\n<!-- agen:status:{id} -->",
            id = job.id
        )
    );
    assert_eq!(
        env.agen_comments().len(),
        1,
        "one status comment, edited in place"
    );

    // Every write, in order; every token for this one repository only.
    let mut writes = env.writes_after_start();
    // The review request and the check run go out at once, in either order.
    writes[6..8].sort();
    let token_post = format!("POST /app/installations/{INSTALLATION}/access_tokens");
    let issue = |rest: &str| format!("/repos/{REPO}/issues/{rest}");
    let status_edit = format!(
        "PATCH {}",
        issue(&format!("comments/{}", job.status_comment_id.unwrap()))
    );
    assert_eq!(
        writes,
        vec![
            token_post.clone(),
            format!("POST {}", issue(&format!("{ISSUE}/comments"))),
            token_post,
            status_edit.clone(),
            format!("POST /{REPO}.git/git-receive-pack"),
            format!("POST /repos/{REPO}/pulls"),
            format!("POST /repos/{REPO}/check-runs"),
            format!("POST /repos/{REPO}/pulls/{number}/requested_reviewers"),
            status_edit,
        ]
    );
    for token in env.sim.tokens().iter().skip(1) {
        assert_eq!(token.repository_ids, vec![env.repo_id], "{token:?}");
    }
}

/// Round 1 breaks the check; round 2 reads the failure from its task and fixes it.
const LEARNING_AGENT: &str = r#"
if [ "$AGEN_ROUND" = 1 ]; then printf 'Hi\n' > greeting.txt; exit 0; fi
grep -q 'FAILED: greeting.txt does not greet the world' "$AGEN_TASK_FILE" || exit 3
grep -q 'sh check.sh' "$AGEN_TASK_FILE" || exit 4
printf 'Hello, world!\n' > greeting.txt
"#;

#[tokio::test]
async fn pipeline_failure_goes_to_the_next_round_which_passes() {
    let env = spawn_jobs(LEARNING_AGENT, Some(PIPELINE), &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    assert_eq!(job.round, 2);
    assert_eq!(
        text(env.sim.file_at(REPO, BRANCH, "greeting.txt")),
        "Hello, world!\n"
    );
    let pr = &env.pulls()[0];
    assert_eq!(pr["draft"], false);
    let body = pr["body"].as_str().unwrap();
    assert!(body.contains("**Used:** 2 rounds, "), "{body}");
    assert_eq!(check_runs(&env)[0].2, "success");
}

#[tokio::test]
async fn pipeline_that_never_passes_gives_a_draft_and_a_failed_check() {
    let env = spawn_jobs("printf 'Hi\\n' > greeting.txt", Some(PIPELINE), &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    assert_eq!(job.round, 2, "max_rounds from .github/agen.yml");
    let pulls = env.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["draft"], true);
    let body = pulls[0]["body"].as_str().unwrap();
    assert!(
        body.contains("**Pipeline:** `sh check.sh` failed (exit 1)."),
        "{body}"
    );
    let runs = env.sim.check_runs(REPO);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["conclusion"], "failure");
    let output = runs[0]["output"]["text"].as_str().unwrap();
    assert!(
        output.contains("FAILED: greeting.txt does not greet the world"),
        "{output}"
    );
    let number = pulls[0]["number"].as_u64().unwrap();
    let status = env.status_comment(&job);
    assert!(
        status.starts_with(&format!(
            "**agen** · job {} opened as a draft #{number} ",
            job.id
        )),
        "{status}"
    );
    assert!(
        status.contains("⚠️ No rule on `main` requires a reviewed pull request"),
        "no ruleset was seeded, so agen says so: {status}"
    );
}

#[tokio::test]
async fn time_budget_ends_the_job_as_timed_out() {
    let env = spawn_jobs("sleep 60", None, &[("AGEN_JOB_MINUTES", "0.03")]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "timed_out", "{job:#?}");
    assert!(env.pulls().is_empty(), "nothing changed, nothing to open");
    assert!(env.agen_branches().is_empty());
    // Every ending has its check run: nothing was pushed, so it goes on the base commit.
    assert_eq!(
        check_runs(&env),
        vec![(env.main_sha(), "completed".into(), "timed_out".into())]
    );
    let runs = env.sim.check_runs(REPO);
    assert_eq!(
        runs[0]["output"]["title"], "Time budget ran out",
        "{runs:#?}"
    );
    assert_eq!(
        env.status_comment(&job),
        format!(
            "**agen** · job {id} ran out of time after 1 round, <time>. Nothing was pushed.\
             \n\nSpent: $0.00 of $5.00 · 0 model calls · 0 tokens in, 0 out · <time> CPU.\
             \n\n[Job page](<job page>): every step and the session log (the link holds 7 days).\n\n<!-- agen:status:{id} -->",
            id = job.id
        )
    );
}

#[tokio::test]
async fn stop_ends_a_running_job_within_seconds() {
    let env = spawn_jobs("sleep 60", None, &[]).await;
    env.label_issue().await;
    env.job_in_round(1, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    env.comment("/agen status", "maintainer").await;
    env.settle().await;
    let status = env.agen_comments().pop().unwrap();
    let id = env.jobs().await[0].id;
    assert!(
        status.contains(&format!("| {id} | running | 1 | ")),
        "state, round and time used: {status}"
    );
    let asked = std::time::Instant::now();
    env.comment("/agen stop", "maintainer").await;
    let job = env.job_ended(1).await;
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // Within those seconds the worker noticed, its session was killed, and it said why.
    assert_eq!(job.state.as_str(), "cancelled");
    assert_eq!(
        job.detail.as_deref(),
        Some("stopped before anything was pushed")
    );
    assert!(env.pulls().is_empty());
    assert!(env.agen_branches().is_empty());
    assert!(env.sim.check_runs(REPO).is_empty());
}

#[tokio::test]
async fn retry_gets_a_new_branch_with_a_suffix() {
    let env = spawn_jobs(GOOD_AGENT, None, &[]).await;
    env.label_issue().await;
    assert_eq!(env.job_ended(1).await.state.as_str(), "succeeded");
    env.comment("/agen retry", "maintainer").await;
    let second = env.job_ended(2).await;
    assert_eq!(second.state.as_str(), "succeeded", "{second:#?}");
    assert_eq!(
        second.branch.as_deref(),
        Some("agen/issue-7-login-test-is-flaky-2")
    );
    assert_eq!(
        env.agen_branches(),
        vec![
            format!("refs/heads/{BRANCH}"),
            format!("refs/heads/{BRANCH}-2")
        ]
    );
    assert_eq!(env.pulls().len(), 2);
}

#[tokio::test]
async fn no_changes_means_no_branch_and_a_neutral_check_on_the_base() {
    let env = spawn_jobs("true", None, &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "no_changes");
    assert!(env.pulls().is_empty());
    assert!(env.agen_branches().is_empty());
    assert_eq!(
        check_runs(&env),
        vec![(env.main_sha(), "completed".into(), "neutral".into())]
    );
    assert_eq!(
        env.status_comment(&job),
        format!(
            "**agen** · job {id} finished without changing anything (1 round, <time>), so there \
             is no pull request.\n\n\
             Spent: $0.00 of $5.00 · 0 model calls · 0 tokens in, 0 out · <time> CPU.\n\n\
             [Job page](<job page>): every step and the session log (the link holds 7 days).\n\n<!-- agen:status:{id} -->",
            id = job.id
        )
    );
}

#[tokio::test]
async fn workflow_files_are_never_pushed() {
    let agent = "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/ci.yml";
    let env = spawn_jobs(agent, None, &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed");
    assert!(env.agen_branches().is_empty());
    assert!(env.pulls().is_empty());
    let status = env.status_comment(&job);
    assert!(status.contains(".github/workflows/ci.yml"), "{status}");
    assert!(!env
        .sim
        .writes()
        .iter()
        .any(|w| w.contains("git-receive-pack")));
}

#[tokio::test]
async fn a_planted_aws_key_is_refused_without_echoing_it() {
    let key = "AKIAIOSFODNN7EXAMPLE";
    let agent = format!("printf 'ok\\naws_key = {key}\\n' > settings.ini");
    let env = spawn_jobs(&agent, None, &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed");
    assert!(env.agen_branches().is_empty());
    let status = env.status_comment(&job);
    assert!(status.contains("settings.ini"), "{status}");
    assert!(status.contains("line 2"), "{status}");
    for comment in env.sim.comments(REPO, ISSUE) {
        assert!(
            !comment.body.contains(key),
            "the key was echoed: {}",
            comment.body
        );
    }
}

/// Looks everywhere a careless setup would leave a token, and commits what it found.
const TOKEN_HUNTER: &str = r#"
{
  env
  cat ~/.git-credentials ~/.gitconfig .git/config 2>&1
  grep -r -a -h -o 'ghs_[A-Za-z0-9]\{36\}' .git /proc/*/environ /proc/*/cmdline /tmp 2>/dev/null
  git config --list 2>&1
} > found.txt
echo done >> found.txt
"#;

#[tokio::test]
async fn an_agent_hunting_for_the_token_finds_none() {
    let env = spawn_jobs(TOKEN_HUNTER, None, &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    let found = text(env.sim.file_at(REPO, BRANCH, "found.txt"));
    assert!(found.ends_with("done\n"), "the hunt ran: {found}");
    assert!(found.contains("AGEN_TASK_FILE"), "env was listed: {found}");
    let tokens = env.sim.tokens();
    assert!(tokens.len() >= 2);
    let log =
        std::fs::read_to_string(env.data_dir().join(format!("logs/job-{}.log", job.id))).unwrap();
    let pr_body = env.pulls()[0]["body"].as_str().unwrap().to_string();
    let comments: Vec<String> = env
        .sim
        .comments(REPO, ISSUE)
        .into_iter()
        .map(|c| c.body)
        .collect();
    let checks = serde_json::to_string(&env.sim.check_runs(REPO)).unwrap();
    let message = env.sim.commit_at(REPO, BRANCH).unwrap().message;
    for token in &tokens {
        assert!(!found.contains(&token.token), "the agent found a token");
        assert!(!log.contains(&token.token), "a token is in the session log");
        assert!(!pr_body.contains(&token.token));
        assert!(!checks.contains(&token.token));
        assert!(!message.contains(&token.token));
        assert!(comments.iter().all(|c| !c.contains(&token.token)));
    }
    // Nothing shaped like an installation token either (`ghs_` and 36 letters or digits).
    let shaped = found.match_indices("ghs_").any(|(i, _)| {
        found[i + 4..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .count()
            >= 36
    });
    assert!(!shaped, "{found}");
}

#[tokio::test]
async fn a_bad_repository_config_is_named_on_the_issue_and_nothing_runs() {
    let env = spawn_jobs("touch ran", Some("pipline:\n  - make test\n"), &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed");
    assert_eq!(job.round, 0, "no round ran");
    let status = env.status_comment(&job);
    assert!(status.contains("`pipline`"), "{status}");
    assert!(status.contains(".github/agen.yml"), "{status}");
    assert!(env.agen_branches().is_empty());
    assert!(env.sim.check_runs(REPO).is_empty());
}

/// A person writes `body` on pull request `number`; returns agen's HTTP answer.
async fn comment_on_pull(env: &Env, number: u64, body: &str) -> u16 {
    let id = env.sim.add_comment(REPO, number, body, "maintainer");
    let mut payload =
        support::comment_payload(env.repo_id, REPO, number, id, body, "maintainer", "User");
    let url = format!("{}/repos/{REPO}/pulls/{number}", env.sim.api_url());
    agen::sim::merge_json(
        &mut payload,
        serde_json::json!({ "issue": { "number": number, "pull_request": { "url": url } } }),
    );
    env.send("issue_comment", payload).await
}

#[tokio::test]
async fn a_command_on_agens_own_pull_request_continues_on_its_branch() {
    let env = spawn_jobs("echo more >> greeting.txt", None, &[]).await;
    env.label_issue().await;
    let first = env.job_ended(1).await;
    assert_eq!(first.state.as_str(), "succeeded", "{first:#?}");
    let number = env.pulls()[0]["number"].as_u64().unwrap();
    let first_head = first.head_sha.clone().unwrap();

    assert_eq!(comment_on_pull(&env, number, "/agen once more").await, 202);
    let second = env.job_ended(2).await;
    assert_eq!(second.state.as_str(), "succeeded", "{second:#?}");
    assert_eq!(second.pr_number, Some(number));
    let head = env
        .sim
        .git_ref(REPO, &format!("refs/heads/{BRANCH}"))
        .unwrap();
    assert_eq!(second.head_sha.as_deref(), Some(head.as_str()));
    let commit = env.sim.commit_at(REPO, &head).unwrap();
    assert_eq!(
        commit.parents,
        vec![first_head],
        "a fast-forward on the same branch"
    );
    assert_eq!(
        text(env.sim.file_at(REPO, BRANCH, "greeting.txt")),
        "Hello\nmore\nmore\n"
    );
    assert_eq!(env.pulls().len(), 1, "no second pull request");
    assert_eq!(env.agen_branches().len(), 1);
    let runs = check_runs(&env);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1], (head, "completed".into(), "success".into()));
}

#[tokio::test]
async fn on_a_persons_pull_request_agen_opens_its_own_against_that_branch() {
    let env = spawn_jobs("echo more >> greeting.txt", None, &[]).await;
    let main = env.main_sha();
    env.sim.set_ref(REPO, "refs/heads/feature", &main);
    let number = env
        .sim
        .add_pull(REPO, "feature", "main", "Add a feature", "maintainer");
    assert_eq!(
        comment_on_pull(&env, number, "/agen tidy this up").await,
        202
    );
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    assert_eq!(
        env.sim.git_ref(REPO, "refs/heads/feature").as_deref(),
        Some(main.as_str()),
        "the person's branch is never pushed to"
    );
    let pulls = env.pulls();
    assert_eq!(pulls.len(), 2);
    let ours = &pulls[1];
    assert_eq!(ours["base"]["ref"], "feature");
    let branch = ours["head"]["ref"].as_str().unwrap();
    assert!(
        branch.starts_with(&format!("agen/issue-{number}-")),
        "{branch}"
    );
    assert!(ours["body"]
        .as_str()
        .unwrap()
        .contains(&format!("For #{number}.")));
}

#[tokio::test]
async fn a_secret_agen_holds_is_never_pushed() {
    // The webhook secret (the simulator's demo App uses `demo-secret`) written by the agent.
    let env = spawn_jobs("echo 'secret = demo-secret' > notes.txt", None, &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed");
    assert!(env.agen_branches().is_empty());
    let status = env.status_comment(&job);
    assert!(status.contains("`notes.txt` line 1"), "{status}");
    assert!(!status.contains("demo-secret"), "{status}");
}

#[tokio::test]
async fn the_mirror_goes_when_the_repository_is_no_longer_granted() {
    let env = spawn_jobs(GOOD_AGENT, None, &[]).await;
    env.label_issue().await;
    assert_eq!(env.job_ended(1).await.state.as_str(), "succeeded");
    let mirror = env.data_dir().join(format!("mirrors/{}.git", env.repo_id));
    assert!(
        mirror.is_dir(),
        "the job left a mirror to speed up the next one"
    );

    let mut removed =
        crate::support::example_payload("installation_repositories", "removed.payload.json");
    agen::sim::merge_json(
        &mut removed,
        serde_json::json!({ "installation": { "id": INSTALLATION },
            "repositories_removed": [support::repository(env.repo_id, REPO)] }),
    );
    assert_eq!(env.send("installation_repositories", removed).await, 202);
    env.wait_until("mirror removed", || async { !mirror.exists() })
        .await;
    let spare = env.data_dir().join(format!("spares/{}", env.repo_id));
    assert!(!spare.exists(), "no spare checkout is kept either");
}

/// Writes a summary meant to ping people, render HTML and swallow agen's trailer with an open
/// fence, and fails its pipeline with terminal escapes in the output.
const HOSTILE_AGENT: &str = r#"printf 'Hi\n' > greeting.txt
printf 'Done. cc @octocat @acme/security\n<img src=x onerror=alert(1)>\n```\nCloses #999\n\033[31mred\033[0m\n' > "$AGEN_SUMMARY_FILE""#;
const HOSTILE_PIPELINE: &str =
    "pipeline:\n  - printf '\\033[2J@octocat ```\\n'; exit 1\nmax_rounds: 1\n";

#[tokio::test]
async fn what_the_agent_and_its_sessions_write_is_shown_inert() {
    let env = spawn_jobs(HOSTILE_AGENT, Some(HOSTILE_PIPELINE), &[]).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    let body = env.pulls()[0]["body"].as_str().unwrap().to_string();
    // The summary is one fenced block, longer than the fence inside it; agen's own trailer
    // follows it, outside.
    let summary = "````text\nDone. cc @octocat @acme/security\n<img src=x onerror=alert(1)>\n```\n\
                   Closes #999\nred\n````";
    assert!(body.starts_with(summary), "{body:?}");
    let trailer = &body[summary.len()..];
    assert!(
        trailer.starts_with("\n\n---\n\nCloses #7. Requested by @maintainer."),
        "{trailer:?}"
    );
    let runs = env.sim.check_runs(REPO);
    let text = runs[0]["output"]["text"].as_str().unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "a terminal escape reached the check run: {text:?}"
    );
    assert!(text.contains("````text\n@octocat ```\n````"), "{text}");
}

#[tokio::test]
async fn cpu_budget_used_up_before_any_change_still_has_a_failed_check_on_the_base() {
    let env = spawn_jobs(
        "while :; do :; done",
        None,
        &[("AGEN_JOB_CPU_MINUTES", "0.01")],
    )
    .await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    assert_eq!(job.state.as_str(), "budget_exceeded", "{job:#?}");
    assert!(env.pulls().is_empty(), "nothing changed, nothing to open");
    assert_eq!(
        check_runs(&env),
        vec![(env.main_sha(), "completed".into(), "failure".into())]
    );
    let runs = env.sim.check_runs(REPO);
    assert_eq!(
        runs[0]["output"]["title"], "CPU budget used up",
        "{runs:#?}"
    );
}
