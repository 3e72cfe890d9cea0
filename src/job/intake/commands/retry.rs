//! `/agen retry`: the last job again, with its instructions, as a new job.

use super::super::replies::Replier;
use super::super::{Intake, IntakeError, Request};
use crate::store::jobs::Job;
use crate::texts::comments;

pub(super) async fn retry(
    intake: &Intake,
    req: &Request,
    jobs: &[Job],
    replier: &Replier<'_>,
) -> Result<String, IntakeError> {
    match jobs.first() {
        Some(last) => super::run::queue(intake, req, &last.instructions, replier).await,
        None => {
            replier
                .reply(&req.delivery, &comments::nothing_to_retry())
                .await?;
            Ok("retry: nothing to retry".into())
        }
    }
}
