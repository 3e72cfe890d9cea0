//! `/agen status`: the jobs, their state and spend, answered on the issue.

use super::super::replies::Replier;
use super::super::{Intake, IntakeError, Request};
use crate::store::jobs::Job;
use crate::texts::comments;

pub(super) async fn status(
    intake: &Intake,
    req: &Request,
    jobs: Vec<Job>,
    replier: &Replier<'_>,
) -> Result<String, IntakeError> {
    let mut with_spend = Vec::new();
    for job in jobs {
        let spend = intake.store.job_spend(job.id).await?;
        with_spend.push((job, spend));
    }
    replier
        .reply(&req.delivery, &comments::status_report(&with_spend))
        .await?;
    Ok("status answered".into())
}
