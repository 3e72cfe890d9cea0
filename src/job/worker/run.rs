//! One job, from claim to its end on GitHub: checks again who asked and what the repository
//! allows, prepares the workspace, runs the rounds, publishes, and reports. Whatever happens,
//! the job ends with a state, a status comment saying why, and no workspace left behind.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::context::JobContext;
use serde_json::json;

use super::job_run::{audit_job, Ending, JobError, JobRun};
use super::session_log::SessionLog;
use super::timings::Timings;
use crate::github::tokens::JOB;
use crate::github::GitHubError;
use crate::job::status::update_status;
use crate::policy::{self, PermissionLookup, Verdict};
use crate::repo_config::{RepoConfig, PATH};
use crate::sandbox::StopHandle;
use crate::store::audit::AuditKind;
use crate::store::jobs::{Job, JobState};
use crate::store::model_calls::Payer;
use crate::texts::{comments, report};
use crate::workspace::GitToken;

pub async fn run_job(ctx: &JobContext, job: Job, stop: StopHandle) {
    let started = Instant::now();
    let timings = Timings::default();
    let ending = match prepare_and_run(ctx, &job, stop, &timings).await {
        Ok(ending) => ending,
        Err(e) => {
            tracing::warn!("job failed: {e}");
            let detail = match &e {
                JobError::User(text) => text.clone(),
                other => format!("agen hit an error: {other}"),
            };
            Ending {
                state: JobState::Failed,
                status: report::status_failed(&job, &detail),
                detail,
            }
        }
    };
    let ending = with_page_link(ctx, &job, ending).await;
    conclude(ctx, &job, &ending).await;
    let spent = timings.spent(started.elapsed());
    tracing::info!(
        total_ms = spent.total_ms,
        git_ms = spent.git_ms,
        sandbox_ms = spent.sandbox_ms,
        agen_ms = spent.agen_ms,
        "job timings"
    );
    let json = serde_json::to_string(&spent).unwrap_or_default();
    if let Err(e) = ctx.store.set_job_timings(job.id, &json).await {
        tracing::warn!("cannot record the job's timings: {e}");
    }
}

/// Ends a job whose workers kept dying under it, saying so on the issue.
pub async fn end_interrupted(ctx: &JobContext, job: &Job) {
    let detail = "agen stopped twice while running this job, so it was not run again; \
                  write `/agen retry` to try once more"
        .to_string();
    let ending = Ending {
        state: JobState::Failed,
        status: report::status_failed(job, &detail),
        detail,
    };
    let ending = with_page_link(ctx, job, ending).await;
    conclude(ctx, job, &ending).await;
}

async fn prepare_and_run<'a>(
    ctx: &'a JobContext,
    job: &'a Job,
    stop: StopHandle,
    timings: &'a Timings,
) -> Result<Ending, JobError> {
    let started = Instant::now();
    let kind = if job.attempts > 1 {
        AuditKind::JobTakenOver
    } else {
        AuditKind::JobStarted
    };
    audit_job(ctx, job, kind, json!({"attempt": job.attempts})).await?;
    grant_still_holds(ctx, job).await?;
    let client = ctx
        .github
        .repo(job.installation_id, job.repo_id, job.repo.clone(), JOB)
        .await?;
    let minted = json!({
        "installation": job.installation_id.0,
        "repository_ids": [job.repo_id.0],
        "permissions": JOB
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<serde_json::Map<_, _>>(),
    });
    audit_job(ctx, job, AuditKind::TokenMinted, minted).await?;
    // Independent questions, asked at once. The config comes from the default branch (no
    // `ref`): a pull request cannot change what runs on itself.
    let (info, file, permission) = tokio::join!(
        client.info(),
        client.file(PATH, None),
        client.permission_of(&job.requested_by)
    );
    let (info, caps) = (info?, &ctx.caps);
    let config = match file? {
        None => RepoConfig::defaults(caps),
        Some(bytes) => match RepoConfig::parse(&String::from_utf8_lossy(&bytes), caps) {
            Ok(config) => config,
            Err(e) => {
                let detail = json!({"file": PATH, "key": e.key, "problem": e.problem});
                audit_job(ctx, job, AuditKind::ConfigError, detail).await?;
                return Err(JobError::User(e.to_string()));
            }
        },
    };
    requester_still_allowed(job, &config, permission)?;
    let system = super::system::resolve(ctx, &client, &config).await?;
    let mut secrets = ctx.server_secrets.clone();
    secrets.extend(
        ctx.github
            .minted_tokens()
            .iter()
            .map(|t| t.expose().to_string()),
    );
    let git_token = GitToken::new(client.token().expose());
    let agent = ctx.settings.agents.pick(config.agent.as_deref());
    let payer = Payer {
        job: job.id,
        repo_id: job.repo_id,
        repo: job.repo.clone(),
        installation: job.installation_id,
        agent: agent.map(|a| a.name.clone()).unwrap_or_default(),
    };
    let caps = ctx
        .gateway
        .caps(config.job_usd, agent.and_then(|a| a.monthly));
    ctx.store.set_job_budget(job.id, caps.job).await?;
    ctx.store.settle_interrupted_calls(job.id).await?;
    let run = JobRun {
        pass: ctx.gateway.open_job_for(
            payer.clone(),
            caps,
            agent.map(|a| a.models.clone()).unwrap_or_default(),
        ),
        payer,
        caps,
        // A job taken over after a crash keeps what its sessions used before.
        cpu_used_ms: AtomicU64::new(ctx.store.job_spend(job.id).await?.cpu_seconds * 1000),
        ctx,
        job,
        info,
        git_token,
        timings,
        log: SessionLog::new(&ctx.log_dir, job.id, secrets, ctx.settings.log_max_bytes),
        client,
        stop,
        deadline: started
            + ctx
                .settings
                .job_time
                .min(Duration::from_secs(u64::from(config.job_minutes) * 60)),
        config,
        started,
        system,
    };
    run.execute().await
}

