//! The inbox: every verified delivery, stored before agen answers 2xx, then handed to intake.
//!
//! Writes go through one writer task that commits whatever is waiting in a single
//! transaction (group commit): each request still waits for its own row to be fsynced, but
//! concurrent requests share the fsync.

use std::sync::Arc;

use bytes::Bytes;
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::{mpsc, oneshot, Notify};

use super::{now_ms, Store, StoreError};
use crate::ids::DeliveryId;

/// Rows per commit at most; 6 parameters each stays far below SQLite's variable limit.
const MAX_BATCH: usize = 128;

#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<u64>,
    /// The raw body, LZ4-compressed ([`compress_body`]): JSON shrinks 3–6×, and the bytes
    /// the disk must write before agen may answer are what bounds the inbox.
    pub body: Bytes,
}

pub fn compress_body(raw: &[u8]) -> Bytes {
    Bytes::from(lz4_flex::compress_prepend_size(raw))
}

fn decompress_body(stored: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
    lz4_flex::decompress_size_prepended(stored)
        .map_err(|e| sqlx::Error::Decode(format!("stored delivery body: {e}").into()))
}

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
}

impl InboxWriter {
    /// Starts the writer on its own connection; `arrived` is woken after each commit with
    /// new rows.
    pub async fn start(store: &Store, arrived: Arc<Notify>) -> Result<InboxWriter, StoreError> {
        let conn = store.writer_connection().await?;
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(write_loop(conn, rx, arrived));
        Ok(InboxWriter { tx })
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

async fn write_loop(
    mut conn: sqlx::SqliteConnection,
    mut rx: mpsc::Receiver<(NewDelivery, Reply)>,
    arrived: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = insert_batch(&mut conn, &batch).await;
        let any_new = matches!(&result, Ok(new) if !new.is_empty());
        for (delivery, reply) in batch.drain(..) {
            let answer = match &result {
                Ok(new) if new.contains(&delivery.id.0) => Ok(Recorded::New),
                Ok(_) => Ok(Recorded::Duplicate),
                Err(e) => Err(e.to_string()),
            };
            let _ = reply.send(answer);
        }
        if any_new {
            arrived.notify_one();
        }
    }
}

/// One statement, so one implicit transaction and one fsync; returns the ids that were new.
async fn insert_batch(
    conn: &mut sqlx::SqliteConnection,
    batch: &[(NewDelivery, Reply)],
) -> Result<Vec<String>, sqlx::Error> {
    let now = now_ms();
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO inbox (delivery_id, event, action, installation_id, body, received_at) ",
    );
    q.push_values(batch, |mut row, (d, _)| {
        row.push_bind(d.id.0.as_str())
            .push_bind(d.event.as_str())
            .push_bind(d.action.as_deref())
            .push_bind(d.installation_id.map(|i| i as i64))
            .push_bind(d.body.as_ref())
            .push_bind(now);
    });
    q.push(" ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id");
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
}

/// A stored delivery, claimed by an intake for a while.
#[derive(Debug, Clone)]
pub struct StoredDelivery {
    pub seq: i64,
    pub id: DeliveryId,
    pub event: String,
    pub body: Vec<u8>,
    pub attempts: i64,
}

impl Store {
    /// Claims up to `limit` unprocessed deliveries, oldest first, for `lease_ms`.
    pub async fn claim_deliveries(
        &self,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(
            "UPDATE inbox SET lease_until = $1, attempts = attempts + 1
             WHERE seq IN (SELECT seq FROM inbox
                           WHERE processed_at IS NULL AND (lease_until IS NULL OR lease_until < $2)
                           ORDER BY seq LIMIT $3)
             RETURNING seq, delivery_id, event, body, attempts",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok(StoredDelivery {
                    seq: r.try_get("seq")?,
                    id: DeliveryId(r.try_get("delivery_id")?),
                    event: r.try_get("event")?,
                    body: decompress_body(r.try_get("body")?)?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        claimed.sort_by_key(|d| d.seq);
        Ok(claimed)
    }

    pub async fn finish_delivery(&self, seq: i64, outcome: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbox SET processed_at = $1, outcome = $2, lease_until = NULL WHERE seq = $3",
        )
        .bind(now_ms())
        .bind(outcome)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives a delivery back for another try no sooner than `retry_in_ms`.
    pub async fn retry_delivery_later(
        &self,
        seq: i64,
        retry_in_ms: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE inbox SET lease_until = $1, outcome = $2 WHERE seq = $3")
            .bind(now_ms() + retry_in_ms)
            .bind(format!("retrying: {error}"))
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Frees every claim held on the inbox.
    pub async fn release_delivery_claims(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE inbox SET lease_until = NULL WHERE processed_at IS NULL")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn pending_deliveries(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// (delivery id, event, outcome) of every processed delivery, in arrival order.
    pub async fn delivery_outcomes(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT delivery_id, event, COALESCE(outcome, '') FROM inbox
             WHERE processed_at IS NOT NULL ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
