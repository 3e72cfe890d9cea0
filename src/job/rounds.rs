//! Rounds: the agent works in the sandbox, then the repository's pipeline runs in the same
//! kind of session; a failure goes into the next round's task, up to `max_rounds`.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::agent_files::{self, DIR as AGEN_DIR, SUMMARY, TASK};
use super::run::{JobError, JobRun};
use super::task::{self, PipelineFailure, TaskInput};
use super::transcript::{self, EventFormat, Transcript};
use crate::budget::Cap;
use crate::gateway::GATEWAY_PORT_INSIDE;
use crate::sandbox::{Limits, LocalService, Outcome, SessionSpec, WORKTREE_INSIDE};

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How much of a failing command's output the next round's task carries.
const FAILURE_TAIL_BYTES: usize = 8 * 1024;

/// A command that failed, as the next round and the reports tell it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub command: String,
    pub exit_code: i32,
    pub output_tail: String,
}

#[derive(Clone, Debug)]
pub enum RoundsEnd {
    /// The agent finished and every pipeline command passed.
    Passed,
    /// The last round still failed.
    Failed(Failure),
    TimedOut,
    Stopped,
    /// A spend or CPU cap ended the job: no further round.
    Budget(Cap),
}

#[derive(Clone, Debug)]
pub struct Rounds {
    pub end: RoundsEnd,
    pub rounds: u32,
    /// One line per command of the last round: `✅ cargo test` / `❌ cargo test (exit 101)`.
    pub pipeline: Vec<String>,
    /// What the job spent: `$0.42 of $2.00 · 12 model calls · …` (see `report::spend_line`).
    pub spend: String,
    /// The agent's last message in the last round, when its CLI's events tell it.
    pub agent_message: Option<String>,
}

enum Session {
    Ok,
    Failed(Failure),
    TimedOut,
    Stopped,
    Budget(Cap),
}

