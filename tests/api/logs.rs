//! Session logs: deleted on request (`agen logs delete`) and by age (AGEN_LOG_RETENTION_DAYS),
//! the bytes gone from the data directory and the database, the deletion recorded and audited.

use std::path::Path;
use std::process::Command;

use agen::ids::JobId;
use agen::store::jobs::Job;

use crate::support::jobs::{spawn_jobs, PIPELINE};
use crate::support::Env;

/// An agent that prints a line no other place has, then does the work.
fn marking_agent(marker: &str) -> String {
    format!("echo 'agent says {marker}' && printf 'Hello, world!\\n' > greeting.txt")
}

fn marker() -> String {
    format!("log-marker-{}", std::process::id())
}

/// Every file under `dir` (and the database beside it) that holds `needle`.
fn files_holding(dirs: &[&Path], needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

fn agen_logs(env: &Env, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_agen"))
        .arg("logs")
        .args(args)
        .env("DATABASE_URL", env.database_url())
        .env("AGEN_DATA_DIR", env.data_dir())
        .output()
        .unwrap()
}

async fn kinds(env: &Env, job: &Job) -> Vec<String> {
    env.audit_kinds(job).await
}

#[tokio::test]
async fn a_deleted_log_is_gone_from_disk_and_database_and_the_deletion_is_audited() {
    let marker = marker();
    let env = spawn_jobs(&marking_agent(&marker), Some(PIPELINE), &[]).await;
    let job = env.run_one().await;
    assert!(env.session_log(&job).contains(&marker));
    let db_dir = env.data_dir().parent().unwrap().to_path_buf();

    let out = agen_logs(&env, &["delete", "--job", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("deleted the session logs of 1 jobs ("),
        "{stdout}"
    );
    // The bytes are gone: nowhere under the data directory or in the database's files.
    let left = files_holding(&[&db_dir], &format!("agent says {marker}"));
    assert!(left.is_empty(), "{left:?}");
    let deletion = env.app.store.log_deletion(job.id).await.unwrap().unwrap();
    assert_eq!(deletion.deleted_by, "agen logs delete");
    assert!(deletion.bytes > 0);
    assert_eq!(kinds(&env, &job).await.last().unwrap(), "log_deleted");
    assert!(env.app.store.verify_audit().await.unwrap().is_ok());

    // A job that is not there is said so, in one line.
    let out = agen_logs(&env, &["delete", "--job", "99"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "agen: there is no job 99; `agen jobs list` shows the jobs"
    );
}

#[tokio::test]
async fn retention_deletes_the_logs_of_jobs_that_ended_longer_ago() {
    let env = spawn_jobs(&marking_agent(&marker()), Some(PIPELINE), &[]).await;
    let job = env.run_one().await;
    let store = &env.app.store;
    let dir = env.data_dir().join("logs");
    let now = agen::store::now_ms();
    let day = 24 * 3600 * 1000;
    // Ended 29 days ago: kept under a 30-day retention.
    sqlx::query("UPDATE jobs SET finished_at = $1 WHERE id = $2")
        .bind(now - 29 * day)
        .bind(job.id.0)
        .execute(store.pool())
        .await
        .unwrap();
    let kept = agen::job::logs::delete_expired(store, &dir, 30, now)
        .await
        .unwrap();
    assert_eq!(kept.0, 0);
    assert!(agen::store::log_deletions::session_log_path(&dir, job.id).exists());
    // The clock moves on two days: now it is past.
    let later = now + 2 * day;
    let gone = agen::job::logs::delete_expired(store, &dir, 30, later)
        .await
        .unwrap();
    assert_eq!(gone.0, 1);
    assert!(!agen::store::log_deletions::session_log_path(&dir, JobId(job.id.0)).exists());
    let deletion = store.log_deletion(job.id).await.unwrap().unwrap();
    assert_eq!(
        deletion.deleted_by,
        "retention (AGEN_LOG_RETENTION_DAYS = 30)"
    );
    assert!(store.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn an_admin_deletes_the_issues_logs_with_a_comment_and_a_writer_may_not() {
    let marker = marker();
    let env = spawn_jobs(&marking_agent(&marker), Some(PIPELINE), &[]).await;
    let job = env.run_one().await;
    let path = agen::store::log_deletions::session_log_path(&env.data_dir().join("logs"), job.id);
    assert!(path.exists());

    // A person with write access may start jobs, not delete their logs.
    env.comment("/agen logs delete", "maintainer").await;
    env.settle().await;
    let refused = env.agen_comments().pop().unwrap();
    assert!(
        refused.starts_with(
            "@maintainer, only an admin of this repository may delete its agen session logs; \
             your permission here is `write`."
        ),
        "{refused}"
    );
    assert!(path.exists());

    env.comment("/agen logs delete", "owner").await;
    env.settle().await;
    let done = env.agen_comments().pop().unwrap();
    assert!(
        done.starts_with("Deleted the session logs of 1 agen job(s) on this issue ("),
        "{done}"
    );
    assert!(done.contains("as @owner asked"), "{done}");
    assert!(!path.exists());
    let deletion = env.app.store.log_deletion(job.id).await.unwrap().unwrap();
    assert_eq!(deletion.deleted_by, "@owner");
    assert!(env.app.store.verify_audit().await.unwrap().is_ok());
    assert_eq!(kinds(&env, &job).await.last().unwrap(), "log_deleted");
}
