//! The copier: moves journaled deliveries into the `inbox` table, off the request path,
//! committing whatever has piled up in one transaction, and gives journal segments back
//! once everything in them is committed durably.
//!
//! Its commits do not sync (`synchronous=NORMAL`: the journal holds the deliveries until
//! then), except the one after which segments are given back: with FULL, that commit
//! syncs the WAL and so every commit before it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sqlx::SqliteConnection;
use tokio::sync::{mpsc, Notify};

use super::journal::Recycler;
use super::{rows, Stamped};

/// Ids journaled but not yet committed to the table: the writer's duplicate check reads
/// it before the table, the copier removes ids only after their commit.
pub type Pending = Arc<Mutex<HashSet<String>>>;

pub fn lock(pending: &Pending) -> MutexGuard<'_, HashSet<String>> {
    pending
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deliveries the writer journaled, all in segments of `generation` or before.
pub struct Copied {
    pub rows: Vec<Stamped>,
    pub generation: u64,
}

/// Batches waiting at most; beyond that the writer waits (and so do webhook answers).
const QUEUE: usize = 1024;
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(10);

pub fn start(
    conn: SqliteConnection,
    recycler: Recycler,
    pending: Pending,
    arrived: Arc<Notify>,
) -> mpsc::Sender<Copied> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(copy_loop(conn, rx, recycler, pending, arrived));
    tx
}

async fn copy_loop(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Copied>,
    recycler: Recycler,
    pending: Pending,
    arrived: Arc<Notify>,
) {
    let mut batches = Vec::new();
    // Segments of generations before it are given back already.
    let mut recycled_before = 0;
    while rx.recv_many(&mut batches, QUEUE).await > 0 {
        let rows: Vec<&Stamped> = batches.iter().flat_map(|b| &b.rows).collect();
        let newest = batches.iter().map(|b| b.generation).max().unwrap_or(0);
        // A newer generation means the writer sealed the segments before it.
        let frees_segments = newest > recycled_before;
        let mut retry_in = RETRY_FIRST;
        // They are safe in the journal meanwhile; giving up would only strand them there.
        while let Err(e) = insert(&mut conn, &rows, frees_segments).await {
            tracing::error!(
                "could not copy deliveries from the inbox journal; trying again in {retry_in:?}: {e}"
            );
            tokio::time::sleep(retry_in).await;
            retry_in = (retry_in * 2).min(RETRY_MAX);
        }
        {
            let mut set = lock(&pending);
            for row in &rows {
                set.remove(&row.delivery.id.0);
            }
        }
        arrived.notify_one();
        batches.clear();
        if frees_segments {
            let recycler = recycler.clone();
            match tokio::task::spawn_blocking(move || recycler.recycle_before(newest)).await {
                Ok(Ok(())) => recycled_before = newest,
                Ok(Err(e)) => tracing::warn!("could not free an inbox journal segment: {e}"),
                Err(e) => tracing::warn!("freeing inbox journal segments stopped: {e}"),
            }
        }
    }
}

/// Inserts `rows`; with `durable`, the commit syncs (FULL) and with it every commit before.
async fn insert(
    conn: &mut SqliteConnection,
    rows: &[&Stamped],
    durable: bool,
) -> Result<(), sqlx::Error> {
    if !durable {
        return rows::insert(conn, rows).await;
    }
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *conn)
        .await?;
    let inserted = rows::insert(conn, rows).await;
    sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut *conn)
        .await?;
    inserted
}
