//! How a job came out, as plain facts: what its rounds came to and what was published. The
//! worker produces them; the texts agen posts on GitHub read them.

use crate::budget::Cap;

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
    /// A setup step failed: no round ran.
    SetupFailed(Failure),
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
    /// What the job spent: `$0.42 of $2.00 · 12 model calls · …` (see `texts::report::spend_line`).
    pub spend: String,
    /// The agent's last message in the last round, when its CLI's events tell it.
    pub agent_message: Option<String>,
}

/// What was published, for the reports.
pub struct Published {
    pub branch: String,
    pub sha: String,
    pub pr_number: u64,
    pub pr_url: String,
    /// Whether a rule on the default branch requires a pull request before merging.
    pub default_branch_protected: bool,
}
