//! Intake: from a stored delivery to its effects. At least once: a delivery may be processed
//! again after a crash, so every effect is keyed and happens once.

mod commands;
pub mod installations;
pub mod replies;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::command::{self, Command};
use crate::event::{CheckRunRequested, CommentCreated, Event, IssueLabeled, Origin};
use crate::github::repo::RepoClient;
use crate::github::tokens::INTAKE;
use crate::github::{GitHub, GitHubError};
use crate::ids::{CommentId, DeliveryId, IssueNumber, JobId};
use crate::policy::{self, Permission, PermissionLookup, Verdict};
use crate::repo_config::{self, RepoConfig, ServerCaps};
use crate::store::audit::{AuditKind, NewAudit};
use crate::store::inbox::StoredDelivery;
use crate::store::jobs::Trigger;
use crate::store::{Store, StoreError};
use crate::texts::comments;
use installations::SyncError;
use replies::Replier;

const BATCH: i64 = 16;
const LEASE_MS: i64 = 60_000;
/// After this many failed attempts a delivery is closed with its last error.
const MAX_ATTEMPTS: i64 = 12;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntakeError {
    /// GitHub refused the request itself (4xx after retries): trying again cannot help.
    fn is_permanent(&self) -> bool {
        matches!(self, IntakeError::GitHub(e) if e.status.is_some_and(|s| (400..500).contains(&s)))
    }
}

impl From<SyncError> for IntakeError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::GitHub(e) => IntakeError::GitHub(e),
            SyncError::Store(e) => IntakeError::Store(e),
        }
    }
}

#[derive(Clone, Debug)]
pub struct IntakeSettings {
    pub app_id: u64,
    /// The server's limits and defaults, which a repository's config may tighten.
    pub caps: ServerCaps,
    /// Where the jobs' session logs are (`<data dir>/logs`), for `/agen logs delete`.
    pub log_dir: std::path::PathBuf,
}

struct RepoSettings {
    trigger_label: String,
    min_permission: Permission,
}

pub struct Intake {
    pub store: Store,
    pub github: Arc<GitHub>,
    /// Woken when a job is queued, for the workers.
    pub queued: Arc<Notify>,
    pub settings: IntakeSettings,
}

/// A command someone asked for, wherever it came from.
struct Request {
    delivery: DeliveryId,
    origin: Origin,
    issue: IssueNumber,
    is_pull_request: bool,
    /// For a label event: the label, which must be the trigger label.
    label: Option<String>,
    comment: Option<CommentId>,
    command: Command,
    trigger: Trigger,
    /// The issue's title and body, for the agent's task.
    title: String,
    body: String,
}

