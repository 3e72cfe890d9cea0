//! Signed, expiring links to a job's page: `/jobs/{id}?exp={unix seconds}&sig={hex}`, the
//! signature an HMAC-SHA256 of the job id and the expiry under a key kept in the store, so
//! every agen process of one database signs and checks alike.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use super::{Store, StoreError};
use crate::ids::JobId;

impl Store {
    /// The link key, made (32 random bytes) the first time it is asked for: a read after
    /// that, never a write.
    pub async fn link_key(&self) -> Result<Vec<u8>, StoreError> {
        let kept: Option<Vec<u8>> = sqlx::query_scalar("SELECT key FROM link_key WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        if let Some(key) = kept {
            return Ok(key);
        }
        let mut fresh = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut fresh);
        sqlx::query("INSERT INTO link_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING")
            .bind(&fresh)
            .execute(self.pool())
            .await?;
        Ok(sqlx::query_scalar("SELECT key FROM link_key WHERE id = 1")
            .fetch_one(self.pool())
            .await?)
    }
}

fn mac(key: &[u8], job: JobId, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("agen-job-page:{job}:{expires}").as_bytes());
    mac
}

/// The path and query of `job`'s page, valid until `expires` (unix seconds).
pub fn path(key: &[u8], job: JobId, expires: i64) -> String {
    let sig = hex::encode(mac(key, job, expires).finalize().into_bytes());
    format!("/jobs/{job}?exp={expires}&sig={sig}")
}

/// Whether `sig` is `job`'s signature for `expires`, and `expires` is still ahead of `now`.
pub fn holds(key: &[u8], job: JobId, expires: i64, sig: &str, now: i64) -> bool {
    let Ok(sig) = hex::decode(sig) else {
        return false;
    };
    expires > now && mac(key, job, expires).verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests;
