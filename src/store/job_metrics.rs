//! What `/metrics` tells of jobs, read from the store so every process of one database reports
//! the same: jobs by state (queue depth among them), how long jobs ran and waited in the queue,
//! and how many egress refusals the audit log holds.

use sqlx::Row;

use super::{Store, StoreError};

/// Histogram bounds, in seconds.
pub const BUCKETS: [u64; 9] = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200];

/// A histogram as Prometheus counts it: how many at or below each bound, the total and sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    pub at_or_below: Vec<u64>,
    pub count: u64,
    pub sum_seconds: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobMetrics {
    /// Jobs by state (`queued` is the queue's depth).
    pub by_state: Vec<(String, u64)>,
    /// From start to end, of jobs that ended.
    pub duration: Histogram,
    /// From creation to start, of jobs that started.
    pub queue_wait: Histogram,
    pub egress_refusals: u64,
}

impl Store {
    pub async fn job_metrics(&self) -> Result<JobMetrics, StoreError> {
        let by_state =
            sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state")
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| Ok((r.try_get("state")?, r.try_get::<i64, _>("n")? as u64)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let duration = self
            .histogram(
                "finished_at - started_at",
                "finished_at IS NOT NULL AND started_at IS NOT NULL",
            )
            .await?;
        let queue_wait = self
            .histogram("started_at - created_at", "started_at IS NOT NULL")
            .await?;
        let egress_refusals: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit WHERE kind = 'egress_refused'")
                .fetch_one(self.pool())
                .await?;
        Ok(JobMetrics {
            by_state,
            duration,
            queue_wait,
            egress_refusals: egress_refusals as u64,
        })
    }

    /// `span_ms` (an expression over the jobs table) of the rows where `filter` holds.
    async fn histogram(&self, span_ms: &str, filter: &str) -> Result<Histogram, StoreError> {
        let buckets: Vec<String> = BUCKETS
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!(
                    "COALESCE(SUM(CASE WHEN d <= {} THEN 1 ELSE 0 END), 0) AS b{i}",
                    b * 1000
                )
            })
            .collect();
        let sql = format!(
            "SELECT {}, COUNT(*) AS n, COALESCE(SUM(d), 0) AS total FROM
             (SELECT {span_ms} AS d FROM jobs WHERE {filter})",
            buckets.join(", ")
        );
        let row = sqlx::query(&sql).fetch_one(self.pool()).await?;
        let mut at_or_below = Vec::new();
        for i in 0..BUCKETS.len() {
            at_or_below.push(row.try_get::<i64, _>(format!("b{i}").as_str())? as u64);
        }
        Ok(Histogram {
            at_or_below,
            count: row.try_get::<i64, _>("n")? as u64,
            sum_seconds: row.try_get::<i64, _>("total")? as f64 / 1000.0,
        })
    }
}
