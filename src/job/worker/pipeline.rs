//! The job's pipeline, step by step: the target (base commit, or the pull request it
//! continues), the workspace, the rounds in the sandbox, the checks before a push
//! ([`super::refusals`]), and publishing ([`super::publish`]). Every way it can end becomes an
//! [`Ending`] with its status text; every ending has its check run.

use super::job_run::{Ending, JobError, JobRun};
use super::publish::conclusion;
use super::target::Target;
use crate::github::checks::Conclusion;
use crate::outcome::{Rounds, RoundsEnd};
use crate::store::audit::AuditKind;
use crate::store::jobs::JobState;
use crate::texts::report;

impl JobRun<'_> {
    /// Runs the job to its ending.
    pub(super) async fn execute(&self) -> Result<Ending, JobError> {
        let agent = self.agent()?;
        let target = self.target().await?;
        let mut workspace = {
            let (workspaces, token, url) = (
                self.ctx.workspaces.clone(),
                self.git_token.clone(),
                self.info.clone_url.clone(),
            );
            let (repo, job, base) = (self.job.repo_id, self.job.id, target.base_sha.clone());
            self.git(move || workspaces.prepare(repo, job, &url, &token, &base))
                .await?
        };
        let rounds = match self.setup(workspace.worktree()).await? {
            Some(ended) => ended,
            None => {
                if !self.config.setup.is_empty() {
                    workspace = self
                        .git(move || {
                            workspace.mark_setup()?;
                            Ok(workspace)
                        })
                        .await?;
                }
                self.rounds(workspace.worktree(), &agent).await?
            }
        };
        if let RoundsEnd::Budget(cap) = rounds.end {
            let limit = self.caps.limit(cap).map(|m| m.to_string());
            let hit = serde_json::json!({"cap": cap.as_str(), "limit": limit});
            self.audit(AuditKind::BudgetHit, hit).await?;
        }
        if let RoundsEnd::Stopped = rounds.end {
            let detail = "stopped before anything was pushed".to_string();
            return Ok(Ending {
                state: JobState::Cancelled,
                status: report::status_cancelled_run(self.job, &rounds, self.elapsed()),
                detail,
            });
        }
        if let RoundsEnd::SetupFailed(failure) = &rounds.end {
            self.unchanged_check_run(&target, &rounds).await?;
            return Ok(Ending {
                state: JobState::Failed,
                detail: format!("the setup step `{}` failed", failure.command),
                status: report::status_failed_unchanged(self.job, &rounds, failure, self.elapsed()),
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
                        status: report::status_failed_unchanged(
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
        let refusals = super::refusals::refusals(
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
}

fn job_state(end: &RoundsEnd) -> JobState {
    match end {
        RoundsEnd::Passed => JobState::Succeeded,
        RoundsEnd::Failed(_) | RoundsEnd::SetupFailed(_) => JobState::Failed,
        RoundsEnd::TimedOut => JobState::TimedOut,
        RoundsEnd::Stopped => JobState::Cancelled,
        RoundsEnd::Budget(_) => JobState::BudgetExceeded,
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
}
