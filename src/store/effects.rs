//! Idempotency keys for effects on GitHub. GitHub offers none, so agen keeps its own: an
//! effect is marked `started` before the call and `done` (with its result) after. A key found
//! `started` means an earlier attempt may or may not have reached GitHub; the caller then
//! looks on GitHub before acting again.

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectState {
    /// Never attempted: go ahead.
    Fresh,
    /// Attempted before, outcome unknown: check GitHub first.
    Started,
    /// Done; here is what it returned.
    Done(String),
}

impl Store {
    pub async fn begin_effect(&self, key: &str) -> Result<EffectState, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO effects (key, state, updated_at) VALUES ($1, 'started', $2)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(EffectState::Fresh);
        }
        let (state, result): (String, Option<String>) =
            sqlx::query_as("SELECT state, result FROM effects WHERE key = $1")
                .bind(key)
                .fetch_one(self.pool())
                .await?;
        Ok(match state.as_str() {
            "done" => EffectState::Done(result.unwrap_or_default()),
            _ => EffectState::Started,
        })
    }

    pub async fn finish_effect(&self, key: &str, result: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE effects SET state = 'done', result = $1, updated_at = $2 WHERE key = $3",
        )
        .bind(result)
        .bind(now_ms())
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
