//! Where a job's time goes: git (workspace, commit, push), the sandbox (the agent and the
//! pipeline, set-up included) and the rest, which is agen's own share. Logged and kept with
//! the job, so the benchmark reads what production measures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

#[derive(Default)]
pub struct Timings {
    git_us: AtomicU64,
    sandbox_us: AtomicU64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spent {
    pub total_ms: u64,
    pub git_ms: u64,
    pub sandbox_ms: u64,
    /// Everything but git and the sandbox: GitHub calls, the store, checks, reports.
    pub agen_ms: u64,
}

impl Timings {
    pub fn git(&self, since: Instant) {
        add(&self.git_us, since.elapsed());
    }

    pub fn sandbox(&self, since: Instant) {
        add(&self.sandbox_us, since.elapsed());
    }

    pub fn spent(&self, total: Duration) -> Spent {
        let ms = |us: &AtomicU64| us.load(Ordering::Relaxed) / 1000;
        let (git_ms, sandbox_ms) = (ms(&self.git_us), ms(&self.sandbox_us));
        let total_ms = total.as_millis() as u64;
        Spent {
            total_ms,
            git_ms,
            sandbox_ms,
            agen_ms: total_ms.saturating_sub(git_ms + sandbox_ms),
        }
    }
}

fn add(counter: &AtomicU64, d: Duration) {
    counter.fetch_add(d.as_micros() as u64, Ordering::Relaxed);
}
