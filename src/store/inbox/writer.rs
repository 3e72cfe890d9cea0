//! The inbox writer: one thread that takes what the webhook handlers hand it, a batch at a
//! time, and answers each delivery once it is durable (or known from before).
//!
//! Per batch: drop the ids already known (journaled and not yet copied, or in the table;
//! [`Seen`] tells most new ids apart without asking SQLite), append the rest to the journal
//! with one sync, answer, and pass them to the copier. A delivery too large for the journal,
//! or any delivery when the database has no file beside which a journal could live, is
//! committed to the table directly instead.
//!
//! A thread of its own, not a task: appending and syncing block, and handing each batch to
//! a blocking pool and back cost as much as the sync itself on a busy machine.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sqlx::SqliteConnection;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, Notify};

use super::copier::{self, Copied, Pending};
use super::journal::{Journal, DEFAULT_SEGMENT_BYTES};
use super::seen::{Seen, MIN_CAPACITY};
use super::{record, rows, NewDelivery, Stamped};
use crate::store::{now_ms, Store, StoreError};

/// Deliveries taken per batch at most.
const MAX_BATCH: usize = 128;
/// Larger deliveries (as records) skip the journal: rare, and they would crowd it.
const MAX_JOURNALED: usize = 1 << 20;

/// What the inbox made of a delivery: the first with its id, or one it already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    New,
    Duplicate,
}

type Reply = oneshot::Sender<Result<Arrival, String>>;

/// Handle to the writer thread. Cloning is cheap.
#[derive(Clone)]
pub struct InboxWriter {
    tx: mpsc::Sender<(NewDelivery, Reply)>,
    pending: Pending,
}

impl InboxWriter {
    /// Copies into the table what the journal still holds from before, then starts the
    /// writer; `arrived` is woken whenever new rows are committed to the table.
    pub async fn start(store: &Store, arrived: Arc<Notify>) -> Result<InboxWriter, StoreError> {
        let mut conn = store.writer_connection().await?;
        let pending: Pending = Arc::new(Mutex::new(HashSet::new()));
        let journaled = match store.inbox_journal_dir() {
            Some(dir) => {
                let journal = recover(&mut conn, dir).await?;
                let copier = copier::start(
                    store.copier_connection().await?,
                    journal.recycler(),
                    pending.clone(),
                    arrived.clone(),
                );
                Some((journal, copier))
            }
            None => None,
        };
        let seen = load_seen(&mut conn).await?;
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            conn,
            journaled,
            seen,
            pending: pending.clone(),
            arrived,
            runtime: Handle::current(),
        };
        std::thread::Builder::new()
            .name("agen-inbox".into())
            .spawn(move || writer.run(rx))?;
        Ok(InboxWriter { tx, pending })
    }

    /// Deliveries answered and journaled, not yet copied into the table (intake cannot
    /// see them yet).
    pub fn uncopied(&self) -> usize {
        copier::lock(&self.pending).len()
    }

    /// Returns once the delivery is durably stored (or known from before).
    pub async fn record(&self, delivery: NewDelivery) -> Result<Arrival, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((delivery, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        match answer.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(StoreError::Db(sqlx::Error::Protocol(e))),
            Err(_) => Err(StoreError::WriterGone),
        }
    }
}

/// Opens the journal and commits what it holds (deliveries answered 2xx before a crash
/// or a stop, not yet copied) before anything new is taken.
async fn recover(conn: &mut SqliteConnection, dir: PathBuf) -> Result<Journal, StoreError> {
    let (mut journal, recovered) =
        tokio::task::spawn_blocking(move || Journal::open(&dir, DEFAULT_SEGMENT_BYTES))
            .await
            .map_err(|_| StoreError::WriterGone)??;
    let refs: Vec<&Stamped> = recovered.iter().collect();
    rows::insert(conn, &refs).await?;
    if !recovered.is_empty() {
        tracing::info!(
            deliveries = recovered.len(),
            "copied deliveries from the inbox journal"
        );
    }
    Ok(
        tokio::task::spawn_blocking(move || journal.forget_recovered().map(|()| journal))
            .await
            .map_err(|_| StoreError::WriterGone)??,
    )
}

/// A filter holding every id in the table, sized for twice as many.
async fn load_seen(conn: &mut SqliteConnection) -> Result<Seen, sqlx::Error> {
    let stored = rows::count(conn).await?;
    let mut seen = Seen::with_capacity((2 * stored).max(MIN_CAPACITY));
    rows::each_id(conn, |id| seen.insert(id)).await?;
    Ok(seen)
}

