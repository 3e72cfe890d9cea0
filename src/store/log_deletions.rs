//! Which jobs' session logs were deleted, when and by whom: the log's bytes are gone, this
//! record stays so the job page can say so.

use std::path::{Path, PathBuf};

use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::ids::JobId;

/// The session log of `job` under `dir` (`<data dir>/logs`).
pub fn session_log_path(dir: &Path, job: JobId) -> PathBuf {
    dir.join(format!("job-{job}.log"))
}

/// A deleted log, as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogDeletion {
    pub job: JobId,
    pub deleted_at: i64,
    pub deleted_by: String,
    pub bytes: u64,
}

impl Store {
    /// Records that `job`'s log (`bytes` of it) was deleted by `by`; a second deletion keeps
    /// the first record.
    pub async fn record_log_deletion(
        &self,
        job: JobId,
        by: &str,
        bytes: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO log_deletions (job_id, deleted_at, deleted_by, bytes)
             VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(job.0)
        .bind(now_ms())
        .bind(by)
        .bind(bytes as i64)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn log_deletion(&self, job: JobId) -> Result<Option<LogDeletion>, StoreError> {
        let row = sqlx::query(
            "SELECT job_id, deleted_at, deleted_by, bytes FROM log_deletions WHERE job_id = $1",
        )
        .bind(job.0)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(LogDeletion {
                job: JobId(r.try_get("job_id")?),
                deleted_at: r.try_get("deleted_at")?,
                deleted_by: r.try_get("deleted_by")?,
                bytes: r.try_get::<i64, _>("bytes")? as u64,
            })
        })
        .transpose()
    }

    /// Jobs whose logs may still be there: of `repo` when given, created before `before_ms`
    /// when given, finished before `finished_before_ms` when given.
    pub async fn jobs_with_logs(
        &self,
        repo: Option<&str>,
        before_ms: Option<i64>,
        finished_before_ms: Option<i64>,
    ) -> Result<Vec<JobId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM jobs
             WHERE ($1 IS NULL OR repo = $1) AND ($2 IS NULL OR created_at < $2)
               AND ($3 IS NULL OR (finished_at IS NOT NULL AND finished_at < $3))
               AND id NOT IN (SELECT job_id FROM log_deletions)
             ORDER BY id",
        )
        .bind(repo)
        .bind(before_ms)
        .bind(finished_before_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok(JobId(r.try_get("id")?))).collect()
    }
}
