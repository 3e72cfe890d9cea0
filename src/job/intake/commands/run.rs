//! `/agen <instructions>` or the trigger label: a job is queued, and its status comment
//! posted once (a delivery processed again finds both).

use super::super::replies::Replier;
use super::super::{Intake, IntakeError, Request};
use crate::command::Command;
use serde_json::json;

use crate::store::audit::{AuditKind, NewAudit};
use crate::store::jobs::{NewJob, Trigger};
use crate::texts::{comments, CommentKey};

pub(super) async fn queue(
    intake: &Intake,
    req: &Request,
    instructions: &str,
    replier: &Replier<'_>,
) -> Result<String, IntakeError> {
    let repo = &req.origin.repository;
    let job = intake
        .store
        .create_job(&NewJob {
            delivery: req.delivery.clone(),
            installation: req.origin.installation,
            repo_id: repo.id,
            repo: repo.full_name.clone(),
            issue: req.issue,
            is_pull_request: req.is_pull_request,
            trigger: if req.command == Command::Retry && req.trigger == Trigger::Comment {
                Trigger::Retry
            } else {
                req.trigger
            },
            requested_by: req.origin.sender.login.clone(),
            requested_by_id: req.origin.sender.id,
            instructions: instructions.to_string(),
            title: req.title.clone(),
            body: req.body.clone(),
        })
        .await?;
    if job.status_comment_id.is_none() {
        intake
            .store
            .audit(NewAudit {
                kind: AuditKind::JobQueued,
                repo: Some(&job.repo.0),
                job: Some(job.id.0),
                actor: Some(&job.requested_by.0),
                detail: json!({
                    "issue": job.issue.0,
                    "trigger": job.trigger.as_str(),
                    "delivery": job.delivery_id.0,
                }),
            })
            .await?;
        let key = CommentKey::Status(job.id);
        let comment = replier
            .post_once(&key, &comments::status_queued(&job))
            .await?;
        intake.store.set_status_comment(job.id, comment).await?;
    }
    intake.queued.notify_one();
    Ok(format!("job {} queued", job.id))
}
