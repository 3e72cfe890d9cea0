//! The repository's setup steps (`setup:` in `.github/agen.yml`): run once per job, before the
//! first round, each in a session of its own that may also reach `setup_egress` and has no
//! model gateway. What they write stays in the worktree for the rounds; the pipeline marks it
//! as the baseline, so it is pushed only where the agent changed it.

use std::path::Path;

use super::job_run::{JobError, JobRun};
use super::session::{Session, SessionCommand};
use crate::outcome::{Rounds, RoundsEnd};
use crate::texts::report;

impl JobRun<'_> {
    /// Runs every setup step; `None` when all passed (or there are none), else how the job
    /// ends: the failing step, or the time, CPU or money that ran out first.
    pub(super) async fn setup(&self, worktree: &Path) -> Result<Option<Rounds>, JobError> {
        if self.config.setup.is_empty() {
            return Ok(None);
        }
        // A monthly cap already reached stops the job before any session starts.
        if let Some(cap) = self.no_budget_left().await? {
            let ended = self.ended(RoundsEnd::Budget(cap), 0, Vec::new(), None);
            return Ok(Some(ended.await?));
        }
        self.status(&report::status_setting_up(self.job)).await?;
        // `egress` and `setup_egress`; without either, all the server allows.
        let mut egress = self.config.egress.clone();
        egress.extend(self.config.setup_egress.iter().cloned());
        let egress = (!egress.is_empty()).then_some(egress.as_slice());
        let mut lines = Vec::new();
        for command in &self.config.setup {
            let heading = format!("setup: {command}");
            let step = SessionCommand {
                heading: &heading,
                command,
                env: &[],
                events: None,
                egress,
                gateway: false,
                writes_caches: true,
            };
            let (outcome, _) = self.session(worktree, 0, &step).await?;
            let end = match outcome {
                Session::Ok => {
                    lines.push(format!("✅ setup `{command}`"));
                    continue;
                }
                Session::Failed(f) => {
                    lines.push(format!("❌ setup `{command}` (exit {})", f.exit_code));
                    RoundsEnd::SetupFailed(f)
                }
                Session::TimedOut => RoundsEnd::TimedOut,
                Session::Stopped => RoundsEnd::Stopped,
                Session::Budget(cap) => RoundsEnd::Budget(cap),
            };
            return Ok(Some(self.ended(end, 0, lines, None).await?));
        }
        self.cap_caches()?;
        Ok(None)
    }
}
