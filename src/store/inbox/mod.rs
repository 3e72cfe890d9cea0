//! The inbox: every verified delivery, stored before agen answers 2xx, then handed to intake.
//!
//! The way in ([`writer`]): a delivery is appended to the journal beside the database and
//! synced, concurrent requests sharing one sync (group commit), before agen answers; the
//! copier then moves it into the `inbox` table, where intake claims it. At start, whatever
//! the journal still holds is copied first.

mod copier;
mod journal;
mod record;
mod rows;
mod seen;
mod writer;

use bytes::Bytes;
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::ids::DeliveryId;
pub use writer::{Arrival, InboxWriter};

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

impl NewDelivery {
    /// A delivery as it arrived, its raw `body` encoded for storage.
    pub fn new(
        id: DeliveryId,
        event: String,
        action: Option<String>,
        installation_id: Option<u64>,
        body: &[u8],
    ) -> NewDelivery {
        NewDelivery {
            id,
            event,
            action,
            installation_id,
            body: compress_body(body),
        }
    }
}

pub(super) fn compress_body(raw: &[u8]) -> Bytes {
    Bytes::from(lz4_flex::compress_prepend_size(raw))
}

/// A delivery and when it arrived: what the journal and the `inbox` table store.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub delivery: NewDelivery,
    pub received_at: i64,
}

fn decompress_body(stored: &[u8]) -> Result<Vec<u8>, sqlx::Error> {
    lz4_flex::decompress_size_prepended(stored)
        .map_err(|e| sqlx::Error::Decode(format!("stored delivery body: {e}").into()))
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
