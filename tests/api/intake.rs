//! Intake against the simulator: one test per rule, each asserting exactly what agen wrote
//! on GitHub and which jobs exist.

use crate::support;

use crate::support::{spawn, Env, INSTALLATION, ISSUE, REPO};
use agen::ids::InstallationId;
use agen::sim::{AuthKind, Fault};
use serde_json::json;

const HELP_MARKER: &str = "<!-- agen:reply:";

fn issue_path(rest: &str) -> String {
    format!("/repos/{REPO}/issues/{rest}")
}

/// A real `installation` payload for `action`, about agen's test installation.
fn installation_event(action: &str) -> serde_json::Value {
    let file = format!("{action}.payload.json");
    let mut p = crate::support::example_payload("installation", &file);
    agen::sim::merge_json(&mut p, json!({ "installation": { "id": INSTALLATION } }));
    p
}

async fn installation_grant(env: &Env) -> agen::grant::InstallationGrant {
    let id = InstallationId(INSTALLATION);
    env.app.store.installation(id).await.unwrap().unwrap()
}

async fn accepted_run(env: &Env) -> u64 {
    let (cid, status) = env
        .comment("/agen fix the flaky login test", "maintainer")
        .await;
    assert_eq!(status, 202);
    env.settle().await;
    cid
}

#[tokio::test]
async fn maintainer_command_queues_one_job_with_eyes_and_status_comment() {
    let env = spawn().await;
    let cid = accepted_run(&env).await;

    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!((job.repo.0.as_str(), job.issue.0), (REPO, ISSUE));
    assert_eq!(job.state.as_str(), "queued");
    assert_eq!(job.requested_by.0, "maintainer");
    assert_eq!(job.instructions, "fix the flaky login test");

    assert_eq!(
        env.writes_after_start(),
        vec![
            format!("POST /app/installations/{INSTALLATION}/access_tokens"),
            format!("POST {}", issue_path(&format!("comments/{cid}/reactions"))),
            format!("POST {}", issue_path(&format!("{ISSUE}/comments"))),
        ]
    );
    assert_eq!(env.sim.reactions(REPO, cid), vec!["eyes"]);
    assert_eq!(
        env.agen_comments(),
        vec![format!(
            "**agen** · job {id} is queued\n\n\
             Requested by @maintainer. This comment will follow the job and link the pull request when there is one.\n\n\
             `/agen stop` cancels it, `/agen status` shows where it is.\n\n<!-- agen:status:{id} -->",
            id = job.id
        )]
    );
    assert_eq!(
        job.status_comment_id.map(|c| c.0),
        env.sim.comments(REPO, ISSUE).last().map(|c| c.id)
    );
    assert!(env.sim.violations().is_empty());
}

#[tokio::test]
async fn intake_token_is_scoped_to_the_one_repository_with_least_permissions() {
    let env = spawn().await;
    accepted_run(&env).await;
    let tokens = env.sim.tokens();
    assert_eq!(
        tokens.len(),
        2,
        "one listing token at start, one intake token"
    );
    let intake = &tokens[1];
    assert_eq!(intake.installation_id, INSTALLATION);
    assert_eq!(intake.repository_ids, vec![env.repo_id]);
    let perms: Vec<(String, String)> = intake.permissions.clone().into_iter().collect();
    assert_eq!(
        perms,
        vec![
            ("contents".into(), "read".into()),
            ("issues".into(), "write".into()),
            ("metadata".into(), "read".into())
        ]
    );
    // Every repository call used that token, never the App JWT.
    for r in env
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/repos/"))
    {
        assert!(
            matches!(&r.auth, AuthKind::Installation { repository_ids, .. } if repository_ids == &vec![env.repo_id]),
            "{} {} used {:?}",
            r.method,
            r.path,
            r.auth
        );
    }
}

#[tokio::test]
async fn permission_comes_from_the_collaborator_endpoint() {
    let env = spawn().await;
    accepted_run(&env).await;
    let asked: Vec<_> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some("repos/get-collaborator-permission-level"))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        asked,
        vec![format!("/repos/{REPO}/collaborators/maintainer/permission")]
    );
}

