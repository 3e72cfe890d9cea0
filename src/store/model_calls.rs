//! Model calls and what they cost: reserved atomically against every cap before they go out,
//! settled when their answer ends, summed for a job, a repository or an installation.

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::budget::{Caps, MicroUsd, Spent, Usage};
use crate::ids::{InstallationId, JobId, RepoId, RepoName};

/// Who a call is charged to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payer {
    pub job: JobId,
    pub repo_id: RepoId,
    pub repo: RepoName,
    pub installation: InstallationId,
    /// The job's agent, by its name in the server's configuration.
    pub agent: String,
}

/// A call about to go out.
#[derive(Clone, Debug)]
pub struct NewCall<'a> {
    pub provider: &'a str,
    pub route: &'a str,
    pub model: &'a str,
    pub reserve: MicroUsd,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub cost: MicroUsd,
    pub usage: Usage,
    pub status: u16,
    pub outcome: &'static str,
    pub duration_ms: i64,
}

/// A job's spend so far: settled calls at their cost, calls in flight at their reservation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct JobSpend {
    pub spend_usd: f64,
    /// The same, exact.
    #[serde(skip)]
    pub spend: MicroUsd,
    pub model_calls: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cpu_seconds: u64,
    /// The job's spend cap, once it started.
    pub budget_usd: Option<f64>,
    #[serde(skip)]
    pub budget: Option<MicroUsd>,
}

/// One row of `agen spend`: spend of a repository (or installation) in a month.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpendRow {
    pub month: String,
    pub installation_id: u64,
    /// Empty when the rows are by installation.
    pub repo: String,
    pub spend_usd: f64,
    #[serde(skip)]
    pub spend: MicroUsd,
    pub model_calls: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// Calls and spend by repository and model, for `/metrics`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpend {
    pub repo: String,
    pub model: String,
    pub calls: u64,
    pub micro: i64,
}

/// What a call counts while in flight or after: its cost once settled, else its reservation.
const CHARGED: &str = "COALESCE(cost_micro, reserved_micro)";

/// The month a call falls in, `YYYY-MM`, UTC.
pub fn month_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m")
        .to_string()
}

impl Store {
    /// What is spent (and held) against each of the payer's caps this month.
    pub async fn spent(&self, payer: &Payer) -> Result<Spent, StoreError> {
        let month = month_of(now_ms());
        let row = sqlx::query(&format!(
            "SELECT
               (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls WHERE job_id = $1) AS job,
               (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls
                 WHERE repo_id = $2 AND month = $4) AS repo,
               (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls
                 WHERE installation_id = $3 AND month = $4) AS installation,
               (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls
                 WHERE agent = $5 AND month = $4) AS agent"
        ))
        .bind(payer.job.0)
        .bind(payer.repo_id.0 as i64)
        .bind(payer.installation.0 as i64)
        .bind(&month)
        .bind(&payer.agent)
        .fetch_one(self.pool())
        .await?;
        Ok(Spent {
            job: MicroUsd(row.try_get("job")?),
            repo_month: MicroUsd(row.try_get("repo")?),
            installation_month: MicroUsd(row.try_get("installation")?),
            agent_month: MicroUsd(row.try_get("agent")?),
        })
    }

