//! Newtypes for every id that crosses a boundary, so a repository id can never be passed
//! where an installation id is expected.

use serde::{Deserialize, Serialize};

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(
    /// A GitHub App installation.
    InstallationId
);
numeric_id!(
    /// A repository's stable numeric id (survives renames).
    RepoId
);
numeric_id!(
    /// An issue or pull request number within its repository.
    IssueNumber
);
numeric_id!(
    /// An issue comment's id.
    CommentId
);
numeric_id!(
    /// A check run's id.
    CheckRunId
);

/// agen's own job id (a row in the jobs table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

string_id!(
    /// The `X-GitHub-Delivery` GUID: the key that makes every delivery count once.
    DeliveryId
);
string_id!(
    /// "owner/name", as GitHub spells it.
    RepoName
);
string_id!(
    /// A GitHub user or bot login.
    Login
);

impl RepoName {
    /// The `/repos/{owner}/{repo}` prefix of REST paths.
    pub fn api_path(&self) -> String {
        format!("/repos/{}", self.0)
    }
}