#[tokio::test]
async fn read_only_user_is_refused_with_a_reply_and_no_job() {
    let env = spawn().await;
    let (cid, status) = env.comment("/agen delete everything", "reader").await;
    assert_eq!(status, 202);
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.sim.reactions(REPO, cid).is_empty());
    let replies = env.agen_comments();
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].starts_with(&format!(
            "@reader agen needs write access to {REPO} to start work; you have read. \
             Ask a maintainer to run the command, or to grant you write access.\n\n{HELP_MARKER}"
        )),
        "{}",
        replies[0]
    );
}

#[tokio::test]
async fn triage_is_not_enough_by_default() {
    let env = spawn().await;
    env.comment("/agen go", "triager").await;
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.agen_comments()[0].contains("you have triage"));
}

#[tokio::test]
async fn permission_endpoint_failing_means_no_job() {
    let env = spawn().await;
    env.sim
        .inject(Fault::new("GET", &format!("/repos/{REPO}/collaborators/"), 502).times(10));
    env.comment("/agen fix it", "owner").await;
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    let replies = env.agen_comments();
    assert_eq!(replies.len(), 1);
    assert!(replies[0].starts_with(&format!(
        "@owner agen could not confirm your access to {REPO} with GitHub, so it did nothing."
    )));
}

#[tokio::test]
async fn bot_sender_is_ignored_without_a_word() {
    let env = spawn().await;
    let id = env
        .sim
        .add_comment(REPO, ISSUE, "/agen fix it", "agen[bot]");
    let payload = support::comment_payload(
        env.repo_id,
        REPO,
        ISSUE,
        id,
        "/agen fix it",
        "agen[bot]",
        "Bot",
    );
    assert_eq!(env.send("issue_comment", payload).await, 202);
    let other = env
        .sim
        .add_comment(REPO, ISSUE, "/agen fix it", "renovate[bot]");
    let payload = support::comment_payload(
        env.repo_id,
        REPO,
        ISSUE,
        other,
        "/agen fix it",
        "renovate[bot]",
        "Bot",
    );
    assert_eq!(env.send("issue_comment", payload).await, 202);
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.writes_after_start().is_empty());
}

#[tokio::test]
async fn repository_not_granted_gets_no_job_and_no_call_about_it() {
    let env = spawn().await;
    // A repository of the same account that the installation does not include.
    let payload = support::comment_payload(999, "acme/secret", 1, 5, "/agen leak", "owner", "User");
    assert_eq!(env.send("issue_comment", payload).await, 202);
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.writes_after_start().is_empty());
    assert!(env
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.contains("acme/secret")));
}

#[tokio::test]
async fn deleted_installation_is_ignored() {
    let env = spawn().await;
    assert_eq!(
        env.send("installation", installation_event("deleted"))
            .await,
        202
    );
    env.settle().await;
    assert!(installation_grant(&env).await.removed);
    env.sim.remove_installation(INSTALLATION);
    env.comment("/agen fix it", "owner").await;
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.writes_after_start().is_empty());
}

#[tokio::test]
async fn suspended_installation_is_ignored_until_unsuspended() {
    let env = spawn().await;
    assert_eq!(
        env.send("installation", installation_event("suspend"))
            .await,
        202
    );
    env.settle().await;
    env.sim.suspend_installation(INSTALLATION);
    env.comment("/agen fix it", "owner").await;
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.writes_after_start().is_empty());

    assert_eq!(
        env.send("installation", installation_event("unsuspend"))
            .await,
        202
    );
    env.settle().await;
    assert!(!installation_grant(&env).await.suspended);
}

#[tokio::test]
async fn duplicate_delivery_is_answered_200_with_no_second_effect() {
    let env = spawn().await;
    let id = env.sim.add_comment(REPO, ISSUE, "/agen go", "maintainer");
    let delivery = env.sim.webhook(
        "issue_comment",
        env.comment_payload(id, "/agen go", "maintainer"),
    );
    assert_eq!(delivery.post(&env.sim, &env.url).await.unwrap(), 202);
    env.settle().await;
    let writes = env.sim.writes().len();
    assert_eq!(delivery.post(&env.sim, &env.url).await.unwrap(), 200);
    env.settle().await;
    assert_eq!(env.jobs().await.len(), 1);
    assert_eq!(env.sim.writes().len(), writes);
}

