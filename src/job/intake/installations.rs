//! Keeps the stored grants in step with GitHub: from installation webhooks as they come, and
//! from the App's installation list at start and whenever an unknown installation shows up.

use crate::event::{InstallationAction, InstallationChange, RepositoriesChange, Repository};
use crate::github::{ApiInstallation, ApiRepository, GitHub, GitHubError};
use crate::grant::{InstallationGrant, RepositoryGrant};
use crate::ids::{InstallationId, RepoId};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn repo_grant(installation: InstallationId, r: &Repository) -> RepositoryGrant {
    RepositoryGrant {
        id: r.id,
        installation_id: installation,
        full_name: r.full_name.clone(),
        private: r.private,
    }
}

fn api_repo_grant(installation: InstallationId, r: ApiRepository) -> RepositoryGrant {
    RepositoryGrant {
        id: r.id,
        installation_id: installation,
        full_name: r.full_name,
        private: r.private,
    }
}

fn installation_grant(i: &ApiInstallation) -> InstallationGrant {
    InstallationGrant {
        id: i.id,
        account: i
            .account
            .as_ref()
            .map(|a| a.login.clone())
            .unwrap_or_default(),
        repository_selection: i.repository_selection.clone(),
        suspended: i.suspended_at.is_some(),
        removed: false,
    }
}

pub async fn apply_installation(
    store: &Store,
    github: &GitHub,
    change: &InstallationChange,
) -> Result<String, SyncError> {
    let id = change.installation.id;
    match change.action {
        InstallationAction::Deleted => {
            github.forget_tokens(id);
            store.remove_installation(id).await?;
            Ok(format!("installation {id} deleted"))
        }
        InstallationAction::Suspend => {
            github.forget_tokens(id);
            store.set_installation_suspended(id, true).await?;
            Ok(format!("installation {id} suspended"))
        }
        InstallationAction::Unsuspend => {
            store.set_installation_suspended(id, false).await?;
            Ok(format!("installation {id} unsuspended"))
        }
        InstallationAction::Created | InstallationAction::NewPermissionsAccepted => {
            github.forget_tokens(id);
            let i = &change.installation;
            store
                .upsert_installation(&InstallationGrant {
                    id,
                    account: i
                        .account
                        .as_ref()
                        .map(|a| a.login.0.clone())
                        .unwrap_or_default(),
                    repository_selection: i.repository_selection.clone().unwrap_or_default(),
                    suspended: i.suspended_at.is_some(),
                    removed: false,
                })
                .await?;
            match &change.repositories {
                Some(repos) => {
                    let grants: Vec<_> = repos.iter().map(|r| repo_grant(id, r)).collect();
                    store.replace_repositories(id, &grants).await?;
                }
                None => sync_repositories(store, github, id).await?,
            }
            Ok(format!("installation {id} granted"))
        }
    }
}

pub async fn apply_repositories(
    store: &Store,
    change: &RepositoriesChange,
) -> Result<String, SyncError> {
    let id = change.installation.id;
    let added: Vec<_> = change.added.iter().map(|r| repo_grant(id, r)).collect();
    let removed: Vec<RepoId> = change.removed.iter().map(|r| r.id).collect();
    store.add_repositories(&added).await?;
    store.remove_repositories(&removed).await?;
    Ok(format!(
        "installation {id}: {} repositories added, {} removed",
        added.len(),
        removed.len()
    ))
}

async fn sync_repositories(
    store: &Store,
    github: &GitHub,
    id: InstallationId,
) -> Result<(), SyncError> {
    let repos = github.installation_repositories(id).await?;
    let grants: Vec<_> = repos.into_iter().map(|r| api_repo_grant(id, r)).collect();
    store.replace_repositories(id, &grants).await?;
    Ok(())
}

/// Rebuilds every grant from GitHub (`GET /app/installations`, then each one's repositories).
pub async fn reconcile_all(store: &Store, github: &GitHub) -> Result<usize, SyncError> {
    let installations = github.installations().await?;
    for i in &installations {
        reconcile_installation(store, github, i).await?;
    }
    Ok(installations.len())
}

async fn reconcile_installation(
    store: &Store,
    github: &GitHub,
    i: &ApiInstallation,
) -> Result<(), SyncError> {
    let grant = installation_grant(i);
    store.upsert_installation(&grant).await?;
    if grant.suspended {
        store.replace_repositories(i.id, &[]).await?;
        Ok(())
    } else {
        sync_repositories(store, github, i.id).await
    }
}

/// Learns about one installation agen has not heard of; `false` when GitHub does not know
/// it either.
pub async fn reconcile_one(
    store: &Store,
    github: &GitHub,
    id: InstallationId,
) -> Result<bool, SyncError> {
    match github.installation(id).await {
        Ok(i) => {
            reconcile_installation(store, github, &i).await?;
            Ok(true)
        }
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e.into()),
    }
}
