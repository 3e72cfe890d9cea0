//! What installations grant agen: which installations are active and which repositories each
//! one covers. Kept current from installation webhooks and reconciled from GitHub.

use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::grant::{InstallationGrant, RepositoryGrant};
use crate::ids::{InstallationId, RepoId, RepoName};

impl Store {
    pub async fn upsert_installation(&self, grant: &InstallationGrant) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO installations (id, account, repository_selection, suspended, removed, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET account = excluded.account,
                 repository_selection = excluded.repository_selection,
                 suspended = excluded.suspended, removed = excluded.removed,
                 updated_at = excluded.updated_at",
        )
        .bind(grant.id.0 as i64)
        .bind(&grant.account)
        .bind(&grant.repository_selection)
        .bind(grant.suspended)
        .bind(grant.removed)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn set_installation_suspended(
        &self,
        id: InstallationId,
        suspended: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE installations SET suspended = $1, updated_at = $2 WHERE id = $3")
            .bind(suspended)
            .bind(now_ms())
            .bind(id.0 as i64)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A deleted installation keeps its row (for the record) but grants nothing.
    pub async fn remove_installation(&self, id: InstallationId) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE installations SET removed = 1, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id.0 as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM repositories WHERE installation_id = $1")
            .bind(id.0 as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn installation(
        &self,
        id: InstallationId,
    ) -> Result<Option<InstallationGrant>, StoreError> {
        let row = sqlx::query(
            "SELECT id, account, repository_selection, suspended, removed FROM installations WHERE id = $1",
        )
        .bind(id.0 as i64)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(InstallationGrant {
                id: InstallationId(r.try_get::<i64, _>("id")? as u64),
                account: r.try_get("account")?,
                repository_selection: r.try_get("repository_selection")?,
                suspended: r.try_get("suspended")?,
                removed: r.try_get("removed")?,
            })
        })
        .transpose()
        .map_err(StoreError::Db)
    }

    pub async fn add_repositories(&self, repos: &[RepositoryGrant]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for repo in repos {
            upsert_repository(&mut tx, repo).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn remove_repositories(&self, ids: &[RepoId]) -> Result<(), StoreError> {
        for id in ids {
            sqlx::query("DELETE FROM repositories WHERE id = $1")
                .bind(id.0 as i64)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// Makes the stored repositories of an installation exactly `repos`.
    pub async fn replace_repositories(
        &self,
        installation: InstallationId,
        repos: &[RepositoryGrant],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM repositories WHERE installation_id = $1")
            .bind(installation.0 as i64)
            .execute(&mut *tx)
            .await?;
        for repo in repos {
            upsert_repository(&mut tx, repo).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn repository(&self, id: RepoId) -> Result<Option<RepositoryGrant>, StoreError> {
        let row = sqlx::query(
            "SELECT id, installation_id, full_name, private FROM repositories WHERE id = $1",
        )
        .bind(id.0 as i64)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(RepositoryGrant {
                id: RepoId(r.try_get::<i64, _>("id")? as u64),
                installation_id: InstallationId(r.try_get::<i64, _>("installation_id")? as u64),
                full_name: RepoName(r.try_get("full_name")?),
                private: r.try_get("private")?,
            })
        })
        .transpose()
        .map_err(StoreError::Db)
    }
}

async fn upsert_repository(
    conn: &mut sqlx::SqliteConnection,
    repo: &RepositoryGrant,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO repositories (id, installation_id, full_name, private, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET installation_id = excluded.installation_id,
             full_name = excluded.full_name, private = excluded.private,
             updated_at = excluded.updated_at",
    )
    .bind(repo.id.0 as i64)
    .bind(repo.installation_id.0 as i64)
    .bind(&repo.full_name.0)
    .bind(repo.private)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}
