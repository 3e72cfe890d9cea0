//! What agen says on an issue outside a job's report: the status comment while queued or
//! cancelled, refusals, and the answers to `/agen help`, `status`, `stop` and `retry`.

use crate::command;
use crate::ids::{JobId, Login, RepoName};
use crate::policy::Refusal;
use crate::store::jobs::Job;
use crate::store::model_calls::JobSpend;

pub fn status_queued(job: &Job) -> String {
    format!(
        "**agen** · job {} is queued\n\n\
         Requested by @{}. This comment will follow the job and link the pull request when there is one.\n\n\
         `/agen stop` cancels it, `/agen status` shows where it is.",
        job.id, job.requested_by
    )
}

pub fn status_cancelled(job: &Job, by: &Login) -> String {
    format!("**agen** · job {} was cancelled by @{by}.", job.id)
}

pub fn refusal(user: &Login, repo: &RepoName, refusal: &Refusal) -> String {
    match refusal {
        Refusal::NeedsPermission { needed, has } => format!(
            "@{user} agen needs {needed} access to {repo} to start work; you have {has}. \
             Ask a maintainer to run the command, or to grant you {needed} access."
        ),
        Refusal::PermissionUnknown { .. } => format!(
            "@{user} agen could not confirm your access to {repo} with GitHub, so it did nothing. \
             Try the command again in a few minutes."
        ),
    }
}

pub fn help() -> String {
    command::help_markdown()
}

/// The jobs on an issue, each with what it spent (see `report::spend_line`).
pub fn status_report(jobs: &[(Job, JobSpend)]) -> String {
    if jobs.is_empty() {
        return "agen has no jobs on this issue yet. Write `/agen <instructions>` to start one."
            .into();
    }
    let mut out = String::from(
        "| job | state | round | time used | spent | trigger | requested by | created |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (job, spend) in jobs {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | @{} | {} |\n",
            job.id,
            job.state.as_str(),
            job.round,
            time_used(job),
            super::report::spend_line(spend),
            job.trigger.as_str(),
            job.requested_by,
            job.created_at
        ));
    }
    out
}

/// From the first claim to the end, or to now while it runs; `-` before it started.
fn time_used(job: &Job) -> String {
    let Some(started) = job.started_at else {
        return "-".into();
    };
    let end = job
        .finished_at
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let ms = u64::try_from(end - started).unwrap_or(0);
    super::report::duration(std::time::Duration::from_millis(ms))
}

pub fn stopped(job: JobId) -> String {
    format!("Stopped job {job}.")
}

pub fn nothing_to_stop() -> String {
    "There is no queued or running agen job on this issue, so there is nothing to stop.".into()
}

pub fn nothing_to_retry() -> String {
    "There is no earlier agen job on this issue to retry. Write `/agen <instructions>` to start one.".into()
}

pub fn logs_deleted(jobs: usize, bytes: u64, by: &Login) -> String {
    format!(
        "Deleted the session logs of {jobs} agen job(s) on this issue ({bytes} bytes), as @{by} \
         asked. The audit log records the deletion."
    )
}

pub fn logs_delete_refused(user: &Login, has: crate::policy::Permission) -> String {
    format!(
        "@{user}, only an admin of this repository may delete its agen session logs; your \
         permission here is `{}`. Ask an admin, or agen's operator (`agen logs delete`).",
        has.as_str()
    )
}
