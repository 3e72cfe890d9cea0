//! The audit log: an append-only table of every decision agen takes, each entry carrying the
//! SHA-256 of the one before it, so the chain breaks where a row was changed, removed or
//! inserted. The head of the chain (its last sequence number and hash) is also written to a
//! file beside the database after every append, so a table truncated or cut short is caught.
//! Appends take SQLite's write lock first (`BEGIN IMMEDIATE`): processes sharing the
//! database append one at a time, each after the last.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// The hash the first entry follows.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as one entry says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    DeliveryAccepted,
    TriggerAccepted,
    TriggerRefused,
    JobQueued,
    JobStarted,
    JobTakenOver,
    JobEnded,
    TokenMinted,
    Pushed,
    PullRequestOpened,
    CheckRunWritten,
    CommentWritten,
    BudgetHit,
    EgressRefused,
    ConfigError,
    LogDeleted,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::DeliveryAccepted => "delivery_accepted",
            AuditKind::TriggerAccepted => "trigger_accepted",
            AuditKind::TriggerRefused => "trigger_refused",
            AuditKind::JobQueued => "job_queued",
            AuditKind::JobStarted => "job_started",
            AuditKind::JobTakenOver => "job_taken_over",
            AuditKind::JobEnded => "job_ended",
            AuditKind::TokenMinted => "token_minted",
            AuditKind::Pushed => "pushed",
            AuditKind::PullRequestOpened => "pull_request_opened",
            AuditKind::CheckRunWritten => "check_run_written",
            AuditKind::CommentWritten => "comment_written",
            AuditKind::BudgetHit => "budget_hit",
            AuditKind::EgressRefused => "egress_refused",
            AuditKind::ConfigError => "config_error",
            AuditKind::LogDeleted => "log_deleted",
        }
    }
}

/// An entry to append: what, where, who, and the facts (never a secret).
#[derive(Clone, Debug)]
pub struct NewAudit<'a> {
    pub kind: AuditKind,
    pub repo: Option<&'a str>,
    pub job: Option<i64>,
    pub actor: Option<&'a str>,
    pub detail: Value,
}

/// An entry as the table holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub repo: Option<String>,
    pub job: Option<i64>,
    pub actor: Option<String>,
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry must carry: over the previous hash and every field.
    pub fn expected_hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.prev.as_str(),
            &self.seq.to_string(),
            &self.at.to_string(),
            &self.kind,
            self.repo.as_deref().unwrap_or(""),
            &self.job.map(|j| j.to_string()).unwrap_or_default(),
            self.actor.as_deref().unwrap_or(""),
            &self.detail,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Where `agen audit verify` found the chain broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq}: {problem}")]
pub struct Broken {
    /// The first entry that does not hold (the one after the last good one).
    pub seq: i64,
    pub problem: String,
}

impl Store {
    /// The file beside the database that holds the chain's head; none in memory.
    fn audit_head_file(&self) -> Option<PathBuf> {
        let file = self.options.get_filename();
        let name = file.to_str()?;
        if name.is_empty() || name == ":memory:" || name.contains("mode=memory") {
            return None;
        }
        Some(PathBuf::from(format!("{name}-audit-head")))
    }

    /// Appends `entry` after the last one; its sequence number.
    pub async fn audit(&self, entry: NewAudit<'_>) -> Result<i64, StoreError> {
        let mut conn = self.pool().acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let appended = append(&mut conn, &entry).await;
        let end = if appended.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        sqlx::query(end).execute(&mut *conn).await?;
        let (seq, hash) = appended?;
        if let Some(path) = self.audit_head_file() {
            write_head(&path, seq, &hash)?;
        }
        Ok(seq)
    }

