//! Who may do what, where. Pure decisions over facts that intake gathers; every unknown is a
//! no. The permission comes from GitHub's collaborator-permission endpoint, never from a
//! payload's `author_association` (private org members show up there as CONTRIBUTOR).

use crate::grant::{InstallationGrant, RepositoryGrant};

/// A repository role, ordered from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    None,
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

impl Permission {
    pub fn parse(s: &str) -> Option<Permission> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "none" => Permission::None,
            "read" | "pull" => Permission::Read,
            "triage" => Permission::Triage,
            "write" | "push" => Permission::Write,
            "maintain" => Permission::Maintain,
            "admin" => Permission::Admin,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::None => "none",
            Permission::Read => "read",
            Permission::Triage => "triage",
            Permission::Write => "write",
            Permission::Maintain => "maintain",
            Permission::Admin => "admin",
        }
    }

    /// GitHub answers with `permission` (admin/write/read/none) and `role_name` (which may
    /// be maintain, triage or a custom role). A known role name is the finer answer; a custom
    /// role falls back to the coarse `permission`; nothing known means `None` (deny).
    pub fn from_github(permission: &str, role_name: Option<&str>) -> Permission {
        role_name
            .and_then(Permission::parse)
            .or_else(|| Permission::parse(permission))
            .unwrap_or(Permission::None)
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What GitHub told us about the actor's permission; `Unknown` when it could not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PermissionLookup {
    Known(Permission),
    Unknown(String),
}

/// The outcome of a policy check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Dropped without a word on GitHub (bots, repositories agen may not touch): answering
    /// would itself be acting where agen has no business.
    Ignore(String),
    /// Refused with a short reply to the person, saying what is missing.
    Refuse(Refusal),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NeedsPermission { needed: Permission, has: Permission },
    PermissionUnknown { reason: String },
}

/// Bots never trigger work: agen's own comments included, so it cannot loop on itself.
pub fn sender_verdict(sender_is_bot: bool) -> Verdict {
    if sender_is_bot {
        Verdict::Ignore("sender is a bot".into())
    } else {
        Verdict::Allow
    }
}

/// agen acts only where an active, unsuspended installation grants the repository.
pub fn grant_verdict(
    installation: Option<&InstallationGrant>,
    repository: Option<&RepositoryGrant>,
) -> Verdict {
    let Some(installation) = installation else {
        return Verdict::Ignore("installation unknown to agen".into());
    };
    if installation.removed {
        return Verdict::Ignore("installation was deleted".into());
    }
    if installation.suspended {
        return Verdict::Ignore("installation is suspended".into());
    }
    match repository {
        Some(repo) if repo.installation_id == installation.id => Verdict::Allow,
        _ => Verdict::Ignore("repository not granted to agen".into()),
    }
}

/// The actor must hold at least `needed`; anything GitHub could not confirm is a no.
pub fn permission_verdict(needed: Permission, lookup: &PermissionLookup) -> Verdict {
    match lookup {
        PermissionLookup::Known(has) if *has >= needed => Verdict::Allow,
        PermissionLookup::Known(has) => {
            Verdict::Refuse(Refusal::NeedsPermission { needed, has: *has })
        }
        PermissionLookup::Unknown(reason) => Verdict::Refuse(Refusal::PermissionUnknown {
            reason: reason.clone(),
        }),
    }
}

#[cfg(test)]
mod tests;
