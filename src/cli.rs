//! CLI subcommands that read the store.

use crate::store::Store;

/// `agen jobs list [--json]`: reads `DATABASE_URL` only, so it works without App credentials.
pub async fn jobs_list(json: bool) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://agen.db".into());
    let store = Store::open(&url).await?;
    let jobs = store.jobs().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&jobs)?);
        return Ok(());
    }
    println!(
        "{:>5}  {:<10}  {:<30}  {:>6}  {:<9}  {:<16}  {:>5}  {:>6}  created",
        "id", "state", "repo", "issue", "trigger", "requested_by", "round", "pr"
    );
    for j in jobs {
        let pr = j.pr_number.map_or("-".to_string(), |n| format!("#{n}"));
        println!(
            "{:>5}  {:<10}  {:<30}  {:>6}  {:<9}  {:<16}  {:>5}  {:>6}  {}",
            j.id,
            j.state.as_str(),
            j.repo,
            j.issue,
            j.trigger.as_str(),
            j.requested_by,
            j.round,
            pr,
            j.created_at
        );
    }
    Ok(())
}