impl Intake {
    /// Processes the inbox until the process ends: on every arrival, and every few seconds
    /// for deliveries whose retry time has come.
    pub async fn run(self, arrived: Arc<Notify>) {
        loop {
            match self.drain().await {
                Ok(()) => {}
                Err(e) => tracing::error!("intake: {e}"),
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), arrived.notified()).await;
        }
    }

    /// Processes claimable deliveries until none is left.
    pub async fn drain(&self) -> Result<(), StoreError> {
        loop {
            let batch = self.store.claim_deliveries(BATCH, LEASE_MS).await?;
            if batch.is_empty() {
                return Ok(());
            }
            for delivery in &batch {
                let span =
                    tracing::info_span!("delivery", id = %delivery.id, event = %delivery.event);
                self.settle(delivery).instrument(span).await?;
            }
        }
    }

    async fn settle(&self, d: &StoredDelivery) -> Result<(), StoreError> {
        match self.process(d).await {
            Ok(outcome) => {
                tracing::info!("{outcome}");
                self.store
                    .audit(NewAudit {
                        kind: AuditKind::DeliveryAccepted,
                        repo: None,
                        job: None,
                        actor: None,
                        detail: json!({"delivery": d.id.0, "event": d.event, "outcome": outcome}),
                    })
                    .await?;
                self.store.finish_delivery(d.seq, &outcome).await
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!("GitHub refused: {e}");
                let outcome = format!("refused by GitHub: {e}");
                self.store.finish_delivery(d.seq, &outcome).await
            }
            Err(e) if d.attempts >= MAX_ATTEMPTS => {
                tracing::error!("giving up after {} attempts: {e}", d.attempts);
                self.store
                    .finish_delivery(d.seq, &format!("gave up: {e}"))
                    .await
            }
            Err(e) => {
                let wait = 1_000i64 << d.attempts.clamp(0, 9);
                tracing::warn!("will retry in {wait} ms: {e}");
                self.store
                    .retry_delivery_later(d.seq, wait, &e.to_string())
                    .await
            }
        }
    }

    pub async fn process(&self, d: &StoredDelivery) -> Result<String, IntakeError> {
        let gh = &self.github;
        match Event::parse(&d.event, &d.body) {
            Event::Installation(change) => {
                Ok(installations::apply_installation(&self.store, gh, &change).await?)
            }
            Event::InstallationRepositories(change) => {
                Ok(installations::apply_repositories(&self.store, &change).await?)
            }
            Event::IssueLabeled(e) => self.on_labeled(d, e).await,
            Event::CommentCreated(e) => self.on_comment(d, e).await,
            Event::CheckRunRequested(e) => self.on_check_run(d, e).await,
            Event::Ignored { reason } => Ok(format!("ignored: {reason}")),
        }
    }

    async fn on_labeled(&self, d: &StoredDelivery, e: IssueLabeled) -> Result<String, IntakeError> {
        self.handle(Request {
            label: Some(e.label),
            delivery: d.id.clone(),
            origin: e.origin,
            issue: e.issue.number,
            is_pull_request: e.issue.is_pull_request(),
            comment: None,
            command: Command::Run {
                instructions: String::new(),
            },
            trigger: Trigger::Label,
            title: e.issue.title,
            body: e.issue.body.unwrap_or_default(),
        })
        .await
    }

    async fn on_comment(
        &self,
        d: &StoredDelivery,
        e: CommentCreated,
    ) -> Result<String, IntakeError> {
        let Some(command) = command::parse(&e.comment.body) else {
            return Ok("ignored: no /agen command".into());
        };
        self.handle(Request {
            delivery: d.id.clone(),
            origin: e.origin,
            issue: e.issue.number,
            is_pull_request: e.issue.is_pull_request(),
            label: None,
            comment: Some(e.comment.id),
            command,
            trigger: Trigger::Comment,
            title: e.issue.title,
            body: e.issue.body.unwrap_or_default(),
        })
        .await
    }

    /// "Re-run" on one of agen's own check runs retries the job it reported on.
    async fn on_check_run(
        &self,
        d: &StoredDelivery,
        e: CheckRunRequested,
    ) -> Result<String, IntakeError> {
        if e.check_run.app.as_ref().map(|a| a.id) != Some(self.settings.app_id) {
            return Ok("ignored: check run belongs to another app".into());
        }
        let job_id = e
            .check_run
            .external_id
            .as_deref()
            .and_then(|x| x.strip_prefix("job:"))
            .and_then(|x| x.parse().ok())
            .map(JobId);
        let Some(job) = (match job_id {
            Some(id) => self.store.job(id).await?,
            None => None,
        }) else {
            return Ok("ignored: check run names no agen job".into());
        };
        self.handle(Request {
            delivery: d.id.clone(),
            origin: e.origin,
            issue: job.issue,
            is_pull_request: job.is_pull_request,
            label: None,
            comment: None,
            command: Command::Retry,
            trigger: Trigger::CheckRun,
            title: job.title,
            body: job.body,
        })
        .await
    }

    /// Policy first (bots, grants, the person's permission), then the command.
    async fn handle(&self, req: Request) -> Result<String, IntakeError> {
        if let Verdict::Ignore(why) = policy::sender_verdict(req.origin.sender.is_bot()) {
            return Ok(format!("ignored: {why}"));
        }
        if let Verdict::Ignore(why) = self.grant_verdict(&req.origin).await? {
            return Ok(format!("ignored: {why}"));
        }
        let repo = &req.origin.repository;
        let client = self
            .github
            .repo(
                req.origin.installation,
                repo.id,
                repo.full_name.clone(),
                INTAKE,
            )
            .await?;
        let settings = self.repo_settings(&client).await?;
        if let Some(label) = req.label.as_ref().filter(|l| **l != settings.trigger_label) {
            return Ok(format!("ignored: label {label} is not the trigger label"));
        }
        let replier = Replier {
            store: &self.store,
            client: &client,
            issue: req.issue,
        };
        let sender = &req.origin.sender.login;
        let lookup = match client.permission_of(sender).await {
            Ok(p) => PermissionLookup::Known(p),
            Err(e) => PermissionLookup::Unknown(e.to_string()),
        };
        let verdict = policy::permission_verdict(settings.min_permission, &lookup);
        let permission = match &lookup {
            PermissionLookup::Known(p) => p.as_str().to_string(),
            PermissionLookup::Unknown(why) => format!("unknown ({why})"),
        };
        let (kind, rule) = match &verdict {
            Verdict::Refuse(refusal) => (AuditKind::TriggerRefused, format!("{refusal:?}")),
            _ => (
                AuditKind::TriggerAccepted,
                format!("at least {}", settings.min_permission.as_str()),
            ),
        };
        self.store
            .audit(NewAudit {
                kind,
                repo: Some(&repo.full_name.0),
                job: None,
                actor: Some(&sender.0),
                detail: json!({
                    "delivery": req.delivery.0,
                    "command": format!("{:?}", req.command),
                    "permission": permission,
                    "rule": rule,
                }),
            })
            .await?;
        if let Verdict::Refuse(refusal) = verdict {
            let text = comments::refusal(sender, &repo.full_name, &refusal);
            replier.reply(&req.delivery, &text).await?;
            return Ok(format!("refused {sender}: {refusal:?}"));
        }
        if let Some(comment) = req.comment {
            replier.acknowledge(&req.delivery, comment).await?;
        }
        commands::perform(self, &req, &client, &replier).await
    }

    /// The trigger label and minimum permission, as the repository's `.github/agen.yml` (on
    /// its default branch) sets them within the server's. A file that does not parse leaves
    /// the server's settings: the worker reports the problem on the issue.
    async fn repo_settings(&self, client: &RepoClient<'_>) -> Result<RepoSettings, IntakeError> {
        let caps = self.settings.caps.clone();
        let config = match client.file(repo_config::PATH, None).await? {
            Some(bytes) => RepoConfig::parse(&String::from_utf8_lossy(&bytes), &caps)
                .unwrap_or_else(|_| RepoConfig::defaults(&caps)),
            None => RepoConfig::defaults(&caps),
        };
        Ok(RepoSettings {
            trigger_label: config.trigger_label,
            min_permission: config.min_permission,
        })
    }

    async fn grant_verdict(&self, origin: &Origin) -> Result<Verdict, IntakeError> {
        let mut installation = self.store.installation(origin.installation).await?;
        if installation.is_none()
            && installations::reconcile_one(&self.store, &self.github, origin.installation).await?
        {
            installation = self.store.installation(origin.installation).await?;
        }
        let repository = self.store.repository(origin.repository.id).await?;
        Ok(policy::grant_verdict(
            installation.as_ref(),
            repository.as_ref(),
        ))
    }
}
