//! Jobs: one row per accepted trigger, keyed by the delivery that asked for it.

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::ids::{
    CommentId, DeliveryId, InstallationId, IssueNumber, JobId, Login, RepoId, RepoName,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    NoChanges,
    /// A spend or CPU cap ended it.
    BudgetExceeded,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::TimedOut => "timed_out",
            JobState::NoChanges => "no_changes",
            JobState::BudgetExceeded => "budget_exceeded",
        }
    }

    pub(super) fn parse(s: &str) -> JobState {
        match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "succeeded" => JobState::Succeeded,
            "cancelled" => JobState::Cancelled,
            "timed_out" => JobState::TimedOut,
            "no_changes" => JobState::NoChanges,
            "budget_exceeded" => JobState::BudgetExceeded,
            // Anything unreadable is reported as failed rather than guessed at.
            _ => JobState::Failed,
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }
}

/// What started a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Label,
    Comment,
    Retry,
    CheckRun,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Label => "label",
            Trigger::Comment => "comment",
            Trigger::Retry => "retry",
            Trigger::CheckRun => "check_run",
        }
    }

    fn parse(s: &str) -> Trigger {
        match s {
            "label" => Trigger::Label,
            "retry" => Trigger::Retry,
            "check_run" => Trigger::CheckRun,
            _ => Trigger::Comment,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewJob {
    pub delivery: DeliveryId,
    pub installation: InstallationId,
    pub repo_id: RepoId,
    pub repo: RepoName,
    pub issue: IssueNumber,
    pub is_pull_request: bool,
    pub trigger: Trigger,
    pub requested_by: Login,
    pub requested_by_id: Option<u64>,
    pub instructions: String,
    /// The issue's (or pull request's) title and body when the job was asked for.
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: JobId,
    pub repo: RepoName,
    pub repo_id: RepoId,
    pub installation_id: InstallationId,
    pub issue: IssueNumber,
    pub is_pull_request: bool,
    pub state: JobState,
    pub trigger: Trigger,
    pub requested_by: Login,
    pub requested_by_id: Option<u64>,
    pub instructions: String,
    pub status_comment_id: Option<CommentId>,
    pub delivery_id: DeliveryId,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub title: String,
    pub body: String,
    /// How many times a worker claimed it (more than one: an earlier worker died).
    pub attempts: i64,
    pub round: i64,
    /// Unix milliseconds.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub branch: Option<String>,
    pub pr_number: Option<u64>,
    pub head_sha: Option<String>,
    pub detail: Option<String>,
    /// JSON: where the job's time went (`total_ms`, `git_ms`, `sandbox_ms`, `agen_ms`).
    pub timings: Option<String>,
}

pub(super) const JOB_COLUMNS: &str = "id, repo, repo_id, installation_id, issue, is_pull_request,
    state, trig, requested_by, requested_by_id, instructions, status_comment_id, delivery_id, created_at, title,
    body, attempts, round, started_at, finished_at, branch, pr_number, head_sha, detail, timings";

pub(super) fn job_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Job, sqlx::Error> {
    let created: i64 = r.try_get("created_at")?;
    Ok(Job {
        id: JobId(r.try_get("id")?),
        repo: RepoName(r.try_get("repo")?),
        repo_id: RepoId(r.try_get::<i64, _>("repo_id")? as u64),
        installation_id: InstallationId(r.try_get::<i64, _>("installation_id")? as u64),
        issue: IssueNumber(r.try_get::<i64, _>("issue")? as u64),
        is_pull_request: r.try_get("is_pull_request")?,
        state: JobState::parse(r.try_get("state")?),
        trigger: Trigger::parse(r.try_get("trig")?),
        requested_by: Login(r.try_get("requested_by")?),
        requested_by_id: r
            .try_get::<Option<i64>, _>("requested_by_id")?
            .map(|id| id as u64),
        instructions: r.try_get("instructions")?,
        status_comment_id: r
            .try_get::<Option<i64>, _>("status_comment_id")?
            .map(|c| CommentId(c as u64)),
        delivery_id: DeliveryId(r.try_get("delivery_id")?),
        created_at: chrono::DateTime::from_timestamp_millis(created)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        attempts: r.try_get("attempts")?,
        round: r.try_get("round")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        branch: r.try_get("branch")?,
        pr_number: r.try_get::<Option<i64>, _>("pr_number")?.map(|n| n as u64),
        head_sha: r.try_get("head_sha")?,
        detail: r.try_get("detail")?,
        timings: r.try_get("timings")?,
    })
}

impl Store {
    /// Creates the job for a delivery, or returns the one an earlier attempt created.
    pub async fn create_job(&self, job: &NewJob) -> Result<Job, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO jobs (delivery_id, installation_id, repo_id, repo, issue, is_pull_request,
                 state, trig, requested_by, requested_by_id, instructions, title, body,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, $12, $13, $13)
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(&job.delivery.0)
        .bind(job.installation.0 as i64)
        .bind(job.repo_id.0 as i64)
        .bind(&job.repo.0)
        .bind(job.issue.0 as i64)
        .bind(job.is_pull_request)
        .bind(job.trigger.as_str())
        .bind(&job.requested_by.0)
        .bind(job.requested_by_id.map(|id| id as i64))
        .bind(&job.instructions)
        .bind(&job.title)
        .bind(&job.body)
        .bind(now)
        .execute(self.pool())
        .await?;
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE delivery_id = $1"
        ))
        .bind(&job.delivery.0)
        .fetch_one(self.pool())
        .await?;
        Ok(job_from_row(&row)?)
    }

    pub async fn set_status_comment(
        &self,
        job: JobId,
        comment: CommentId,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET status_comment_id = $1, updated_at = $2 WHERE id = $3")
            .bind(comment.0 as i64)
            .bind(now_ms())
            .bind(job.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Moves a job to `to` only if it is still active; returns whether it moved.
    pub async fn end_active_job(&self, job: JobId, to: JobState) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, updated_at = $2, finished_at = $2, lease_until = NULL
             WHERE id = $3 AND state IN ('queued', 'running')",
        )
        .bind(to.as_str())
        .bind(now_ms())
        .bind(job.0)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id"))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
    }

    pub async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// The jobs on one issue or pull request, newest first.
    pub async fn jobs_for_issue(
        &self,
        repo: RepoId,
        issue: IssueNumber,
    ) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE repo_id = $1 AND issue = $2 ORDER BY id DESC"
        ))
        .bind(repo.0 as i64)
        .bind(issue.0 as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
    }
}
