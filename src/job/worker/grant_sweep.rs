//! Keeping no code agen may no longer read: mirrors of repositories whose grant is gone are
//! removed (checked whenever a worker is idle, so within seconds of the grant's end).

use std::time::{Duration, Instant};

use super::context::JobContext;
use crate::policy::{self, Verdict};

/// How often an idle worker looks.
pub const EVERY: Duration = Duration::from_secs(2);

/// Removes the mirror (and spare) of every repository this host mirrors that no active
/// installation grants any more.
pub async fn prune_mirrors(ctx: &JobContext) {
    let workspaces = ctx.workspaces.clone();
    let mirrored = match tokio::task::spawn_blocking(move || workspaces.mirrored()).await {
        Ok(repos) => repos,
        Err(_) => return,
    };
    for repo in mirrored {
        let granted = match ctx.store.repository(repo).await {
            Ok(Some(grant)) => {
                let installation = ctx.store.installation(grant.installation_id).await;
                match installation {
                    Ok(installation) => matches!(
                        policy::grant_verdict(installation.as_ref(), Some(&grant)),
                        Verdict::Allow
                    ),
                    Err(_) => continue,
                }
            }
            Ok(None) => false,
            // The store cannot say: keep it, look again later.
            Err(_) => continue,
        };
        if granted {
            continue;
        }
        // Its caches go with it, like the mirror.
        let caches = super::caches::repo_dir(&ctx.cache_dir, repo);
        if let Err(e) = crate::workspace::remove_tree(&caches) {
            tracing::warn!(%repo, "cannot remove the repository's caches: {e}");
        }
        let workspaces = ctx.workspaces.clone();
        match tokio::task::spawn_blocking(move || workspaces.forget(repo)).await {
            Ok(Ok(())) => {
                tracing::info!(%repo, "removed the mirror of a repository agen no longer serves")
            }
            Ok(Err(e)) => tracing::warn!(%repo, "cannot remove the mirror: {e}"),
            Err(_) => {}
        }
    }
}

/// Runs [`prune_mirrors`] when `EVERY` has passed since `last`.
pub async fn prune_when_due(ctx: &JobContext, last: &mut Instant) {
    if last.elapsed() >= EVERY {
        *last = Instant::now();
        prune_mirrors(ctx).await;
    }
}
