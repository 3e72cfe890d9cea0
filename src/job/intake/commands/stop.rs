//! `/agen stop`: the active job is cancelled (its worker sees it within a second and
//! stops the session), its status comment says who stopped it.

use super::super::replies::Replier;
use super::super::{Intake, IntakeError, Request};
use crate::github::repo::RepoClient;
use crate::job::status::update_status;
use crate::store::jobs::{Job, JobState};
use crate::texts::comments;

pub(super) async fn stop(
    intake: &Intake,
    req: &Request,
    jobs: &[Job],
    client: &RepoClient<'_>,
    replier: &Replier<'_>,
) -> Result<String, IntakeError> {
    let Some(job) = jobs.iter().find(|j| j.state.is_active()) else {
        replier
            .reply(&req.delivery, &comments::nothing_to_stop())
            .await?;
        return Ok("stop: nothing to stop".into());
    };
    if intake
        .store
        .end_active_job(job.id, JobState::Cancelled)
        .await?
    {
        let text = comments::status_cancelled(job, &req.origin.sender.login);
        update_status(client, job, &text).await?;
    }
    replier
        .reply(&req.delivery, &comments::stopped(job.id))
        .await?;
    Ok(format!("stop: job {} cancelled", job.id))
}
