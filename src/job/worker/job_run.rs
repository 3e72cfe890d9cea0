//! A job being run: what its steps share ([`JobRun`]), how it can fail ([`JobError`]) and how
//! it ended ([`Ending`]). The steps (target, rounds, publish) are methods on it, each in its
//! own file; [`super::pipeline`] runs them in order.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::context::JobContext;
use super::session_log::SessionLog;
use super::system::System;
use super::timings::Timings;
use crate::budget::Caps;
use crate::gateway::JobPass;
use crate::github::contents::RepoInfo;
use crate::github::repo::RepoClient;
use crate::github::GitHubError;
use crate::job::status::update_status;
use crate::repo_config::RepoConfig;
use crate::sandbox::StopHandle;
use crate::store::audit::{AuditKind, NewAudit};
use crate::store::jobs::{Job, JobState};
use crate::store::model_calls::Payer;
use crate::store::StoreError;
use crate::texts::report;
use crate::workspace::GitToken;

/// Why a job could not go on.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Something the people on the issue can fix; said as it is on the issue.
    #[error("{0}")]
    User(String),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// How a job ended, before it is written down.
#[derive(Debug, Clone)]
pub struct Ending {
    pub state: JobState,
    /// One line for the store and `jobs list`.
    pub detail: String,
    /// The status comment's new text.
    pub status: String,
}

/// A job being run: everything its steps share.
pub struct JobRun<'a> {
    pub ctx: &'a JobContext,
    pub job: &'a Job,
    pub client: RepoClient<'a>,
    pub stop: StopHandle,
    pub config: RepoConfig,
    pub deadline: Instant,
    pub started: Instant,
    pub log: SessionLog,
    /// The repository's settings on GitHub: default branch, clone URL.
    pub info: RepoInfo,
    /// The job's token, for git over HTTP outside the sandbox.
    pub git_token: GitToken,
    pub timings: &'a Timings,
    /// Who the job's model calls are charged to, and under which caps.
    pub payer: Payer,
    pub caps: Caps,
    /// The job's token for the model gateway, valid while this run lasts.
    pub pass: JobPass,
    /// CPU its sessions used so far (the job's CPU budget counts against it).
    pub cpu_used_ms: AtomicU64,
    /// The image its sessions run on (`None`: the host's system).
    pub system: Option<System>,
}

impl JobRun<'_> {
    /// Edits the job's status comment.
    pub async fn status(&self, text: &str) -> Result<(), JobError> {
        update_status(&self.client, self.job, text).await?;
        Ok(())
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The job's CPU time over all its sessions: the server's, or less if the repository says.
    pub fn cpu_budget(&self) -> Duration {
        let repo = Duration::from_secs(u64::from(self.config.cpu_minutes) * 60);
        self.ctx.settings.job_cpu.min(repo)
    }

    /// What the job has spent so far, as the reports say it.
    pub async fn spend_line(&self) -> Result<String, JobError> {
        let spend = self.ctx.store.job_spend(self.job.id).await?;
        Ok(report::spend_line(&spend))
    }

    /// Runs blocking git work off the async threads, counting its time as git's.
    pub(super) async fn git<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, crate::workspace::WorkspaceError> + Send + 'static,
    ) -> Result<T, JobError> {
        let since = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| JobError::Internal(format!("git thread: {e}")))?
            .map_err(|e| JobError::Internal(e.to_string()));
        self.timings.git(since);
        result
    }

    /// A signed link to this job's page, valid for `AGEN_LINK_DAYS`.
    pub(super) async fn page_url(&self) -> Result<String, JobError> {
        Ok(page_url(self.ctx, self.job.id).await?)
    }

    /// Appends `kind` to the audit log for this job, with `detail`.
    pub(super) async fn audit(
        &self,
        kind: AuditKind,
        detail: serde_json::Value,
    ) -> Result<(), JobError> {
        audit_job(self.ctx, self.job, kind, detail).await?;
        Ok(())
    }
}

/// Appends `kind` to the audit log for `job`, with `detail`.
pub(super) async fn audit_job(
    ctx: &JobContext,
    job: &Job,
    kind: AuditKind,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    ctx.store
        .audit(NewAudit {
            kind,
            repo: Some(&job.repo.0),
            job: Some(job.id.0),
            actor: Some(&job.requested_by.0),
            detail,
        })
        .await?;
    Ok(())
}

/// A signed link to `job`'s page, valid for `AGEN_LINK_DAYS`.
pub(super) async fn page_url(
    ctx: &JobContext,
    job: crate::ids::JobId,
) -> Result<String, StoreError> {
    let key = ctx.store.link_key().await?;
    let days = ctx.settings.link_days as i64;
    let expires = chrono::Utc::now().timestamp() + days * 24 * 3600;
    let path = crate::store::link_key::path(&key, job, expires);
    Ok(format!("{}{path}", ctx.public_url.trim_end_matches('/')))
}
