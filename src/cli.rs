//! CLI subcommands that read the store.

use serde::Serialize;

use crate::store::jobs::Job;
use crate::store::model_calls::{JobSpend, SpendRow};
use crate::store::Store;

async fn open_store() -> anyhow::Result<Store> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://agen.db".into());
    Ok(Store::open(&url).await?)
}

/// A job with what it spent, as `jobs list --json` prints it.
#[derive(Serialize)]
struct JobLine {
    #[serde(flatten)]
    job: Job,
    #[serde(flatten)]
    spend: JobSpend,
}

/// `agen jobs list [--json]`: reads `DATABASE_URL` only, so it works without App credentials.
pub async fn jobs_list(json: bool) -> anyhow::Result<()> {
    let store = open_store().await?;
    let mut lines = Vec::new();
    for job in store.jobs().await? {
        let spend = store.job_spend(job.id).await?;
        lines.push(JobLine { job, spend });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(());
    }
    println!(
        "{:>5}  {:<15}  {:<30}  {:>6}  {:<9}  {:<16}  {:>5}  {:>6}  {:>9}  created",
        "id", "state", "repo", "issue", "trigger", "requested_by", "round", "pr", "spent"
    );
    for JobLine { job: j, spend } in lines {
        let pr = j.pr_number.map_or("-".to_string(), |n| format!("#{n}"));
        println!(
            "{:>5}  {:<15}  {:<30}  {:>6}  {:<9}  {:<16}  {:>5}  {:>6}  {:>9}  {}",
            j.id,
            j.state.as_str(),
            j.repo,
            j.issue,
            j.trigger.as_str(),
            j.requested_by,
            j.round,
            pr,
            spend.spend.to_string(),
            j.created_at
        );
    }
    Ok(())
}

/// What `agen spend` is asked for.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SpendArgs {
    /// Only this repository (`owner/name`).
    #[arg(long)]
    pub repo: Option<String>,
    /// Only this installation (its id); without --repo, one line per installation.
    #[arg(long)]
    pub installation: Option<u64>,
    /// Only this month (`YYYY-MM`, UTC).
    #[arg(long)]
    pub month: Option<String>,
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `agen spend`: model spend by month and repository (or installation).
pub async fn spend(args: SpendArgs) -> anyhow::Result<()> {
    if let Some(month) = &args.month {
        let valid = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").is_ok();
        if !valid || month.len() != 7 {
            anyhow::bail!("--month {month} is not a month; write it as YYYY-MM, like 2026-12");
        }
    }
    let store = open_store().await?;
    let by_installation = args.installation.is_some() && args.repo.is_none();
    let rows = store
        .spend_rows(
            by_installation,
            args.repo.as_deref(),
            args.installation,
            args.month.as_deref(),
        )
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    print!("{}", spend_table(&rows, by_installation));
    Ok(())
}

fn spend_table(rows: &[SpendRow], by_installation: bool) -> String {
    let what = if by_installation {
        "installation"
    } else {
        "repo"
    };
    let mut out = format!(
        "{:<7}  {:<30}  {:>10}  {:>6}  {:>10}  {:>10}\n",
        "month", what, "spent", "calls", "tokens_in", "tokens_out"
    );
    for row in rows {
        let name = if by_installation {
            row.installation_id.to_string()
        } else {
            row.repo.clone()
        };
        out.push_str(&format!(
            "{:<7}  {:<30}  {:>10}  {:>6}  {:>10}  {:>10}\n",
            row.month,
            name,
            row.spend.to_string(),
            row.model_calls,
            row.tokens_in,
            row.tokens_out
        ));
    }
    if rows.is_empty() {
        out.push_str("(no model calls recorded)\n");
    }
    out
}

