//! Rounds: the agent works in the sandbox, then the repository's pipeline runs in the same
//! kind of session; a failure goes into the next round's task, up to `max_rounds`.

use std::path::Path;

use super::agent_files;
use super::agents::AgentRun;
use super::job_run::{JobError, JobRun};
use super::session::{Session, SessionCommand};
use super::task::{self, PipelineFailure, TaskInput};
use crate::budget::Cap;
use crate::outcome::{Failure, Rounds, RoundsEnd};
use crate::texts::report;

impl JobRun<'_> {
    /// The agent the job runs, as the repository picked it; an error the issue can act on
    /// when the server has none, or when its program is not installed.
    pub(super) fn agent(&self) -> Result<AgentRun, JobError> {
        let agent = super::agents::resolve(
            &self.ctx.settings.agents,
            self.config.agent.as_deref(),
            self.config.model.as_deref(),
        )
        .ok_or_else(|| {
            JobError::User(
                "this agen server has no agent configured (neither [agents] in AGEN_CONFIG \
                 nor AGEN_AGENT_COMMAND is set); ask its operator to set one"
                    .into(),
            )
        })?;
        // An agent whose program is missing would fail in every round: say so at once (on
        // the host's system; in an image, the first round's failure says it).
        let missing = match self.system {
            None => super::agents::missing_program(&agent, &self.session_path()),
            Some(_) => None,
        };
        if let Some(missing) = missing {
            return Err(JobError::User(missing));
        }
        Ok(agent)
    }

    pub(super) async fn rounds(
        &self,
        worktree: &Path,
        agent: &AgentRun,
    ) -> Result<Rounds, JobError> {
        let max_rounds = self.config.max_rounds;
        // A monthly cap already reached stops the job before any session starts.
        if let Some(cap) = self.no_budget_left().await? {
            return self
                .ended(RoundsEnd::Budget(cap), 0, Vec::new(), None)
                .await;
        }
        let mut previous: Option<Failure> = None;
        for round in 1..=max_rounds {
            self.write_task(worktree, round, previous.as_ref())?;
            let mut pipeline = Vec::new();
            let heading = format!("round {round}: agent");
            // The round is reported while the agent already works.
            let mut status = report::status_running(self.job, round, max_rounds);
            if let Some(system) = &self.system {
                status.push_str("\n\n");
                status.push_str(&system.note);
            }
            let step = SessionCommand {
                heading: &heading,
                command: &agent.command,
                env: &agent.env,
                events: agent.events,
                egress: self.round_egress(),
                gateway: true,
                writes_caches: false,
            };
            let (recorded, reported, ran) = tokio::join!(
                self.ctx.store.set_job_round(self.job.id, round),
                self.status(&status),
                self.session(worktree, round, &step)
            );
            recorded?;
            reported?;
            let (ran, transcript) = ran?;
            let agent_message = transcript.and_then(|t| t.last_message);
            let outcome = match ran {
                // A call the budget refused: the agent's work stands, no round follows.
                _ if self.pass.budget_hit().is_some() => {
                    Session::Budget(self.pass.budget_hit().unwrap_or(Cap::Job))
                }
                Session::Ok => self.pipeline(worktree, round, &mut pipeline).await?,
                Session::Failed(f) => Session::Failed(Failure {
                    command: "agent".into(),
                    ..f
                }),
                other => other,
            };
            let end = match outcome {
                Session::Ok => RoundsEnd::Passed,
                Session::TimedOut => RoundsEnd::TimedOut,
                Session::Stopped => RoundsEnd::Stopped,
                Session::Budget(cap) => RoundsEnd::Budget(cap),
                Session::Failed(f) if round == max_rounds => RoundsEnd::Failed(f),
                Session::Failed(f) => {
                    previous = Some(f);
                    continue;
                }
            };
            return self.ended(end, round, pipeline, agent_message).await;
        }
        Err(JobError::Internal("max_rounds is 0".into()))
    }

    pub(super) async fn ended(
        &self,
        end: RoundsEnd,
        rounds: u32,
        pipeline: Vec<String>,
        agent_message: Option<String>,
    ) -> Result<Rounds, JobError> {
        Ok(Rounds {
            end,
            rounds,
            pipeline,
            spend: self.spend_line().await?,
            agent_message,
        })
    }

    /// The cap that leaves this job nothing at all, before it starts.
    pub(super) async fn no_budget_left(&self) -> Result<Option<Cap>, JobError> {
        let spent = self.ctx.store.spent(&self.payer).await?;
        let (room, cap) = self.caps.room(&spent);
        Ok((room.0 <= 0).then_some(cap))
    }

    /// Runs each pipeline command; the first that does not pass ends the round.
    async fn pipeline(
        &self,
        worktree: &Path,
        round: u32,
        lines: &mut Vec<String>,
    ) -> Result<Session, JobError> {
        for command in &self.config.pipeline {
            let heading = format!("round {round}: {command}");
            let step = SessionCommand {
                heading: &heading,
                command,
                env: &[],
                events: None,
                egress: self.round_egress(),
                gateway: true,
                writes_caches: false,
            };
            let (outcome, _) = self.session(worktree, round, &step).await?;
            lines.push(match &outcome {
                Session::Ok => format!("✅ `{command}`"),
                Session::Failed(f) => format!("❌ `{command}` (exit {})", f.exit_code),
                Session::TimedOut | Session::Stopped | Session::Budget(_) => {
                    format!("⏹ `{command}` (did not finish)")
                }
            });
            if !matches!(outcome, Session::Ok) {
                return Ok(outcome);
            }
        }
        Ok(Session::Ok)
    }

    fn write_task(
        &self,
        worktree: &Path,
        round: u32,
        previous: Option<&Failure>,
    ) -> Result<(), JobError> {
        let text = task::render(&TaskInput {
            repo: &self.job.repo.0,
            issue: self.job.issue.0,
            title: &self.job.title,
            body: &self.job.body,
            instruction: &self.job.instructions,
            round,
            max_rounds: self.config.max_rounds,
            previous_failure: previous.map(|f| PipelineFailure {
                command: &f.command,
                exit_code: f.exit_code,
                output_tail: &f.output_tail,
            }),
        });
        agent_files::write_task(worktree, &text)
            .map_err(|e| JobError::Internal(format!("cannot write the task file: {e}")))
    }
}
