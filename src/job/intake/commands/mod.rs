//! The commands a person gives agen on an issue (see [`crate::command`]), a file each; intake
//! calls [`perform`] once policy allowed the person.

mod help;
mod logs_delete;
mod retry;
mod run;
mod status;
mod stop;

use super::replies::Replier;
use super::{Intake, IntakeError, Request};
use crate::command::Command;
use crate::github::repo::RepoClient;

/// Does what `req` asks; the line returned is the delivery's outcome in the inbox.
pub(super) async fn perform(
    intake: &Intake,
    req: &Request,
    client: &RepoClient<'_>,
    replier: &Replier<'_>,
) -> Result<String, IntakeError> {
    let jobs = intake
        .store
        .jobs_for_issue(req.origin.repository.id, req.issue)
        .await?;
    match &req.command {
        Command::Run { instructions } => run::queue(intake, req, instructions, replier).await,
        Command::Retry => retry::retry(intake, req, &jobs, replier).await,
        Command::Stop => stop::stop(intake, req, &jobs, client, replier).await,
        Command::Status => status::status(intake, req, jobs, replier).await,
        Command::Help => help::help(req, replier).await,
        Command::LogsDelete => logs_delete::delete(intake, req, &jobs, client, replier).await,
    }
}