struct Writer {
    /// Looks ids up, and commits what skips the journal (synchronous=FULL).
    conn: SqliteConnection,
    journaled: Option<(Journal, mpsc::Sender<Copied>)>,
    seen: Seen,
    pending: Pending,
    arrived: Arc<Notify>,
    /// Runs the few database calls this thread makes.
    runtime: Handle,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<(NewDelivery, Reply)>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let received_at = now_ms();
            let stamped = batch.drain(..).map(|(delivery, reply)| {
                let stamped = Stamped {
                    delivery,
                    received_at,
                };
                (stamped, reply)
            });
            let new = self.drop_known(stamped.collect());
            let (to_journal, direct): (Vec<_>, Vec<_>) = new.into_iter().partition(|(s, _)| {
                self.journaled.is_some() && record::encoded_len(s) <= MAX_JOURNALED
            });
            if !to_journal.is_empty() {
                self.journal(to_journal);
            }
            if !direct.is_empty() {
                self.commit_directly(direct);
            }
        }
    }

    /// Answers the deliveries already known (as duplicates) and returns the others.
    fn drop_known(&mut self, batch: Vec<(Stamped, Reply)>) -> Vec<(Stamped, Reply)> {
        let maybe: Vec<&str> = (batch.iter())
            .map(|(s, _)| s.delivery.id.0.as_str())
            .filter(|id| self.seen.may_contain(id))
            .collect();
        let known = if maybe.is_empty() {
            Ok(HashSet::new())
        } else {
            // The pending set before the table: the copier removes an id only once committed.
            let pending: HashSet<String> = {
                let set = copier::lock(&self.pending);
                maybe
                    .iter()
                    .filter(|id| set.contains(**id))
                    .map(|id| id.to_string())
                    .collect()
            };
            let rest: Vec<&str> = maybe
                .into_iter()
                .filter(|id| !pending.contains(*id))
                .collect();
            (self.runtime.block_on(rows::stored(&mut self.conn, &rest))).map(|mut known| {
                known.extend(pending);
                known
            })
        };
        let mut known = match known {
            Ok(known) => known,
            Err(e) => {
                answer(
                    batch.into_iter().map(|(_, reply)| reply),
                    Err(e.to_string()),
                );
                return Vec::new();
            }
        };
        let mut new = Vec::with_capacity(batch.len());
        for (stamped, reply) in batch {
            // `insert` is false for an id known before, or repeated earlier in this batch.
            if known.insert(stamped.delivery.id.0.clone()) {
                new.push((stamped, reply));
            } else {
                let _ = reply.send(Ok(Arrival::Duplicate));
            }
        }
        new
    }

    fn journal(&mut self, deliveries: Vec<(Stamped, Reply)>) {
        let (journal, copier) = self.journaled.as_mut().expect("partitioned on it");
        let (stamped, replies): (Vec<Stamped>, Vec<Reply>) = deliveries.into_iter().unzip();
        let generation = match append_in_chunks(journal, &stamped) {
            Ok(generation) => generation,
            Err(e) => {
                tracing::error!("could not append to the inbox journal: {e}");
                answer(replies, Err(format!("inbox journal: {e}")));
                return;
            }
        };
        let mut set = copier::lock(&self.pending);
        for s in &stamped {
            set.insert(s.delivery.id.0.clone());
            self.seen.insert(&s.delivery.id.0);
        }
        drop(set);
        answer(replies, Ok(Arrival::New));
        // The copier only stops with the process; if it is gone, restart copies these.
        let _ = copier.blocking_send(Copied {
            rows: stamped,
            generation,
        });
    }

    fn commit_directly(&mut self, deliveries: Vec<(Stamped, Reply)>) {
        let refs: Vec<&Stamped> = deliveries.iter().map(|(s, _)| s).collect();
        let result = self.runtime.block_on(rows::insert(&mut self.conn, &refs));
        match result {
            Ok(()) => {
                for (s, _) in &deliveries {
                    self.seen.insert(&s.delivery.id.0);
                }
                answer(deliveries.into_iter().map(|(_, r)| r), Ok(Arrival::New));
                self.arrived.notify_one();
            }
            Err(e) => answer(deliveries.into_iter().map(|(_, r)| r), Err(e.to_string())),
        }
    }
}

/// Appends in as many syncs as the journal's capacity needs (almost always one); returns
/// the last generation written.
fn append_in_chunks(journal: &mut Journal, deliveries: &[Stamped]) -> std::io::Result<u64> {
    let capacity = journal.capacity() as usize;
    let mut generation = 0;
    let mut start = 0;
    let mut len = 0;
    for (i, delivery) in deliveries.iter().enumerate() {
        let next = record::encoded_len(delivery);
        if len + next > capacity {
            generation = journal.append(&deliveries[start..i])?;
            start = i;
            len = 0;
        }
        len += next;
    }
    if start < deliveries.len() {
        generation = journal.append(&deliveries[start..])?;
    }
    Ok(generation)
}

fn answer(replies: impl IntoIterator<Item = Reply>, result: Result<Arrival, String>) {
    for reply in replies {
        let _ = reply.send(result.clone());
    }
}

#[cfg(test)]
mod tests;