/// `agen audit …`: the audit log, read from `DATABASE_URL`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AuditCmd {
    /// Checks the whole chain and the head file; names the first bad entry (exit 1).
    Verify,
    /// Writes entries as JSON lines.
    Export {
        /// Only entries on or after this day (`YYYY-MM-DD`, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Only this repository's (`owner/name`).
        #[arg(long)]
        repo: Option<String>,
    },
    /// The last entries, oldest first.
    Tail {
        /// How many.
        #[arg(short, default_value_t = 20)]
        n: i64,
    },
}

/// Runs `agen audit …`; `false` when `verify` found the chain broken.
pub async fn audit(cmd: AuditCmd) -> anyhow::Result<bool> {
    let store = open_store().await?;
    match cmd {
        AuditCmd::Verify => match store.verify_audit().await? {
            Ok(n) => {
                println!("audit log intact: {n} entries");
                Ok(true)
            }
            Err(broken) => {
                println!("audit log broken at {broken}");
                Ok(false)
            }
        },
        AuditCmd::Export { since, repo } => {
            let since = match since.as_deref() {
                None => None,
                Some(day) => Some(day_start_ms("--since", day)?),
            };
            for entry in store.audit_entries(since, repo.as_deref()).await? {
                println!("{}", serde_json::to_string(&entry)?);
            }
            Ok(true)
        }
        AuditCmd::Tail { n } => {
            for e in store.audit_tail(n).await? {
                let at = chrono::DateTime::from_timestamp_millis(e.at).unwrap_or_default();
                let job = e.job.map(|j| format!(" job {j}")).unwrap_or_default();
                let repo = e.repo.map(|r| format!(" {r}")).unwrap_or_default();
                let actor = e.actor.map(|a| format!(" by @{a}")).unwrap_or_default();
                println!(
                    "{:>6}  {}  {}{repo}{job}{actor}  {}",
                    e.seq,
                    at.format("%Y-%m-%dT%H:%M:%SZ"),
                    e.kind,
                    e.detail
                );
            }
            Ok(true)
        }
    }
}

/// What `agen logs delete` is asked for: one job's log, or a repository's (before a day).
#[derive(Clone, Debug, clap::Args)]
pub struct LogsDeleteArgs {
    /// This job's log.
    #[arg(long, conflicts_with_all = ["repo", "before"])]
    pub job: Option<i64>,
    /// Every log of this repository (`owner/name`).
    #[arg(long, required_unless_present = "job")]
    pub repo: Option<String>,
    /// Only jobs created before this day (`YYYY-MM-DD`, UTC).
    #[arg(long, requires = "repo")]
    pub before: Option<String>,
}

/// `agen logs delete`: removes the logs' bytes under `AGEN_DATA_DIR`, records who and when.
pub async fn logs_delete(args: LogsDeleteArgs) -> anyhow::Result<()> {
    let store = open_store().await?;
    let data = std::env::var("AGEN_DATA_DIR").unwrap_or_else(|_| "agen-data".into());
    let dir = std::path::Path::new(&data).join("logs");
    let jobs = match (args.job, &args.repo) {
        (Some(id), _) => {
            let job = crate::ids::JobId(id);
            if store.job(job).await?.is_none() {
                anyhow::bail!("there is no job {id}; `agen jobs list` shows the jobs");
            }
            vec![job]
        }
        (None, repo) => {
            let before = match args.before.as_deref() {
                None => None,
                Some(day) => Some(day_start_ms("--before", day)?),
            };
            store.jobs_with_logs(repo.as_deref(), before, None).await?
        }
    };
    let (n, bytes) = crate::job::logs::delete(&store, &dir, &jobs, "agen logs delete").await?;
    println!("deleted the session logs of {n} jobs ({bytes} bytes)");
    Ok(())
}

/// The start of `day` (`YYYY-MM-DD`, UTC) in ms, or an error naming `flag`.
fn day_start_ms(flag: &str, day: &str) -> anyhow::Result<i64> {
    Ok(chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| anyhow::anyhow!("{flag} {day} is not a day; write it as YYYY-MM-DD"))?
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis())
}
