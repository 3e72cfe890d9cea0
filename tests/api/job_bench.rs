//! Where a job's wall time goes, in a simulator job (issue 4): agen's own share (everything
//! but git, the sandbox and the agent) against the whole. A benchmark, not a test:
//! `cargo test --release --test api job_bench -- --ignored --nocapture`.
//! `AGEN_BENCH_JOBS` sets how many jobs run one after another (default 10).

use std::time::Duration;

use crate::support::jobs::spawn_jobs;
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone, Copy)]
struct Spent {
    total_ms: u64,
    git_ms: u64,
    sandbox_ms: u64,
    agen_ms: u64,
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

async fn bench(name: &str, agent: &str, jobs: usize) {
    let env = spawn_jobs(agent, None, &[]).await;
    let mut spent = Vec::new();
    for n in 1..=jobs {
        env.comment("/agen bench", "maintainer").await;
        let job = env.job_ended(n).await;
        assert!(
            matches!(job.state.as_str(), "succeeded" | "no_changes"),
            "{job:#?}"
        );
        let s: Spent = serde_json::from_str(job.timings.as_deref().unwrap()).unwrap();
        spent.push(s);
        // Let the spare workspace built in the background finish, as between real jobs.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let total = median(spent.iter().map(|s| s.total_ms).collect());
    let git = median(spent.iter().map(|s| s.git_ms).collect());
    let sandbox = median(spent.iter().map(|s| s.sandbox_ms).collect());
    let own = median(spent.iter().map(|s| s.agen_ms).collect());
    let share: Vec<u64> = spent
        .iter()
        .map(|s| s.agen_ms * 1000 / s.total_ms.max(1))
        .collect();
    let share = median(share) as f64 / 10.0;
    println!(
        "job bench ({name}, {jobs} jobs, medians): total {total} ms, git {git} ms, \
         sandbox+agent {sandbox} ms, agen's own {own} ms = {share:.1}% of the wall time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn where_a_jobs_time_goes() {
    let jobs = std::env::var("AGEN_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    bench("no-op agent", "true", jobs).await;
    bench("one-line change", "echo more >> greeting.txt", jobs).await;
}
