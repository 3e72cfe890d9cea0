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
        "{:>5}  {:<10}  {:<30}  {:>6}  {:<9}  {:<16}  created",
        "id", "state", "repo", "issue", "trigger", "requested_by"
    );
    for j in jobs {
        println!(
            "{:>5}  {:<10}  {:<30}  {:>6}  {:<9}  {:<16}  {}",
            j.id,
            j.state.as_str(),
            j.repo,
            j.issue,
            j.trigger.as_str(),
            j.requested_by,
            j.created_at
        );
    }
    Ok(())
}
