//! The inbox writer: one task that takes what the webhook handlers hand it, a batch at a
//! time, and answers each delivery once it is durable (or known from before).
//!
//! Per batch: drop the ids already known (journaled and not yet copied, or in the table),
//! append the rest to the journal with one sync, answer, and pass them to the copier.
//! A delivery too large for the journal, or any delivery when the database has no file
//! beside which a journal could live, is committed to the table directly instead.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot, Notify};

use super::copier::{self, Copied, Pending};
use super::journal::{Journal, DEFAULT_SEGMENT_BYTES};
use super::{record, rows, NewDelivery, Stamped};
use crate::store::{now_ms, Store, StoreError};

/// Deliveries taken per batch at most.
const MAX_BATCH: usize = 128;
/// Larger deliveries (as records) skip the journal: rare, and they would crowd it.
const MAX_JOURNALED: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

type Reply = oneshot::Sender<Result<Recorded, String>>;

/// Handle to the writer task. Cloning is cheap.
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
                    store.own_connection().await?,
                    journal.recycler(),
                    pending.clone(),
                    arrived.clone(),
                );
                Some((journal, copier))
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            conn,
            journaled,
            pending: pending.clone(),
            arrived,
        };
        tokio::spawn(writer.run(rx));
        Ok(InboxWriter { tx, pending })
    }

    /// Deliveries answered and journaled, not yet copied into the table (intake cannot
    /// see them yet).
    pub fn uncopied(&self) -> usize {
        copier::lock(&self.pending).len()
    }

    /// Returns once the delivery is durably stored (or known from before).
    pub async fn record(&self, delivery: NewDelivery) -> Result<Recorded, StoreError> {
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

struct Writer {
    /// Looks ids up, and commits what skips the journal (synchronous=FULL).
    conn: SqliteConnection,
    journaled: Option<(Journal, mpsc::Sender<Copied>)>,
    pending: Pending,
    arrived: Arc<Notify>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<(NewDelivery, Reply)>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let received_at = now_ms();
            let stamped = batch.drain(..).map(|(delivery, reply)| {
                let stamped = Stamped {
                    delivery,
                    received_at,
                };
                (stamped, reply)
            });
            self.store(stamped.collect()).await;
        }
    }

    /// Looks the batch's ids up while journaling it: the two waits overlap. A repeat that
    /// gets journaled again is harmless (the copy keeps the first); it is answered as one.
    async fn store(&mut self, batch: Vec<(Stamped, Reply)>) {
        let journaled = self.journaled.take();
        let (to_journal, direct): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|(s, _)| journaled.is_some() && record::encoded_len(s) <= MAX_JOURNALED);
        let (stamped, journal_replies): (Vec<Stamped>, Vec<Reply>) = to_journal.into_iter().unzip();
        let ids: Vec<String> = (stamped.iter().chain(direct.iter().map(|(s, _)| s)))
            .map(|s| s.delivery.id.0.clone())
            .collect();
        // The pending set before the table: the copier removes an id only once committed.
        let pending: HashSet<String> = {
            let set = copier::lock(&self.pending);
            ids.iter().filter(|id| set.contains(*id)).cloned().collect()
        };
        let (known, (journaled, stamped, written)) =
            tokio::join!(self.stored(&ids), append(journaled, stamped));
        self.journaled = journaled;
        let mut known = match known {
            Ok(known) => known,
            Err(e) => {
                let replies = journal_replies
                    .into_iter()
                    .chain(direct.into_iter().map(|(_, r)| r));
                answer(replies, Err(e.to_string()));
                self.copy(stamped, written).await;
                return;
            }
        };
        known.extend(pending);
        // `insert` is false for an id known before, or repeated earlier in this batch.
        let is_new: Vec<bool> = ids.iter().map(|id| known.insert(id.clone())).collect();
        let (journal_new, direct_new) = is_new.split_at(stamped.len());
        match &written {
            Ok(_) => {
                let mut set = copier::lock(&self.pending);
                for (s, new) in stamped.iter().zip(journal_new) {
                    if *new {
                        set.insert(s.delivery.id.0.clone());
                    }
                }
                drop(set);
                answer_each(journal_replies.into_iter().zip(journal_new));
            }
            Err(e) => {
                tracing::error!("could not append to the inbox journal: {e}");
                answer(journal_replies, Err(format!("inbox journal: {e}")));
            }
        }
        self.copy(stamped, written).await;
        if !direct.is_empty() {
            self.commit_directly(direct, direct_new).await;
        }
    }

    async fn stored(&mut self, ids: &[String]) -> Result<HashSet<String>, sqlx::Error> {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        rows::stored(&mut self.conn, &ids).await
    }

    /// Hands journaled deliveries to the copier.
    async fn copy(&self, rows: Vec<Stamped>, written: std::io::Result<u64>) {
        let (Some((_, copier)), Ok(generation)) = (&self.journaled, written) else {
            return;
        };
        if !rows.is_empty() {
            // The copier only stops with the process; if it is gone, restart copies these.
            let _ = copier.send(Copied { rows, generation }).await;
        }
    }

    async fn commit_directly(&mut self, deliveries: Vec<(Stamped, Reply)>, is_new: &[bool]) {
        let new: Vec<&Stamped> = (deliveries.iter().zip(is_new))
            .filter(|(_, new)| **new)
            .map(|((s, _), _)| s)
            .collect();
        let result = rows::insert(&mut self.conn, &new).await;
        let replies = deliveries.into_iter().map(|(_, reply)| reply);
        match result {
            Ok(()) => {
                answer_each(replies.zip(is_new));
                self.arrived.notify_one();
            }
            Err(e) => answer(replies, Err(e.to_string())),
        }
    }
}

/// Appends to the journal (when there are deliveries for it) on a blocking thread; gives
/// the journal back with the deliveries and the generation they were written with.
async fn append(
    journaled: Option<(Journal, mpsc::Sender<Copied>)>,
    stamped: Vec<Stamped>,
) -> (
    Option<(Journal, mpsc::Sender<Copied>)>,
    Vec<Stamped>,
    std::io::Result<u64>,
) {
    let (mut journal, copier) = match journaled {
        Some(journaled) if !stamped.is_empty() => journaled,
        journaled => return (journaled, stamped, Ok(0)),
    };
    let (journal, stamped, written) = tokio::task::spawn_blocking(move || {
        let written = append_in_chunks(&mut journal, &stamped);
        (journal, stamped, written)
    })
    .await
    .expect("the journal append does not panic");
    (Some((journal, copier)), stamped, written)
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

fn answer_each<'a>(replies: impl IntoIterator<Item = (Reply, &'a bool)>) {
    for (reply, new) in replies {
        let recorded = if *new {
            Recorded::New
        } else {
            Recorded::Duplicate
        };
        let _ = reply.send(Ok(recorded));
    }
}

fn answer(replies: impl IntoIterator<Item = Reply>, result: Result<Recorded, String>) {
    for reply in replies {
        let _ = reply.send(result.clone());
    }
}

#[cfg(test)]
mod tests;
