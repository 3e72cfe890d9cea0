//! Publish, outside the sandbox, once the checks passed: what the agent changed is committed
//! by the App's bot, pushed to an `agen/…` branch, and offered as a pull request with one
//! completed check run. Every GitHub effect is keyed so a job run again after a
//! crash never opens a second pull request.

use super::job_run::{JobError, JobRun};
use super::target::Target;
use crate::github::checks::{CompletedRun, Conclusion};
use crate::github::pulls::NewPull;
use crate::outcome::{Published, Rounds, RoundsEnd};
use serde_json::json;

use crate::store::audit::AuditKind;
use crate::store::effects::EffectState;
use crate::texts::{report, untrusted};
use crate::workspace::{branch_for_issue, AgenBranch, Changes, JobWorkspace};

impl JobRun<'_> {
    pub(super) async fn push_and_open(
        &self,
        workspace: JobWorkspace,
        changes: &Changes,
        agent_summary: Option<String>,
        target: &Target,
        rounds: &Rounds,
    ) -> Result<Published, JobError> {
        let branch = self.branch(target).await?;
        let message = report::commit_message(self.job);
        let identity = self.ctx.bot_identity();
        let (url, token, branch_) = (
            self.info.clone_url.clone(),
            self.git_token.clone(),
            branch.clone(),
        );
        // A job run again after a crash may find its own branch already pushed.
        let replace = target.continues.is_none() && self.job.branch.is_some();
        let sha = self
            .git(move || {
                let sha = workspace.commit(&message, &identity)?;
                if replace {
                    workspace.push_replacing(&url, &token, &branch_, &sha)?;
                } else {
                    workspace.push(&url, &token, &branch_, &sha)?;
                }
                Ok(sha)
            })
            .await?;
        self.ctx.store.set_job_head(self.job.id, &sha).await?;
        // A new branch comes from nothing (all zeros, as git says it); a pull request that
        // is continued moves on from its head, the job's base.
        let old = match target.continues {
            Some(_) => target.base_sha.as_str(),
            None => "0000000000000000000000000000000000000000",
        };
        let pushed = json!({
            "ref": branch.refname(),
            "old": old,
            "new": sha,
            "replaced": replace,
        });
        self.audit(AuditKind::Pushed, pushed).await?;
        let summary = summary_text(agent_summary, rounds.agent_message.as_deref(), changes);
        let (pr_number, pr_url) = match &target.continues {
            Some((_, number)) => (*number, self.pull_url(*number)),
            None => self.open_pull(&branch, target, rounds, &summary).await?,
        };
        let check_summary = report::check_summary(self.job, rounds, self.elapsed());
        let check = self.check_run(
            &sha,
            conclusion(&rounds.end),
            report::check_title(&rounds.end),
            &check_summary,
            rounds,
        );
        // None of these depends on another: asked at once.
        let (recorded, reviewer, checked, protected) = tokio::join!(
            self.ctx.store.set_job_pull(self.job.id, pr_number),
            self.client
                .request_review(pr_number, &self.job.requested_by),
            check,
            self.client.requires_pull_request(&self.info.default_branch),
        );
        recorded?;
        reviewer?;
        checked?;
        Ok(Published {
            branch: branch.as_str().to_string(),
            sha,
            pr_number,
            pr_url,
            default_branch_protected: protected?,
        })
    }

    /// The job's branch: chosen once (a job run again reuses it), never an existing one.
    async fn branch(&self, target: &Target) -> Result<AgenBranch, JobError> {
        if let Some((branch, _)) = &target.continues {
            return AgenBranch::new(branch).map_err(|e| JobError::Internal(e.to_string()));
        }
        if let Some(branch) = &self.job.branch {
            return AgenBranch::new(branch).map_err(|e| JobError::Internal(e.to_string()));
        }
        let (workspaces, url, token) = (
            self.ctx.workspaces.clone(),
            self.info.clone_url.clone(),
            self.git_token.clone(),
        );
        let taken = self
            .git(move || workspaces.remote_agen_branches(&url, &token))
            .await?;
        let branch = branch_for_issue(self.job.issue.0, &self.job.title, &taken);
        self.ctx
            .store
            .set_job_branch(self.job.id, branch.as_str())
            .await?;
        Ok(branch)
    }

    async fn open_pull(
        &self,
        branch: &AgenBranch,
        target: &Target,
        rounds: &Rounds,
        summary: &str,
    ) -> Result<(u64, String), JobError> {
        let key = format!("pr:{}", self.job.id);
        let existing = match self.ctx.store.begin_effect(&key).await? {
            EffectState::Fresh => None,
            // Opened before a crash, or maybe: look on GitHub before opening another.
            EffectState::Done(_) | EffectState::Started => self
                .client
                .pulls(Some(branch.as_str()))
                .await?
                .into_iter()
                .find(|p| p.head.branch == branch.as_str()),
        };
        let pull = match existing {
            Some(pull) => pull,
            None => {
                let title = report::pull_title(self.job);
                let mut body = report::pull_body(self.job, rounds, summary, self.elapsed());
                let days = self.ctx.settings.link_days;
                body.push_str(&report::page_link(&self.page_url().await?, days));
                let pull = self
                    .client
                    .create_pull(&NewPull {
                        title: &title,
                        body: &self.log.redact(&body),
                        head: branch.as_str(),
                        base: &target.base_branch,
                        draft: !matches!(rounds.end, RoundsEnd::Passed),
                    })
                    .await?;
                self.ctx
                    .store
                    .finish_effect(&key, &pull.number.to_string())
                    .await?;
                let opened = json!({"number": pull.number, "head": branch.as_str(),
                    "base": target.base_branch, "draft": !matches!(rounds.end, RoundsEnd::Passed)});
                self.audit(AuditKind::PullRequestOpened, opened).await?;
                pull
            }
        };
        Ok((pull.number, pull.html_url))
    }

    fn pull_url(&self, number: u64) -> String {
        let web = self.info.clone_url.trim_end_matches(".git");
        format!("{web}/pull/{number}")
    }

    pub(super) async fn check_run(
        &self,
        sha: &str,
        conclusion: Conclusion,
        title: &str,
        summary: &str,
        rounds: &Rounds,
    ) -> Result<(), JobError> {
        let key = format!("check:{}", self.job.id);
        if let EffectState::Done(_) = self.ctx.store.begin_effect(&key).await? {
            return Ok(());
        }
        let external_id = format!("job:{}", self.job.id);
        let page = self.page_url().await?;
        let text = self.log.redact(&report::check_text(rounds));
        let run = self
            .client
            .complete_check_run(&CompletedRun {
                head_sha: sha,
                conclusion,
                external_id: &external_id,
                details_url: Some(&page),
                title,
                summary: &self.log.redact(summary),
                text: &text,
            })
            .await?;
        self.ctx
            .store
            .finish_effect(&key, &run.id.to_string())
            .await?;
        let written = json!({"check_run": run.id, "head_sha": sha, "conclusion": format!("{conclusion:?}"), "title": title});
        self.audit(AuditKind::CheckRunWritten, written).await?;
        Ok(())
    }
}

/// The agent's own summary (`AGEN_SUMMARY_FILE`) when it wrote one, else its last message
/// (when its CLI's events tell it), else the diffstat.
fn summary_text(
    agent_summary: Option<String>,
    last_message: Option<&str>,
    changes: &Changes,
) -> String {
    let text = agent_summary
        .filter(|text| !text.trim().is_empty())
        .or_else(|| last_message.map(str::to_string));
    match text {
        Some(text) if !text.trim().is_empty() => {
            let quoted = untrusted::quoted(&text, untrusted::MAX_SUMMARY_CHARS);
            quoted.trim_end().to_string()
        }
        _ => format!("```\n{}\n```", changes.diffstat.trim_end()),
    }
}

pub(super) fn conclusion(end: &RoundsEnd) -> Conclusion {
    match end {
        RoundsEnd::Passed => Conclusion::Success,
        RoundsEnd::Failed(_) | RoundsEnd::SetupFailed(_) => Conclusion::Failure,
        RoundsEnd::TimedOut => Conclusion::TimedOut,
        RoundsEnd::Stopped => Conclusion::Cancelled,
        RoundsEnd::Budget(_) => Conclusion::Failure,
    }
}
