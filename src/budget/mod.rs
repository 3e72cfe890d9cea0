//! Model spend as money: prices, what a call costs, and what a call may still spend under the
//! caps in force (job, repository per month, installation per month). Pure: no I/O, no HTTP;
//! the store takes reservations atomically and the gateway applies the decisions.

mod decide;
mod money;
mod prices;

pub use decide::{decide, Decision, INPUT_OVERHEAD_TOKENS, MIN_ANSWER_TOKENS};
pub use money::MicroUsd;
pub use prices::{Price, PriceError, PriceTable};

use serde::Serialize;

/// Tokens of one call as the provider billed them. `input` excludes the cache tokens (as
/// Anthropic reports it; OpenAI's figures are brought to the same shape).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
}

impl Usage {
    /// Every token read, cached or not.
    pub fn tokens_in(&self) -> u64 {
        self.input + self.cache_write + self.cache_read
    }
}

/// A spend cap. Each says where it is set, so a refusal can say how to raise it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    Job,
    RepoMonth,
    InstallationMonth,
    /// The job's agent's spend this month, over every repository (`monthly_usd`).
    AgentMonth,
    /// The job's CPU time, summed over its sessions.
    JobCpu,
}

impl Cap {
    pub fn as_str(self) -> &'static str {
        match self {
            Cap::Job => "job",
            Cap::RepoMonth => "repo_month",
            Cap::InstallationMonth => "installation_month",
            Cap::AgentMonth => "agent_month",
            Cap::JobCpu => "job_cpu",
        }
    }

    pub fn parse(s: &str) -> Option<Cap> {
        [
            Cap::Job,
            Cap::RepoMonth,
            Cap::InstallationMonth,
            Cap::AgentMonth,
            Cap::JobCpu,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// What the cap is and how to raise it, for refusals, comments and check runs.
    pub fn explain(self, limit: &str) -> String {
        match self {
            Cap::Job => format!(
                "the job's spend cap of {limit} (`budget.job_usd` in `.github/agen.yml`, at most \
                 the server's AGEN_JOB_MAX_USD) is reached; raise it there, or ask for less"
            ),
            Cap::RepoMonth => format!(
                "this repository's monthly spend cap of {limit} (AGEN_REPO_MONTHLY_USD) is \
                 reached; ask agen's operator to raise it, or wait for next month"
            ),
            Cap::InstallationMonth => format!(
                "this installation's monthly spend cap of {limit} \
                 (AGEN_INSTALLATION_MONTHLY_USD) is reached; ask agen's operator to raise it, or \
                 wait for next month"
            ),
            Cap::AgentMonth => format!(
                "this agent's monthly spend cap of {limit} (`monthly_usd` of its [agents] table \
                 in the server's AGEN_CONFIG) is reached; ask agen's operator to raise it, pick \
                 another agent (`agent:` in `.github/agen.yml`), or wait for next month"
            ),
            Cap::JobCpu => format!(
                "the job's CPU budget of {limit} (`budget.cpu_minutes` in `.github/agen.yml`, at \
                 most the server's AGEN_JOB_CPU_MINUTES) is used up; raise it there"
            ),
        }
    }
}

/// The spend caps one job runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub job: MicroUsd,
    pub repo_month: Option<MicroUsd>,
    pub installation_month: Option<MicroUsd>,
    pub agent_month: Option<MicroUsd>,
}

/// What was spent (settled, plus reserved for calls in flight) against each cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub job: MicroUsd,
    pub repo_month: MicroUsd,
    pub installation_month: MicroUsd,
    pub agent_month: MicroUsd,
}

impl Caps {
    /// What may still be spent, and the cap that leaves the least (the one that binds).
    pub fn room(&self, spent: &Spent) -> (MicroUsd, Cap) {
        let mut room = (self.job - spent.job, Cap::Job);
        for (cap, used, which) in [
            (self.repo_month, spent.repo_month, Cap::RepoMonth),
            (
                self.installation_month,
                spent.installation_month,
                Cap::InstallationMonth,
            ),
            (self.agent_month, spent.agent_month, Cap::AgentMonth),
        ] {
            if let Some(cap) = cap {
                if cap - used < room.0 {
                    room = (cap - used, which);
                }
            }
        }
        (room.0.max(MicroUsd(0)), room.1)
    }

    /// The limit of `cap`, as money (`$2.00`).
    pub fn limit(&self, cap: Cap) -> Option<MicroUsd> {
        match cap {
            Cap::Job => Some(self.job),
            Cap::RepoMonth => self.repo_month,
            Cap::InstallationMonth => self.installation_month,
            Cap::AgentMonth => self.agent_month,
            Cap::JobCpu => None,
        }
    }
}

#[cfg(test)]
mod tests;
