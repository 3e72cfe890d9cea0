//! The durable store: SQLite (WAL) through sqlx; a webhook delivery is durable in the inbox
//! journal before it reaches its table (see [`inbox`]). Postgres joins when agen scales out; the SQL here stays portable (`$n` parameters, no SQLite-only functions).

pub mod audit;
pub mod effects;
pub mod grants;
pub mod inbox;
pub mod job_metrics;
pub mod job_runs;
pub mod jobs;
pub mod link_key;
pub mod log_deletions;
pub mod model_calls;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database writer stopped")]
    WriterGone,
    #[error("inbox journal: {0}")]
    Journal(#[from] std::io::Error),
}

/// Milliseconds since the epoch: the one time format in the store.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    options: SqliteConnectOptions,
}

impl Store {
    /// Opens (creating if missing) the database and applies the embedded migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Jobs, effects and grants: NORMAL, durable when agen crashes or is killed (the WAL
            // is in the OS's hands); a power cut may lose the newest few, always as a suffix
            // (a later FULL commit syncs all frames before it), which the idempotent steps
            // simply redo. The inbox writer commits FULL (see `writer_connection`).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store { pool, options })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Where the inbox journal lives: beside the database file (`agen.db` → `agen.db-inbox/`);
    /// none for an in-memory database.
    pub(crate) fn inbox_journal_dir(&self) -> Option<std::path::PathBuf> {
        let file = self.options.get_filename();
        let name = file.to_str()?;
        if name.is_empty() || name == ":memory:" || name.contains("mode=memory") {
            return None;
        }
        Some(std::path::PathBuf::from(format!("{name}-inbox")))
    }

    /// A connection of the inbox's own (the writer's and the copier's). FULL: a commit is on
    /// disk (WAL synced) before it returns, so a delivery answered after it is stored, and
    /// a journal segment freed after it is no longer needed.
    pub(crate) async fn writer_connection(&self) -> Result<sqlx::SqliteConnection, StoreError> {
        use sqlx::ConnectOptions;
        Ok(self
            .options
            .clone()
            .synchronous(SqliteSynchronous::Full)
            .connect()
            .await?)
    }

    /// The inbox copier's connection: commits like the pool (NORMAL), and checkpoints the
    /// WAL every 256 pages (1 MiB) instead of SQLite's 1000: a checkpoint's writes queue
    /// ahead of the inbox journal's next sync on the same disk, so smaller ones keep the
    /// slowest webhook answers shorter.
    pub(crate) async fn copier_connection(&self) -> Result<sqlx::SqliteConnection, StoreError> {
        use sqlx::ConnectOptions;
        Ok(self
            .options
            .clone()
            .pragma("wal_autocheckpoint", "256")
            .connect()
            .await?)
    }
}

#[cfg(test)]
mod tests;
