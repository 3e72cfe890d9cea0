//! `/agen help`: the commands, answered on the issue.

use super::super::replies::Replier;
use super::super::{IntakeError, Request};
use crate::texts::comments;

pub(super) async fn help(req: &Request, replier: &Replier<'_>) -> Result<String, IntakeError> {
    replier.reply(&req.delivery, &comments::help()).await?;
    Ok("help answered".into())
}
