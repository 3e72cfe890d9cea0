//! Running jobs: workers claim queued jobs with a lease they renew while they work. A lease
//! that runs out means its worker died; the next claim takes the job over.

use sqlx::Row;

use super::jobs::{job_from_row, Job, JobState, JOB_COLUMNS};
use super::{now_ms, Store, StoreError};
use crate::ids::JobId;

impl Store {
    /// Takes the oldest queued job, or a running one whose lease ran out, and holds it for
    /// `lease_ms`. `attempts` counts the claims, so a taken-over job shows more than one.
    pub async fn claim_job(&self, lease_ms: i64) -> Result<Option<Job>, StoreError> {
        let now = now_ms();
        // One statement: two workers can never both claim the same row.
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', lease_until = $1, attempts = attempts + 1,
                 started_at = COALESCE(started_at, $2), updated_at = $2
             WHERE id = (SELECT id FROM jobs
                         WHERE state = 'queued' OR (state = 'running' AND lease_until < $2)
                         ORDER BY id LIMIT 1)
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(now + lease_ms)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(job_from_row).transpose()?)
    }

    /// Renews the lease; `false` when the job is no longer running (stopped by `/agen stop`).
    pub async fn renew_job_lease(&self, job: JobId, lease_ms: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let done =
            sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND state = 'running'")
                .bind(now + lease_ms)
                .bind(job.0)
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn job_state(&self, job: JobId) -> Result<Option<JobState>, StoreError> {
        let row = sqlx::query("SELECT state FROM jobs WHERE id = $1")
            .bind(job.0)
            .fetch_optional(self.pool())
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("state"))
            .transpose()?
            .map(|s| JobState::parse(&s)))
    }

    pub async fn set_job_round(&self, job: JobId, round: u32) -> Result<(), StoreError> {
        self.set_job_value(job, "round", i64::from(round)).await
    }

    /// The branch is chosen once per job, so a job run again after a crash reuses it.
    pub async fn set_job_branch(&self, job: JobId, branch: &str) -> Result<(), StoreError> {
        self.set_job_value(job, "branch", branch.to_string()).await
    }

    pub async fn set_job_head(&self, job: JobId, sha: &str) -> Result<(), StoreError> {
        self.set_job_value(job, "head_sha", sha.to_string()).await
    }

    pub async fn set_job_pull(&self, job: JobId, number: u64) -> Result<(), StoreError> {
        self.set_job_value(job, "pr_number", number as i64).await
    }

    /// Ends a running job with `state` and a one-line reason; `false` when it had already
    /// ended (for example cancelled meanwhile), which is then left as it is.
    pub async fn finish_job(
        &self,
        job: JobId,
        state: JobState,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, detail = $2, finished_at = $3, updated_at = $3,
                 lease_until = NULL
             WHERE id = $4 AND state = 'running'",
        )
        .bind(state.as_str())
        .bind(detail)
        .bind(now_ms())
        .bind(job.0)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records why a job that already ended (cancelled) ended, without changing its state.
    pub async fn set_job_detail(&self, job: JobId, detail: &str) -> Result<(), StoreError> {
        self.set_job_value(job, "detail", detail.to_string()).await
    }

    /// Where the job's time went, as JSON (see `job::timings`).
    pub async fn set_job_timings(&self, job: JobId, json: &str) -> Result<(), StoreError> {
        self.set_job_value(job, "timings", json.to_string()).await
    }

    /// Sets one column; `column` is one of the names above, never outside input.
    async fn set_job_value<T>(&self, job: JobId, column: &str, value: T) -> Result<(), StoreError>
    where
        T: Send + for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    {
        let sql = format!("UPDATE jobs SET {column} = $1, updated_at = $2 WHERE id = $3");
        sqlx::query(&sql)
            .bind(value)
            .bind(now_ms())
            .bind(job.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