#[tokio::test]
async fn commands_in_code_quotes_or_html_comments_do_nothing() {
    let env = spawn().await;
    for body in [
        "```\n/agen fix it\n```",
        "    /agen fix it",
        "> /agen fix it",
        "<!-- /agen fix it -->",
        "please run /agen fix it",
    ] {
        env.comment(body, "owner").await;
    }
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.writes_after_start().is_empty());
}

#[tokio::test]
async fn edited_and_deleted_comments_do_nothing() {
    let env = spawn().await;
    for action in ["edited", "deleted"] {
        let id = env.sim.add_comment(REPO, ISSUE, "/agen fix it", "owner");
        let mut p = env.comment_payload(id, "/agen fix it", "owner");
        p["action"] = json!(action);
        assert_eq!(env.send("issue_comment", p).await, 202);
    }
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(env.writes_after_start().is_empty());
}

#[tokio::test]
async fn trigger_label_queues_a_job_without_reaction() {
    let env = spawn().await;
    assert_eq!(
        env.send("issues", env.labeled_payload("bug", "owner"))
            .await,
        202
    );
    assert_eq!(
        env.send("issues", env.labeled_payload("agen", "owner"))
            .await,
        202
    );
    env.settle().await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].trigger.as_str(), "label");
    assert_eq!(jobs[0].instructions, "");
    assert_eq!(
        env.writes_after_start(),
        vec![
            format!("POST /app/installations/{INSTALLATION}/access_tokens"),
            format!("POST {}", issue_path(&format!("{ISSUE}/comments"))),
        ]
    );
}

#[tokio::test]
async fn label_from_read_only_user_is_refused() {
    let env = spawn().await;
    env.send("issues", env.labeled_payload("agen", "reader"))
        .await;
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert_eq!(env.agen_comments().len(), 1);
}

#[tokio::test]
async fn help_and_status_are_answered() {
    let env = spawn().await;
    env.comment("/agen help", "maintainer").await;
    env.settle().await;
    let help = env.agen_comments().pop().unwrap();
    assert!(help.starts_with(&agen::command::help_markdown()), "{help}");

    env.comment("/agen status", "maintainer").await;
    env.settle().await;
    let status = env.agen_comments().pop().unwrap();
    assert!(
        status.starts_with("agen has no jobs on this issue yet."),
        "{status}"
    );

    accepted_run(&env).await;
    env.comment("/agen status", "maintainer").await;
    env.settle().await;
    let status = env.agen_comments().pop().unwrap();
    let job = &env.jobs().await[0];
    assert!(
        status.contains(&format!(
            "| {} | queued | 0 | - | $0.00 · 0 model calls · 0 tokens in, 0 out · 0s CPU \
             | comment | @maintainer | {} |",
            job.id, job.created_at
        )),
        "{status}"
    );
    assert!(env.jobs().await.len() == 1, "status and help create no job");
}

#[tokio::test]
async fn stop_cancels_the_queued_job_and_edits_its_status_comment() {
    let env = spawn().await;
    accepted_run(&env).await;
    env.comment("/agen stop", "maintainer").await;
    env.settle().await;
    let job = &env.jobs().await[0];
    assert_eq!(job.state.as_str(), "cancelled");
    let comments = env.agen_comments();
    assert_eq!(
        comments[0],
        format!(
            "**agen** · job {id} was cancelled by @maintainer.\n\n<!-- agen:status:{id} -->",
            id = job.id
        )
    );
    assert!(comments[1].starts_with(&format!("Stopped job {}.", job.id)));
}

#[tokio::test]
async fn retry_queues_a_new_job_with_the_same_instructions() {
    let env = spawn().await;
    env.comment("/agen retry", "maintainer").await;
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    assert!(
        env.agen_comments()[0].starts_with("There is no earlier agen job on this issue to retry.")
    );

    accepted_run(&env).await;
    env.comment("/agen retry", "maintainer").await;
    env.settle().await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].trigger.as_str(), "retry");
    assert_eq!(jobs[1].instructions, jobs[0].instructions);
}