    /// Records the call holding `call.reserve`, only if every cap still has room for it: one
    /// statement, so two calls racing for the last of a budget cannot both get it (SQLite runs
    /// writers one at a time; on Postgres this needs SERIALIZABLE or a lock per payer). `None`:
    /// no room any more (the caller decides again from fresh figures).
    pub async fn reserve_call(
        &self,
        payer: &Payer,
        caps: &Caps,
        call: &NewCall<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        let month = month_of(now);
        let row = sqlx::query(&format!(
            "INSERT INTO model_calls (job_id, repo_id, repo, installation_id, month, provider,
                 route, model, reserved_micro, started_at, agent)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $14
             WHERE (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls WHERE job_id = $1)
                     + $9 <= $11
               AND ($12 IS NULL OR (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls
                     WHERE repo_id = $2 AND month = $5) + $9 <= $12)
               AND ($13 IS NULL OR (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls
                     WHERE installation_id = $4 AND month = $5) + $9 <= $13)
               AND ($15 IS NULL OR (SELECT COALESCE(SUM({CHARGED}), 0) FROM model_calls
                     WHERE agent = $14 AND month = $5) + $9 <= $15)
             RETURNING id"
        ))
        .bind(payer.job.0)
        .bind(payer.repo_id.0 as i64)
        .bind(&payer.repo.0)
        .bind(payer.installation.0 as i64)
        .bind(&month)
        .bind(call.provider)
        .bind(call.route)
        .bind(call.model)
        .bind(call.reserve.0)
        .bind(now)
        .bind(caps.job.0)
        .bind(caps.repo_month.map(|m| m.0))
        .bind(caps.installation_month.map(|m| m.0))
        .bind(&payer.agent)
        .bind(caps.agent_month.map(|m| m.0))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Ends a reserved call with what it really cost (which releases the rest of its hold).
    pub async fn settle_call(&self, id: i64, settled: &Settled) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE model_calls SET cost_micro = $1, tokens_in = $2, tokens_out = $3,
                 cache_write = $4, cache_read = $5, status = $6, outcome = $7, duration_ms = $8
             WHERE id = $9 AND cost_micro IS NULL",
        )
        .bind(settled.cost.0)
        .bind(settled.usage.tokens_in() as i64)
        .bind(settled.usage.output as i64)
        .bind(settled.usage.cache_write as i64)
        .bind(settled.usage.cache_read as i64)
        .bind(i64::from(settled.status))
        .bind(settled.outcome)
        .bind(settled.duration_ms)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Calls of `job` left in flight by a worker that died: charged their reservation (what
    /// they may have cost upstream; in flight they counted so already). Run by the worker
    /// that takes the job over, before its first session.
    pub async fn settle_interrupted_calls(&self, job: JobId) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE model_calls SET cost_micro = reserved_micro, outcome = 'interrupted'
             WHERE job_id = $1 AND cost_micro IS NULL",
        )
        .bind(job.0)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// The job's own spend cap, for its reports.
    pub async fn set_job_budget(&self, job: JobId, cap: MicroUsd) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET budget_micro = $1 WHERE id = $2")
            .bind(cap.0)
            .bind(job.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn add_job_cpu(&self, job: JobId, ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET cpu_ms = cpu_ms + $1 WHERE id = $2")
            .bind(ms)
            .bind(job.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn job_spend(&self, job: JobId) -> Result<JobSpend, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT COALESCE(SUM({CHARGED}), 0) AS micro, COUNT(*) AS calls,
                    COALESCE(SUM(tokens_in), 0) AS tin, COALESCE(SUM(tokens_out), 0) AS tout,
                    (SELECT cpu_ms FROM jobs WHERE id = $1) AS cpu,
                    (SELECT budget_micro FROM jobs WHERE id = $1) AS budget
             FROM model_calls WHERE job_id = $1"
        ))
        .bind(job.0)
        .fetch_one(self.pool())
        .await?;
        let spend = MicroUsd(row.try_get("micro")?);
        let budget = row.try_get::<Option<i64>, _>("budget")?.map(MicroUsd);
        Ok(JobSpend {
            spend_usd: spend.as_usd(),
            spend,
            model_calls: row.try_get::<i64, _>("calls")? as u64,
            tokens_in: row.try_get::<i64, _>("tin")? as u64,
            tokens_out: row.try_get::<i64, _>("tout")? as u64,
            cpu_seconds: row.try_get::<Option<i64>, _>("cpu")?.unwrap_or(0).max(0) as u64 / 1000,
            budget_usd: budget.map(MicroUsd::as_usd),
            budget,
        })
    }

    /// Spend by month and repository (or installation, `by_installation`), newest month
    /// first; narrowed to one repository, installation or month when given.
    pub async fn spend_rows(
        &self,
        by_installation: bool,
        repo: Option<&str>,
        installation: Option<u64>,
        month: Option<&str>,
    ) -> Result<Vec<SpendRow>, StoreError> {
        let repo_column = if by_installation { "''" } else { "repo" };
        let rows = sqlx::query(&format!(
            "SELECT month, installation_id, {repo_column} AS repo,
                    SUM({CHARGED}) AS micro, COUNT(*) AS calls,
                    SUM(tokens_in) AS tin, SUM(tokens_out) AS tout
             FROM model_calls
             WHERE ($1 IS NULL OR repo = $1) AND ($2 IS NULL OR installation_id = $2)
               AND ($3 IS NULL OR month = $3)
             GROUP BY month, installation_id, {repo_column}
             ORDER BY month DESC, installation_id, repo"
        ))
        .bind(repo)
        .bind(installation.map(|i| i as i64))
        .bind(month)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let spend = MicroUsd(r.try_get("micro")?);
                Ok(SpendRow {
                    month: r.try_get("month")?,
                    installation_id: r.try_get::<i64, _>("installation_id")? as u64,
                    repo: r.try_get("repo")?,
                    spend_usd: spend.as_usd(),
                    spend,
                    model_calls: r.try_get::<i64, _>("calls")? as u64,
                    tokens_in: r.try_get::<i64, _>("tin")? as u64,
                    tokens_out: r.try_get::<i64, _>("tout")? as u64,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn spend_by_model(&self) -> Result<Vec<ModelSpend>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT repo, model, COUNT(*) AS calls, SUM({CHARGED}) AS micro
             FROM model_calls GROUP BY repo, model ORDER BY repo, model"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ModelSpend {
                    repo: r.try_get("repo")?,
                    model: r.try_get("model")?,
                    calls: r.try_get::<i64, _>("calls")? as u64,
                    micro: r.try_get("micro")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
