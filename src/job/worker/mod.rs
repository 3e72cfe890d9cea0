//! Workers: each claims one queued job at a time with a lease, renews it while the job runs
//! and watches for `/agen stop`. A job whose worker died (its lease ran out) is taken over
//! once; a job that was taken over and died again ends as failed.

mod agent_files;
mod agents;
mod caches;
pub mod context;
mod grant_sweep;
mod job_run;
mod pipeline;
mod publish;
mod refusals;
mod rounds;
mod run;
mod scan;
mod session;
mod session_log;
mod setup;
mod system;
mod target;
mod task;
mod timings;
mod transcript;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::Instrument;

use crate::ids::JobId;
use crate::sandbox::StopHandle;
use crate::store::jobs::{Job, JobState};
use crate::store::Store;
use context::JobContext;

/// How long a claim holds without renewal (`AGEN_JOB_LEASE_SECONDS`). A job whose worker
/// died waits this long before another worker takes it over.
fn lease_ms(ctx: &JobContext) -> i64 {
    ctx.settings.lease.as_millis() as i64
}

/// How often a running job's state is read (stop) and its lease renewed.
const WATCH_EVERY: Duration = Duration::from_millis(500);
/// Claims beyond this mean the job died with its worker twice: it ends as failed.
const MAX_ATTEMPTS: i64 = 2;

/// Starts `ctx.settings.workers` workers; `queued` wakes them when intake queues a job.
pub fn spawn_workers(ctx: Arc<JobContext>, queued: Arc<Notify>) {
    for n in 0..ctx.settings.workers {
        let (ctx, queued) = (ctx.clone(), queued.clone());
        tokio::spawn(async move {
            tracing::debug!(worker = n, "worker started");
            work(ctx, queued).await
        });
    }
}

async fn work(ctx: Arc<JobContext>, queued: Arc<Notify>) {
    let now = std::time::Instant::now();
    let mut pruned = now.checked_sub(grant_sweep::EVERY).unwrap_or(now);
    let mut swept = now
        .checked_sub(crate::job::logs::SWEEP_EVERY)
        .unwrap_or(now);
    loop {
        match ctx.store.claim_job(lease_ms(&ctx)).await {
            Ok(Some(job)) => {
                // Another worker may find more.
                queued.notify_one();
                let span = tracing::info_span!("job", id = %job.id, repo = %job.repo);
                run_claimed(&ctx, job).instrument(span).await;
            }
            Ok(None) => {
                grant_sweep::prune_when_due(&ctx, &mut pruned).await;
                let days = ctx.settings.log_retention_days;
                crate::job::logs::sweep_when_due(&ctx.store, &ctx.log_dir, days, &mut swept).await;
                let _ = tokio::time::timeout(Duration::from_secs(2), queued.notified()).await;
            }
            Err(e) => {
                tracing::error!("worker cannot claim jobs: {e}");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

async fn run_claimed(ctx: &JobContext, job: Job) {
    if job.attempts > MAX_ATTEMPTS {
        tracing::error!("job was interrupted twice; ending it as failed");
        run::end_interrupted(ctx, &job).await;
        return;
    }
    if job.attempts > 1 {
        tracing::warn!("taking over a job whose worker stopped");
    }
    let stop = StopHandle::new();
    let watcher = tokio::spawn(
        watch(ctx.store.clone(), job.id, lease_ms(ctx), stop.clone()).in_current_span(),
    );
    run::run_job(ctx, job, stop).await;
    watcher.abort();
}

/// Renews the lease while the job runs; stops the job once it is no longer running.
async fn watch(store: Store, job: JobId, lease_ms: i64, stop: StopHandle) {
    let mut since_renewal = Duration::ZERO;
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        since_renewal += WATCH_EVERY;
        let running = match store.job_state(job).await {
            Ok(state) => state == Some(JobState::Running),
            Err(e) => {
                tracing::warn!("cannot read the job's state: {e}");
                true
            }
        };
        if !running {
            stop.stop();
            return;
        }
        // Renewed well before it runs out, even with short test leases.
        if since_renewal >= Duration::from_millis(lease_ms as u64 / 4) {
            since_renewal = Duration::ZERO;
            if let Err(e) = store.renew_job_lease(job, lease_ms).await {
                tracing::warn!("cannot renew the job's lease: {e}");
            }
        }
    }
}