#[tokio::test]
async fn repositories_added_later_become_usable() {
    let env = spawn().await;
    let new_id = env.sim.add_repo(INSTALLATION, "acme/new", true);
    env.sim.set_permission("acme/new", "owner", "admin");
    env.sim
        .add_issue("acme/new", 1, "Add a README", "", "owner");
    let mut p = crate::support::example_payload("installation_repositories", "added.payload.json");
    agen::sim::merge_json(
        &mut p,
        json!({ "installation": { "id": INSTALLATION },
                "repositories_added": [{ "id": new_id, "name": "new", "full_name": "acme/new", "private": true }] }),
    );
    assert_eq!(env.send("installation_repositories", p).await, 202);
    env.settle().await;
    let cid = env
        .sim
        .add_comment("acme/new", 1, "/agen write it", "owner");
    let payload = support::comment_payload(
        new_id,
        "acme/new",
        1,
        cid,
        "/agen write it",
        "owner",
        "User",
    );
    env.send("issue_comment", payload).await;
    env.settle().await;
    assert_eq!(env.jobs().await.len(), 1);
}

#[tokio::test]
async fn unknown_events_and_actions_are_recorded_and_ignored() {
    let env = spawn().await;
    assert_eq!(env.send("star", json!({ "action": "created" })).await, 202);
    assert_eq!(
        env.send(
            "issues",
            json!({ "action": "teleported", "installation": { "id": INSTALLATION } })
        )
        .await,
        202
    );
    env.settle().await;
    let outcomes = env.app.store.delivery_outcomes().await.unwrap();
    let outcomes: Vec<_> = outcomes.into_iter().map(|(_, e, o)| (e, o)).collect();
    assert_eq!(
        outcomes,
        vec![
            (
                "star".into(),
                "ignored: agen does not act on star.created".into()
            ),
            (
                "issues".into(),
                "ignored: agen does not act on issues.teleported".into()
            ),
        ]
    );
    assert!(env.writes_after_start().is_empty());
}

#[tokio::test]
async fn rate_limited_comment_is_retried_and_posted_once() {
    let env = spawn().await;
    env.sim.inject(
        Fault::new("POST", &issue_path(&format!("{ISSUE}/comments")), 429)
            .header("retry-after", "1"),
    );
    accepted_run(&env).await;
    assert_eq!(env.agen_comments().len(), 1);
    let posts = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == issue_path(&format!("{ISSUE}/comments")))
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(posts, vec![429, 201]);
}

#[tokio::test]
async fn a_comment_posted_just_before_a_crash_is_found_not_posted_again() {
    use agen::config::AppCredentials;
    use agen::github::{tokens::INTAKE, GitHub};
    use agen::ids::{IssueNumber, JobId, RepoId, RepoName};
    use agen::job::intake::replies::Replier;
    use agen::store::effects::EffectState;
    use agen::texts::CommentKey;

    let env = spawn().await;
    let store = &env.app.store;
    let creds = AppCredentials {
        app_id: 1,
        private_key: jsonwebtoken::EncodingKey::from_rsa_pem(support::KEY.as_bytes()).unwrap(),
    };
    let github = GitHub::new(&env.sim.api_url(), &creds, support::fast_retry()).unwrap();
    let client = github
        .repo(
            InstallationId(INSTALLATION),
            RepoId(env.repo_id),
            RepoName(REPO.into()),
            INTAKE,
        )
        .await
        .unwrap();
    let replier = Replier {
        store,
        client: &client,
        issue: IssueNumber(ISSUE),
    };
    let posts = || {
        env.sim
            .writes()
            .iter()
            .filter(|w| w.ends_with(&format!("/issues/{ISSUE}/comments")))
            .count()
    };

    // An earlier run began the effect and its comment reached GitHub, then the run died
    // before recording the comment's id.
    let (status, key) = (CommentKey::Status(JobId(41)), "status:41");
    assert_eq!(store.begin_effect(key).await.unwrap(), EffectState::Fresh);
    let posted = env.sim.add_comment(
        REPO,
        ISSUE,
        &format!("queued\n\n<!-- agen:{key} -->"),
        "agen[bot]",
    );
    // A person quoting the marker is not agen.
    env.sim
        .add_comment(REPO, ISSUE, &format!("<!-- agen:{key} -->"), "mallory");
    assert_eq!(
        replier.post_once(&status, "queued").await.unwrap().0,
        posted
    );
    assert_eq!(
        store.begin_effect(key).await.unwrap(),
        EffectState::Done(posted.to_string())
    );
    assert_eq!(posts(), 0);

    // Begun but never reached GitHub: posted now, exactly once, and remembered.
    let (status, key) = (CommentKey::Status(JobId(42)), "status:42");
    assert_eq!(store.begin_effect(key).await.unwrap(), EffectState::Fresh);
    let first = replier.post_once(&status, "queued").await.unwrap();
    let again = replier.post_once(&status, "queued").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(posts(), 1);
}

