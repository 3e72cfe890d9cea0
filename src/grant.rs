//! What a GitHub App installation grants agen, as GitHub tells it: whether the installation is
//! active and which repositories it covers. Plain facts: the store keeps them, the policy
//! decides over them.

use crate::ids::{InstallationId, RepoId, RepoName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationGrant {
    pub id: InstallationId,
    pub account: String,
    pub repository_selection: String,
    pub suspended: bool,
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryGrant {
    pub id: RepoId,
    pub installation_id: InstallationId,
    pub full_name: RepoName,
    pub private: bool,
}
