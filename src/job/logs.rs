//! Deleting session logs: on request (`agen logs delete`) and by
//! age (`AGEN_LOG_RETENTION_DAYS`, swept by idle workers). Deleting removes the bytes; a record
//! says when and by whom (for the job page), and the audit log has the deletion.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::ids::JobId;
use crate::store::audit::{AuditKind, NewAudit};
use crate::store::{now_ms, Store, StoreError};

/// How often an idle worker looks for logs past their retention.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

use crate::store::log_deletions::session_log_path;

/// Deletes the session logs of `jobs`, recording each deletion as done by `by`; how many
/// logs and bytes went.
pub async fn delete(
    store: &Store,
    dir: &Path,
    jobs: &[JobId],
    by: &str,
) -> Result<(usize, u64), StoreError> {
    let mut total = 0;
    for &job in jobs {
        let path = session_log_path(dir, job);
        let bytes = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e.into()),
        };
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        store.record_log_deletion(job, by, bytes).await?;
        let repo = store.job(job).await?.map(|j| j.repo.0);
        store
            .audit(NewAudit {
                kind: AuditKind::LogDeleted,
                repo: repo.as_deref(),
                job: Some(job.0),
                actor: None,
                detail: json!({"by": by, "bytes": bytes}),
            })
            .await?;
        total += bytes;
    }
    Ok((jobs.len(), total))
}

/// Deletes the logs of jobs that finished more than `days` ago (as of `now_ms`).
pub async fn delete_expired(
    store: &Store,
    dir: &Path,
    days: u64,
    now_ms: i64,
) -> Result<(usize, u64), StoreError> {
    let cutoff = now_ms - (days * 24 * 3600 * 1000) as i64;
    let jobs = store.jobs_with_logs(None, None, Some(cutoff)).await?;
    let by = format!("retention (AGEN_LOG_RETENTION_DAYS = {days})");
    delete(store, dir, &jobs, &by).await
}

/// [`delete_expired`] now, when [`SWEEP_EVERY`] has passed since `last`.
pub async fn sweep_when_due(store: &Store, dir: &Path, days: u64, last: &mut Instant) {
    if last.elapsed() < SWEEP_EVERY {
        return;
    }
    *last = Instant::now();
    match delete_expired(store, dir, days, now_ms()).await {
        Ok((0, _)) => {}
        Ok((n, bytes)) => tracing::info!("deleted {n} session logs past retention ({bytes} bytes)"),
        Err(e) => tracing::warn!("cannot delete session logs past retention: {e}"),
    }
}