#[tokio::test]
async fn every_call_names_agen_and_the_api_version() {
    let env = spawn().await;
    accepted_run(&env).await;
    let requests = env.sim.requests();
    assert!(requests.len() >= 6);
    for r in requests {
        assert!(
            r.user_agent.contains("agen/"),
            "{} {}: {}",
            r.method,
            r.path,
            r.user_agent
        );
        assert_eq!(
            r.api_version.as_deref(),
            Some("2022-11-28"),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[tokio::test]
async fn repository_token_is_reused_while_fresh() {
    let env = spawn().await;
    accepted_run(&env).await;
    env.comment("/agen status", "maintainer").await;
    env.settle().await;
    assert_eq!(
        env.sim.tokens().len(),
        2,
        "listing token + one intake token, reused"
    );
}

#[tokio::test]
async fn exhausted_rate_limit_is_waited_out_until_reset() {
    let env = spawn().await;
    let reset = (chrono::Utc::now().timestamp() + 1).to_string();
    env.sim.inject(
        Fault::new("POST", &issue_path(&format!("{ISSUE}/comments")), 403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &reset),
    );
    accepted_run(&env).await;
    let statuses: Vec<u16> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == issue_path(&format!("{ISSUE}/comments")))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![403, 201]);
    assert_eq!(env.jobs().await.len(), 1);
}

#[tokio::test]
async fn rerun_on_agens_own_check_run_retries_the_job() {
    let env = spawn().await;
    accepted_run(&env).await;
    let job = env.jobs().await[0].id;
    let rerun = |app_id: u64| {
        let mut p = crate::support::example_payload("check_run", "rerequested.payload.json");
        agen::sim::merge_json(
            &mut p,
            json!({ "installation": { "id": INSTALLATION }, "repository": env.repository(),
                    "check_run": { "external_id": format!("job:{job}"), "app": { "id": app_id } },
                    "sender": { "login": "maintainer", "type": "User" } }),
        );
        p
    };
    // Another App's check run is none of agen's business.
    assert_eq!(env.send("check_run", rerun(999)).await, 202);
    env.settle().await;
    assert_eq!(env.jobs().await.len(), 1);
    assert_eq!(env.send("check_run", rerun(1)).await, 202);
    env.settle().await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        (jobs[1].trigger.as_str(), jobs[1].issue.0),
        ("check_run", ISSUE)
    );
}

#[tokio::test]
async fn repository_config_sets_its_own_trigger_label() {
    let env = spawn().await;
    env.sim
        .put_file(REPO, ".github/agen.yml", b"trigger_label: ai-help\n");
    env.send("issues", env.labeled_payload("agen", "maintainer"))
        .await;
    env.settle().await;
    assert!(
        env.jobs().await.is_empty(),
        "the server's label no longer triggers"
    );
    env.send("issues", env.labeled_payload("ai-help", "maintainer"))
        .await;
    env.settle().await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].trigger.as_str(), "label");
}

#[tokio::test]
async fn repository_config_can_require_more_than_write() {
    let env = spawn().await;
    env.sim
        .put_file(REPO, ".github/agen.yml", b"min_permission: admin\n");
    let (_, status) = env.comment("/agen fix it", "maintainer").await;
    assert_eq!(status, 202);
    env.settle().await;
    assert!(env.jobs().await.is_empty());
    let replies = env.agen_comments();
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].starts_with(
            "@maintainer agen needs admin access to acme/app to start work; you have write."
        ),
        "{}",
        replies[0]
    );
    env.comment("/agen fix it", "owner").await;
    env.settle().await;
    assert_eq!(env.jobs().await.len(), 1, "an admin may");
}