async fn grant_still_holds(ctx: &JobContext, job: &Job) -> Result<(), JobError> {
    let installation = ctx.store.installation(job.installation_id).await?;
    let repository = ctx.store.repository(job.repo_id).await?;
    match policy::grant_verdict(installation.as_ref(), repository.as_ref()) {
        Verdict::Allow => Ok(()),
        Verdict::Ignore(why)
        | Verdict::Refuse(policy::Refusal::PermissionUnknown { reason: why }) => Err(
            JobError::User(format!("agen may no longer work on {}: {why}", job.repo)),
        ),
        Verdict::Refuse(refusal) => Err(JobError::User(format!("{refusal:?}"))),
    }
}

/// The person who asked may have lost access since: checked again, against the stricter of
/// the server's and the repository's minimum.
fn requester_still_allowed(
    job: &Job,
    config: &RepoConfig,
    permission: Result<crate::policy::Permission, GitHubError>,
) -> Result<(), JobError> {
    let lookup = match permission {
        Ok(p) => PermissionLookup::Known(p),
        Err(e) => PermissionLookup::Unknown(e.to_string()),
    };
    match policy::permission_verdict(config.min_permission, &lookup) {
        Verdict::Allow => Ok(()),
        Verdict::Refuse(refusal) => Err(JobError::User(comments::refusal(
            &job.requested_by,
            &job.repo,
            &refusal,
        ))),
        Verdict::Ignore(why) => Err(JobError::User(why)),
    }
}

/// The ending's status comment with the link to the job's page (left out, with a warning,
/// if the store cannot sign one: the ending matters more).
async fn with_page_link(ctx: &JobContext, job: &Job, mut ending: Ending) -> Ending {
    match super::job_run::page_url(ctx, job.id).await {
        Ok(url) => ending
            .status
            .push_str(&report::page_link(&url, ctx.settings.link_days)),
        Err(e) => tracing::warn!("cannot sign the job page's link: {e}"),
    }
    ending
}

/// Writes the ending down and tells the issue. A job cancelled meanwhile stays cancelled.
async fn conclude(ctx: &JobContext, job: &Job, ending: &Ending) {
    let moved = match ctx
        .store
        .finish_job(job.id, ending.state, &ending.detail)
        .await
    {
        Ok(moved) => moved,
        Err(e) => {
            tracing::error!("cannot record the job's end: {e}");
            return;
        }
    };
    let detail =
        json!({"state": ending.state.as_str(), "detail": ending.detail, "recorded": moved});
    if let Err(e) = audit_job(ctx, job, AuditKind::JobEnded, detail).await {
        tracing::error!("cannot write the job's end to the audit log: {e}");
    }
    if !moved {
        // Cancelled by `/agen stop`: intake already said so on the issue; keep the reason.
        if let Err(e) = ctx.store.set_job_detail(job.id, &ending.detail).await {
            tracing::warn!("cannot record why the job ended: {e}");
        }
        return;
    }
    let client = match ctx
        .github
        .repo(job.installation_id, job.repo_id, job.repo.clone(), JOB)
        .await
    {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!("cannot report the job's end: {e}");
            return;
        }
    };
    if let Err(e) = update_status(&client, job, &ending.status).await {
        tracing::warn!("cannot update the status comment: {e}");
    }
    tracing::info!(state = ending.state.as_str(), "{}", ending.detail);
}