impl JobRun<'_> {
    pub(super) async fn rounds(&self, worktree: &Path) -> Result<Rounds, JobError> {
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
            let mut status = super::report::status_running(self.job, round, max_rounds);
            if let Some(system) = &self.system {
                status.push_str("\n\n");
                status.push_str(&system.note);
            }
            let (recorded, reported, agent) = tokio::join!(
                self.ctx.store.set_job_round(self.job.id, round),
                self.status(&status),
                self.run_session(
                    worktree,
                    round,
                    &heading,
                    &agent.command,
                    &agent.env,
                    agent.events
                )
            );
            recorded?;
            reported?;
            let (agent, transcript) = agent?;
            let agent_message = transcript.and_then(|t| t.last_message);
            let outcome = match agent {
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

    async fn ended(
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
    async fn no_budget_left(&self) -> Result<Option<Cap>, JobError> {
        let spent = self.ctx.store.spent(&self.payer).await?;
        let (room, cap) = self.caps.room(&spent);
        Ok((room.0 <= 0).then_some(cap))
    }

    /// The job's CPU budget not used yet.
    fn cpu_left(&self) -> Duration {
        self.cpu_budget().saturating_sub(Duration::from_millis(
            self.cpu_used_ms.load(Ordering::SeqCst),
        ))
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
            let outcome = self
                .session(worktree, round, &heading, command, &[])
                .await?;
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

    /// The session's `PATH`: `AGEN_SANDBOX_PATH`, then the system's.
    fn session_path(&self) -> String {
        let image_path = self.system.as_ref().and_then(|system| {
            let env = &system.image.config.env;
            env.iter()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.as_str())
        });
        self.ctx
            .settings
            .environment
            .session_path(image_path.unwrap_or(PATH))
    }

    /// One command in one fresh session, with what is left of the job's time.
    async fn session(
        &self,
        worktree: &Path,
        round: u32,
        heading: &str,
        command: &str,
        extra_env: &[(String, String)],
    ) -> Result<Session, JobError> {
        let (session, _) = self
            .run_session(worktree, round, heading, command, extra_env, None)
            .await?;
        Ok(session)
    }

    /// [`Self::session`], reading the output as `events` when the command prints them: the
    /// session log gets the transcript, then the raw output; a final event that says the
    /// agent failed makes the session fail with its error.
    async fn run_session(
        &self,
        worktree: &Path,
        round: u32,
        heading: &str,
        command: &str,
        extra_env: &[(String, String)],
        events: Option<EventFormat>,
    ) -> Result<(Session, Option<Transcript>), JobError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Ok((Session::TimedOut, None));
        }
        let cpu_left = self.cpu_left();
        if cpu_left.is_zero() {
            return Ok((Session::Budget(Cap::JobCpu), None));
        }
        let inside = |name: &str| format!("{WORKTREE_INSIDE}/{AGEN_DIR}/{name}");
        // The image's variables, then the server's: agen's own below always win (config
        // refuses clashes).
        let mut env: Vec<(String, String)> = match &self.system {
            Some(system) => system.image.config.env.clone(),
            None => Vec::new(),
        };
        for (key, value) in &self.ctx.settings.environment.env {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        for key in ["PATH", "HOME", "LANG"] {
            env.retain(|(k, _)| k != key);
        }
        env.extend([
            ("PATH".into(), self.session_path()),
            ("HOME".into(), "/tmp".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("AGEN_TASK_FILE".into(), inside(TASK)),
            ("AGEN_SUMMARY_FILE".into(), inside(SUMMARY)),
            ("AGEN_ROUND".into(), round.to_string()),
        ]);
        // The agent's own variables (config checked that none is the gateway's or agen's).
        for (key, value) in extra_env {
            env.retain(|(k, _)| k != key);
            env.push((key.clone(), value.clone()));
        }
        // The gateway serves this session alone, until the guard drops after it.
        let (serve, _gateway_guard) = self.pass.session();
        let mut services = Vec::new();
        if self.ctx.gateway.has_providers() {
            env.extend(self.pass.env(GATEWAY_PORT_INSIDE));
            services.push(LocalService {
                port: GATEWAY_PORT_INSIDE,
                serve,
            });
        }
        let spec = SessionSpec {
            worktree: Some(worktree.to_path_buf()),
            command: vec!["sh".into(), "-c".into(), command.to_string()],
            env,
            limits: Limits {
                wall_clock: remaining,
                // Exactly what is left: a whole-second floor would end the job early, and a
                // floor of one second would let its last session spend past the budget.
                cpu_time: cpu_left,
                ..Limits::default()
            },
            egress_only: self.config.egress.clone(),
            services,
            programs: self.ctx.programs.clone(),
            system: self.system.as_ref().map(|s| s.image.rootfs.clone()),
            workdir: self
                .system
                .as_ref()
                .and_then(|s| super::system::workdir(&s.image)),
        };
        let (sandbox, stop) = (self.ctx.sandbox.clone(), self.stop.clone());
        let since = Instant::now();
        let report =
            tokio::task::spawn_blocking(move || sandbox.run(&spec, &stop, &mut |_chunk: &[u8]| {}))
                .await;
        self.timings.sandbox(since);
        let report = report
            .map_err(|e| JobError::Internal(format!("sandbox thread: {e}")))?
            .map_err(|e| JobError::Internal(e.to_string()))?;
        let cpu_ms = report.cpu_time.unwrap_or_default().as_millis() as u64;
        self.cpu_used_ms.fetch_add(cpu_ms, Ordering::SeqCst);
        self.ctx
            .store
            .add_job_cpu(self.job.id, cpu_ms as i64)
            .await?;
        let transcript = events.map(|format| {
            let raw = String::from_utf8_lossy(&report.output);
            transcript::read(format, &raw, &|s: &str| self.log.redact(s))
        });
        match &transcript {
            Some(t) => {
                self.log.append(heading, t.text.as_bytes());
                self.log
                    .append(&format!("{heading} (raw events)"), &report.output);
            }
            None => self.log.append(heading, &report.output),
        }
        for host in &report.refused_hosts {
            self.log
                .append(heading, format!("egress refused: {host}\n").as_bytes());
        }
        let session = match report.outcome {
            Outcome::Exited(0) => Session::Ok,
            Outcome::TimedOut => Session::TimedOut,
            Outcome::Stopped => Session::Stopped,
            // The session's CPU limit is what the job's budget has left (and RLIMIT_CPU, the
            // same figure rounded up to whole seconds per process, may end a single spinner
            // with SIGXCPU first where no cgroup counts the tree).
            Outcome::CpuTimeExceeded | Outcome::KilledBySignal(libc::SIGXCPU) => {
                Session::Budget(Cap::JobCpu)
            }
            outcome => Session::Failed(Failure {
                command: command.to_string(),
                exit_code: outcome.exit_code(),
                output_tail: self
                    .log
                    .redact(&super::untrusted::tail(&report.output, FAILURE_TAIL_BYTES)),
            }),
        };
        // `claude -p` exits 0 when its model call failed: its last event says so.
        let session = match (session, transcript.as_ref().and_then(|t| t.error.as_ref())) {
            (Session::Ok, Some(error)) => Session::Failed(Failure {
                command: command.to_string(),
                exit_code: 0,
                output_tail: super::untrusted::tail(error.as_bytes(), FAILURE_TAIL_BYTES),
            }),
            (Session::Failed(f), Some(error)) => Session::Failed(Failure {
                output_tail: super::untrusted::tail(error.as_bytes(), FAILURE_TAIL_BYTES),
                ..f
            }),
            (session, _) => session,
        };
        Ok((session, transcript))
    }
}
