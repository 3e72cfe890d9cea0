//! The simulated GitHub's data, behind one mutex in [`super::Shared`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::deliver::DeliveryLog;
use super::record::{Fault, Recorded};

/// An installation access token the simulator minted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MintedToken {
    pub token: String,
    pub installation_id: u64,
    /// The repositories the token covers (all of the installation's at mint time when
    /// `repository_selection` is `"all"`).
    pub repository_ids: Vec<u64>,
    /// `"selected"` when the request named repositories, else `"all"`.
    pub repository_selection: String,
    pub permissions: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// An issue or pull request comment, as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimComment {
    pub id: u64,
    pub body: String,
    pub user_login: String,
}

pub(crate) struct Installation {
    pub id: u64,
    pub account_login: String,
    pub account_type: String,
    pub suspended_at: Option<DateTime<Utc>>,
    pub repos: Vec<u64>,
    pub created_at: DateTime<Utc>,
}

pub(crate) struct Issue {
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

pub(crate) struct Reaction {
    pub id: u64,
    pub content: String,
    pub login: String,
    pub created_at: DateTime<Utc>,
}

pub(crate) struct Comment {
    pub id: u64,
    pub repo_id: u64,
    pub issue: u64,
    pub body: String,
    pub user_login: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub reactions: Vec<Reaction>,
}

/// A file as git holds it: (blob sha, bytes).
pub(crate) type Blob = (String, Vec<u8>);

#[derive(Default)]
pub(crate) struct Repo {
    pub id: u64,
    pub installation_id: u64,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub default_branch: String,
    /// login → admin|maintain|write|triage|read
    pub roles: BTreeMap<String, String>,
    /// Issues and pull requests share numbers, as on GitHub.
    pub issues: BTreeMap<u64, Issue>,
    /// Pull requests as the JSON the API returns, by number.
    pub pulls: BTreeMap<u64, Value>,
    pub check_runs: BTreeMap<u64, Value>,
    pub deployments: BTreeMap<u64, Value>,
    /// `refs/heads/main` → sha
    pub refs: BTreeMap<String, String>,
    /// Files on the default branch, by path (repositories that are not git-backed).
    pub files: BTreeMap<String, Vec<u8>>,
    /// The bare repository of a git-backed repository (`seed_git_repo`): then `refs`
    /// mirrors its refs and files are read from it.
    pub git_dir: Option<PathBuf>,
    /// Files read from git, by (commit, path): commits never change.
    pub blobs: BTreeMap<(String, String), Option<Blob>>,
    /// Branch → rules, as returned by `get-branch-rules`.
    pub branch_rules: BTreeMap<String, Value>,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn next_number(&self) -> u64 {
        self.issues.keys().next_back().map_or(1, |n| n + 1)
    }
}

pub(crate) struct State {
    clock_offset: Duration,
    next_id: u64,
    pub installations: BTreeMap<u64, Installation>,
    pub repos: BTreeMap<u64, Repo>,
    pub comments: BTreeMap<u64, Comment>,
    pub tokens: Vec<MintedToken>,
    pub records: Vec<Recorded>,
    pub faults: Vec<Fault>,
    pub violations: Vec<String>,
    pub deliveries: Vec<DeliveryLog>,
    /// Delivery ids whose redelivery was requested through the API, in order.
    pub redeliveries: Vec<u64>,
    /// Calls counted against the current rate-limit window, and when it resets.
    pub rate_used: u32,
    pub rate_reset: DateTime<Utc>,
}

impl Default for State {
    fn default() -> State {
        State {
            clock_offset: Duration::zero(),
            next_id: 1000,
            installations: BTreeMap::new(),
            repos: BTreeMap::new(),
            comments: BTreeMap::new(),
            tokens: Vec::new(),
            records: Vec::new(),
            faults: Vec::new(),
            violations: Vec::new(),
            deliveries: Vec::new(),
            redeliveries: Vec::new(),
            rate_used: 0,
            rate_reset: Utc::now() + Duration::hours(1),
        }
    }
}

impl State {
    /// Simulated time: real time plus whatever tests advanced it by.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn advance(&mut self, by: Duration) {
        self.clock_offset = self
            .clock_offset
            .checked_add(&by)
            .unwrap_or(self.clock_offset);
    }

    /// A fresh id, unique across every kind of object.
    pub fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn repo_by_name(&self, owner: &str, name: &str) -> Option<u64> {
        self.repos
            .values()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
            .map(|r| r.id)
    }

    pub fn repo_by_full_name(&self, full_name: &str) -> Option<u64> {
        let (owner, name) = full_name.split_once('/')?;
        self.repo_by_name(owner, name)
    }

    /// Counts one call against the rate limit; returns (remaining, reset epoch seconds).
    pub fn count_call(&mut self) -> (u32, i64) {
        let now = self.now();
        if now >= self.rate_reset {
            self.rate_used = 0;
            self.rate_reset = now + Duration::hours(1);
        }
        self.rate_used = self.rate_used.saturating_add(1);
        (
            5000u32.saturating_sub(self.rate_used),
            self.rate_reset.timestamp(),
        )
    }
}
