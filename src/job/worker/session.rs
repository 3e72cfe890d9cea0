//! One command in one fresh sandbox session on the job's worktree, as every step of a job
//! runs it (setup, the agent, each pipeline command): its environment, what it may reach, the
//! job's time and CPU left, its output into the session log, and how it ended.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::agent_files::{DIR as AGEN_DIR, SUMMARY, TASK};
use super::job_run::{JobError, JobRun};
use super::transcript::{self, EventFormat, Transcript};
use crate::budget::Cap;
use crate::gateway::GATEWAY_PORT_INSIDE;
use crate::outcome::Failure;
use crate::sandbox::{Limits, LocalService, Outcome, SessionSpec, WORKTREE_INSIDE};
use crate::store::audit::AuditKind;
use crate::texts::untrusted;

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How much of a failing command's output the next round's task carries.
const FAILURE_TAIL_BYTES: usize = 8 * 1024;

/// How a session ended, for the step that ran it.
pub(super) enum Session {
    Ok,
    Failed(Failure),
    TimedOut,
    Stopped,
    Budget(Cap),
}

/// What one session runs, and what it may use.
#[derive(Clone, Copy)]
pub(super) struct SessionCommand<'a> {
    /// Its part of the session log (`round 2: cargo test`).
    pub heading: &'a str,
    /// Given to `sh -c` in the worktree.
    pub command: &'a str,
    /// Added to the session's environment, over the server's.
    pub env: &'a [(String, String)],
    /// The machine-readable events it prints, if any.
    pub events: Option<EventFormat>,
    /// The hosts its egress proxy lets through (`None`: all the server allows).
    pub egress: Option<&'a [String]>,
    /// Whether the model gateway serves it.
    pub gateway: bool,
    /// Whether it may write the repository's caches (setup steps only).
    pub writes_caches: bool,
}

impl JobRun<'_> {
    /// The hosts the rounds' sessions (agent and pipeline) may reach: the repository's
    /// `egress`, else all the server allows; with `setup_egress`, only `egress` (none if it
    /// names none), so what only setup needs stays setup's.
    pub(super) fn round_egress(&self) -> Option<&[String]> {
        let config = &self.config;
        (!config.egress.is_empty() || !config.setup_egress.is_empty())
            .then_some(config.egress.as_slice())
    }

    /// The job's CPU budget not used yet.
    pub(super) fn cpu_left(&self) -> Duration {
        self.cpu_budget().saturating_sub(Duration::from_millis(
            self.cpu_used_ms.load(Ordering::SeqCst),
        ))
    }

    /// The session's `PATH`: `AGEN_SANDBOX_PATH`, then the system's.
    pub(super) fn session_path(&self) -> String {
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

    /// One command in one fresh session, with what is left of the job's time and CPU. Its
    /// output goes to the session log, read as `events` when the command prints them (the
    /// transcript, then the raw output); a final event that says the agent failed makes the
    /// session fail with its error.
    pub(super) async fn session(
        &self,
        worktree: &Path,
        round: u32,
        run: &SessionCommand<'_>,
    ) -> Result<(Session, Option<Transcript>), JobError> {
        let SessionCommand {
            heading,
            command,
            env: extra_env,
            events,
            egress,
            gateway,
            writes_caches,
        } = *run;
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
        if gateway && self.ctx.gateway.has_providers() {
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
            egress_only: egress.map(<[String]>::to_vec),
            services,
            programs: self.ctx.programs.clone(),
            binds: self.cache_binds(writes_caches)?,
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
            let refused = serde_json::json!({"host": host, "step": heading});
            self.audit(AuditKind::EgressRefused, refused).await?;
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
                    .redact(&untrusted::tail(&report.output, FAILURE_TAIL_BYTES)),
            }),
        };
        // `claude -p` exits 0 when its model call failed: its last event says so.
        let session = match (session, transcript.as_ref().and_then(|t| t.error.as_ref())) {
            (Session::Ok, Some(error)) => Session::Failed(Failure {
                command: command.to_string(),
                exit_code: 0,
                output_tail: untrusted::tail(error.as_bytes(), FAILURE_TAIL_BYTES),
            }),
            (Session::Failed(f), Some(error)) => Session::Failed(Failure {
                output_tail: untrusted::tail(error.as_bytes(), FAILURE_TAIL_BYTES),
                ..f
            }),
            (session, _) => session,
        };
        Ok((session, transcript))
    }
}
