//! `/agen logs delete`: the session logs of this jobs are deleted, by an admin of the
//! repository only (the logs hold what the agent saw and did; the people who may delete the
//! repository may delete them). The deletion is recorded and audited like `agen logs delete`.

use super::super::replies::Replier;
use super::super::{Intake, IntakeError, Request};
use crate::github::repo::RepoClient;
use crate::policy::Permission;
use crate::store::jobs::Job;
use crate::texts::comments;

pub(super) async fn delete(
    intake: &Intake,
    req: &Request,
    jobs: &[Job],
    client: &RepoClient<'_>,
    replier: &Replier<'_>,
) -> Result<String, IntakeError> {
    let sender = &req.origin.sender.login;
    let has = client.permission_of(sender).await?;
    if has < Permission::Admin {
        let text = comments::logs_delete_refused(sender, has);
        replier.reply(&req.delivery, &text).await?;
        return Ok(format!("logs delete: refused {sender} ({})", has.as_str()));
    }
    let ids: Vec<_> = jobs.iter().map(|j| j.id).collect();
    let by = format!("@{sender}");
    let (n, bytes) =
        crate::job::logs::delete(&intake.store, &intake.settings.log_dir, &ids, &by).await?;
    replier
        .reply(&req.delivery, &comments::logs_deleted(n, bytes, sender))
        .await?;
    Ok(format!("logs delete: {n} logs ({bytes} bytes) deleted"))
}
