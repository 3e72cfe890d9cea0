//! Publish, outside the sandbox: what the agent changed is checked (refused paths, secrets),
//! committed by the App's bot, pushed to an `agen/…` branch, and offered as a pull request
//! with one completed check run. Every GitHub effect is keyed so a job run again after a
//! crash never opens a second pull request.

use super::run::{Ending, JobError, JobRun};
use super::target::Target;
use crate::github::checks::{CompletedRun, Conclusion};
use crate::github::pulls::NewPull;
use crate::outcome::{Published, Rounds, RoundsEnd};
use crate::store::effects::EffectState;
use crate::store::jobs::JobState;
use crate::texts::{report, untrusted};
use crate::workspace::{branch_for_issue, AgenBranch, Changes, JobWorkspace};

impl JobRun<'_> {
    pub(super) async fn execute(&self) -> Result<Ending, JobError> {
        let target = self.target().await?;
        let workspace = {
            let (workspaces, token, url) = (
                self.ctx.workspaces.clone(),
                self.git_token.clone(),
                self.info.clone_url.clone(),
            );
            let (repo, job, base) = (self.job.repo_id, self.job.id, target.base_sha.clone());
            self.git(move || workspaces.prepare(repo, job, &url, &token, &base))
                .await?
        };
        let rounds = self.rounds(workspace.worktree()).await?;
        if let RoundsEnd::Stopped = rounds.end {
            let detail = "stopped before anything was pushed".to_string();
            return Ok(Ending {
                state: JobState::Cancelled,
                status: report::status_cancelled_run(self.job, &rounds, self.elapsed()),
                detail,
            });
        }
        let summary = super::agent_files::read_summary(workspace.worktree());
        let (workspace, changes) = self
            .git(move || {
                let changes = workspace.stage()?;
                Ok((workspace, changes))
            })
            .await?;
        if changes.is_empty() {
            // Every ending has its check run; with nothing pushed it goes on the base commit.
            if let RoundsEnd::Budget(cap) = rounds.end {
                self.unchanged_check_run(&target, &rounds).await?;
                return Ok(Ending {
                    state: JobState::BudgetExceeded,
                    detail: report::budget_reason(cap).into(),
                    status: report::status_budget(
                        self.job,
                        &rounds,
                        &self.explain(cap),
                        self.elapsed(),
                    ),
                });
            }
            if let RoundsEnd::TimedOut = rounds.end {
                self.unchanged_check_run(&target, &rounds).await?;
                return Ok(Ending {
                    state: JobState::TimedOut,
                    detail: "the time budget ran out before anything changed".into(),
                    status: report::status_timed_out(self.job, &rounds, self.elapsed()),
                });
            }
            // An agent that failed (or said it failed) and changed nothing: the job failed.
            if let RoundsEnd::Failed(failure) = &rounds.end {
                if failure.command == "agent" {
                    self.unchanged_check_run(&target, &rounds).await?;
                    return Ok(Ending {
                        state: JobState::Failed,
                        detail: "the agent failed before changing anything".into(),
                        status: report::status_agent_failed(
                            self.job,
                            &rounds,
                            failure,
                            self.elapsed(),
                        ),
                    });
                }
            }
            return self.no_changes(&target, &rounds).await;
        }
        let refusals = super::checks::refusals(
            workspace.worktree(),
            &changes,
            self.ctx.settings.max_file_bytes,
            &self.log.secrets(),
        );
        if !refusals.is_empty() {
            return Ok(Ending {
                state: JobState::Failed,
                detail: "nothing was pushed: the change holds what agen never pushes".into(),
                status: report::status_refused(self.job, &refusals),
            });
        }
        let published = self
            .push_and_open(workspace, &changes, summary, &target, &rounds)
            .await?;
        let mut status = report::status_published(self.job, &rounds, &published, self.elapsed());
        // Invariant 5: say plainly when only habit keeps a merge from going unreviewed.
        if !published.default_branch_protected {
            status.push_str(&report::unprotected_default_branch(
                &self.info.default_branch,
            ));
        }
        if let RoundsEnd::Budget(cap) = rounds.end {
            status.push_str(&format!("\n\n⏹ {}.", self.explain(cap)));
        }
        Ok(Ending {
            state: job_state(&rounds.end),
            detail: format!(
                "pull request #{} on {}",
                published.pr_number, published.branch
            ),
            status,
        })
    }

    async fn no_changes(&self, target: &Target, rounds: &Rounds) -> Result<Ending, JobError> {
        let summary = report::check_summary(self.job, rounds, self.elapsed());
        self.check_run(
            &target.base_sha,
            Conclusion::Neutral,
            "No changes",
            &summary,
            rounds,
        )
        .await?;
        Ok(Ending {
            state: JobState::NoChanges,
            detail: "the agent changed nothing".into(),
            status: report::status_no_changes(self.job, rounds, self.elapsed()),
        })
    }

    /// The check run of a job that ended (time, budget) before it changed anything: on the
    /// base commit, concluded as the ending says.
    async fn unchanged_check_run(&self, target: &Target, rounds: &Rounds) -> Result<(), JobError> {
        let summary = report::check_summary(self.job, rounds, self.elapsed());
        self.check_run(
            &target.base_sha,
            conclusion(&rounds.end),
            report::check_title(&rounds.end),
            &summary,
            rounds,
        )
        .await
    }

    async fn push_and_open(
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
                let body = report::pull_body(self.job, rounds, summary, self.elapsed());
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
                pull
            }
        };
        Ok((pull.number, pull.html_url))
    }

    fn pull_url(&self, number: u64) -> String {
        let web = self.info.clone_url.trim_end_matches(".git");
        format!("{web}/pull/{number}")
    }

    async fn check_run(
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
        let text = self.log.redact(&report::check_text(rounds));
        let run = self
            .client
            .complete_check_run(&CompletedRun {
                head_sha: sha,
                conclusion,
                external_id: &external_id,
                details_url: None,
                title,
                summary: &self.log.redact(summary),
                text: &text,
            })
            .await?;
        self.ctx
            .store
            .finish_effect(&key, &run.id.to_string())
            .await?;
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

fn job_state(end: &RoundsEnd) -> JobState {
    match end {
        RoundsEnd::Passed => JobState::Succeeded,
        RoundsEnd::Failed(_) => JobState::Failed,
        RoundsEnd::TimedOut => JobState::TimedOut,
        RoundsEnd::Stopped => JobState::Cancelled,
        RoundsEnd::Budget(_) => JobState::BudgetExceeded,
    }
}

fn conclusion(end: &RoundsEnd) -> Conclusion {
    match end {
        RoundsEnd::Passed => Conclusion::Success,
        RoundsEnd::Failed(_) => Conclusion::Failure,
        RoundsEnd::TimedOut => Conclusion::TimedOut,
        RoundsEnd::Stopped => Conclusion::Cancelled,
        RoundsEnd::Budget(_) => Conclusion::Failure,
    }
}

impl JobRun<'_> {
    /// The cap with its limit and where it is set (`Cap::explain`).
    fn explain(&self, cap: crate::budget::Cap) -> String {
        let limit = match cap {
            crate::budget::Cap::JobCpu => report::duration(self.cpu_budget()),
            cap => self.caps.limit(cap).unwrap_or_default().to_string(),
        };
        cap.explain(&limit)
    }

    /// Runs blocking git work off the async threads, counting its time as git's.
    async fn git<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, crate::workspace::WorkspaceError> + Send + 'static,
    ) -> Result<T, JobError> {
        let since = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| JobError::Internal(format!("git thread: {e}")))?
            .map_err(|e| JobError::Internal(e.to_string()));
        self.timings.git(since);
        result
    }
}