    /// Entries in order, at or after `since_ms`, of `repo` when given.
    pub async fn audit_entries(
        &self,
        since_ms: Option<i64>,
        repo: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, repo, job_id, actor, detail, prev_hash, hash FROM audit
             WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR repo = $2) ORDER BY seq",
        )
        .bind(since_ms)
        .bind(repo)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry).collect()
    }

    /// The last `n` entries, oldest first.
    pub async fn audit_tail(&self, n: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT seq, at, kind, repo, job_id, actor, detail, prev_hash, hash
             FROM audit ORDER BY seq DESC LIMIT $1) ORDER BY seq",
        )
        .bind(n)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(entry).collect()
    }

    /// Checks the whole chain and the head file; the first entry that does not hold.
    pub async fn verify_audit(&self) -> Result<Result<u64, Broken>, StoreError> {
        let entries = self.audit_entries(None, None).await?;
        let mut prev = GENESIS.to_string();
        for (i, e) in entries.iter().enumerate() {
            let want = i as i64 + 1;
            let problem = if e.seq != want {
                Some(format!(
                    "expected entry {want} here: one was removed or inserted"
                ))
            } else if e.prev != prev {
                Some("does not follow the entry before it (one was removed or inserted)".into())
            } else if e.hash != e.expected_hash() {
                Some("its content does not match its hash (the row was changed)".into())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok(Err(Broken { seq: want, problem }));
            }
            prev = e.hash.clone();
        }
        let last = entries.last().map_or(0, |e| e.seq);
        if let Some(path) = self.audit_head_file() {
            match read_head(&path)? {
                Some((seq, hash)) if seq == last && (seq == 0 || hash == prev) => {}
                Some((seq, _)) if seq > last => {
                    return Ok(Err(Broken {
                        seq: last + 1,
                        problem: format!(
                            "missing: the table ends at entry {last}, but agen wrote entry {seq} \
                             (entries were deleted or the table truncated)"
                        ),
                    }))
                }
                Some((seq, _)) => {
                    return Ok(Err(Broken {
                        seq,
                        problem: format!(
                            "is not the head agen recorded in {} (the chain was rewritten or \
                             extended outside agen)",
                            path.display()
                        ),
                    }))
                }
                None if last > 0 => {
                    return Ok(Err(Broken {
                        seq: 1,
                        problem: format!("the head file {} is missing", path.display()),
                    }))
                }
                None => {}
            }
        }
        Ok(Ok(last as u64))
    }
}

async fn append(
    conn: &mut sqlx::SqliteConnection,
    new: &NewAudit<'_>,
) -> Result<(i64, String), StoreError> {
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (seq, prev) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let mut e = AuditEntry {
        seq,
        at: now_ms(),
        kind: new.kind.as_str().to_string(),
        repo: new.repo.map(str::to_string),
        job: new.job,
        actor: new.actor.map(str::to_string),
        detail: new.detail.to_string(),
        prev,
        hash: String::new(),
    };
    e.hash = e.expected_hash();
    insert(conn, &e).await?;
    Ok((e.seq, e.hash))
}

/// Writes `e` as it is (the tests forge entries with it).
async fn insert(conn: &mut sqlx::SqliteConnection, e: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (seq, at, kind, repo, job_id, actor, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.seq)
    .bind(e.at)
    .bind(&e.kind)
    .bind(&e.repo)
    .bind(e.job)
    .bind(&e.actor)
    .bind(&e.detail)
    .bind(&e.prev)
    .bind(&e.hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn entry(r: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        repo: r.try_get("repo")?,
        job: r.try_get("job_id")?,
        actor: r.try_get("actor")?,
        detail: r.try_get("detail")?,
        prev: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Writes `seq hash` to `path` through a file renamed into place, unless it already holds a
/// later head (another process appended after this one meanwhile).
fn write_head(path: &std::path::Path, seq: i64, hash: &str) -> std::io::Result<()> {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(beside(path, "lock"))?;
    // SAFETY: flock on a descriptor we own; released when `lock` closes.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if read_head(path)?.is_some_and(|(recorded, _)| recorded >= seq) {
        return Ok(());
    }
    let tmp = beside(path, "tmp");
    let mut file = std::fs::File::create(&tmp)?;
    writeln!(file, "{seq} {hash}")?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// `path` with `.suffix` added.
fn beside(path: &std::path::Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}.{suffix}", path.display()))
}

fn read_head(path: &std::path::Path) -> std::io::Result<Option<(i64, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = text.split_whitespace();
    let seq = parts.next().and_then(|s| s.parse().ok());
    let hash = parts.next().map(str::to_string);
    match (seq, hash) {
        (Some(seq), Some(hash)) => Ok(Some((seq, hash))),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} does not hold `SEQ HASH`", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests;
