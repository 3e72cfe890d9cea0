//! The repository's setup steps (`setup:` and `setup_egress:` in `.github/agen.yml`): run once
//! before the first round with a wider egress list than the agent's, what they write kept for
//! the pipeline and never pushed unless the agent changed it, and a failing step said on the
//! issue with its output.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::jobs::spawn_jobs;
use crate::support::REPO;
use agen::store::jobs::JobState;

const BRANCH: &str = "agen/issue-7-login-test-is-flaky";

/// A plain HTTP server on the host's loopback standing in for a package registry: answers
/// every request with `body` and counts them.
fn registry(body: &'static str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head);
            count.fetch_add(1, Ordering::SeqCst);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, served)
}

#[tokio::test]
async fn setup_reaches_its_own_hosts_and_its_files_serve_the_pipeline_but_are_not_pushed() {
    let (port, served) = registry("dependency v1\n");
    let host = format!("localhost:{port}");
    // The session's NO_PROXY names localhost (the gateway's): unset, so curl uses the proxy.
    let fetch = format!("unset NO_PROXY no_proxy; curl -sSf --max-time 20 http://{host}/dep");
    let yml = format!(
        "setup:\n  - {fetch} -o dependency.txt\n  - printf 'setup rewrote this\\n' > README.md\n\
         setup_egress: [\"{host}\"]\n\
         pipeline:\n  - sh check.sh\n  - grep -q 'dependency v1' dependency.txt\nmax_rounds: 1\n"
    );
    // The agent tries the setup's host too, then does its work.
    let agent = format!(
        "{{ {fetch} || echo \"agent fetch failed: $?\"; }} > agent-fetch.txt 2>&1; \
         printf 'Hello, world!\\n' > greeting.txt"
    );
    let env = spawn_jobs(
        &agent,
        Some(&yml),
        &[
            ("AGEN_EGRESS_ALLOW", host.as_str()),
            ("AGEN_EGRESS_ALLOW_PRIVATE", "127.0.0.0/8"),
        ],
    )
    .await;
    let job = env.run_one().await;
    let log = env.session_log(&job);
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}\n{log}");

    // Setup reached the registry once; the agent's session was refused it.
    assert_eq!(served.load(Ordering::SeqCst), 1, "{log}");
    assert!(
        log.contains(&format!("==> setup: {fetch} -o dependency.txt\n")),
        "{log}"
    );
    assert!(log.contains("egress refused: localhost"), "{log}");
    let fetched = env.sim.file_at(REPO, BRANCH, "agent-fetch.txt").unwrap();
    let fetched = String::from_utf8_lossy(&fetched);
    assert!(fetched.contains("agent fetch failed"), "{fetched}");
    assert!(!fetched.contains("dependency v1"), "{fetched}");

    // The pipeline saw what setup wrote; the pull request holds only the agent's change.
    assert_eq!(
        env.sim.file_at(REPO, BRANCH, "greeting.txt"),
        Some(b"Hello, world!\n".to_vec())
    );
    assert_eq!(env.sim.file_at(REPO, BRANCH, "dependency.txt"), None);
    assert_eq!(
        env.sim.file_at(REPO, BRANCH, "README.md"),
        Some(b"# app\n".to_vec()),
        "setup's rewrite is not pushed"
    );
    assert_eq!(env.pulls().len(), 1);
}

#[tokio::test]
async fn a_failing_setup_step_ends_the_job_with_its_output_on_the_issue() {
    let yml = "setup:\n  - echo 'npm ERR! @mallory missing peer' && exit 3\n\
               pipeline:\n  - sh check.sh\n";
    let env = spawn_jobs("printf 'Hello, world!\\n' > greeting.txt", Some(yml), &[]).await;
    let job = env.run_one().await;
    let log = env.session_log(&job);
    assert_eq!(job.state, JobState::Failed, "{job:#?}\n{log}");
    assert_eq!(job.round, 0, "no round ran");
    let status = env.status_comment(&job);
    assert!(
        status.contains(
            "failed: the setup step `echo 'npm ERR! @mallory missing peer' && exit 3` failed \
             (exit 3)"
        ),
        "{status}"
    );
    // Its output, inert: in a fenced block, so the mention notifies no one.
    assert!(
        status.contains("```text\nnpm ERR! @mallory missing peer\n```"),
        "{status}"
    );
    assert!(env.pulls().is_empty());
    assert!(env.agen_branches().is_empty());
    // Every ending has its check run: on the base commit, saying the setup failed.
    let runs = env.sim.check_runs(REPO);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0]["conclusion"], "failure");
    assert_eq!(runs[0]["output"]["title"], "Setup failed");
    assert!(!log.contains("==> round 1"), "{log}");
}

#[tokio::test]
async fn a_cache_filled_by_setup_serves_the_next_job_and_nothing_a_session_plants_reaches_it() {
    let yml = "setup:\n  - ls -A ~/.cache-test; test -f ~/.cache-test/dep.txt || echo 'v1' > \
               ~/.cache-test/dep.txt\ncache: [\"~/.cache-test\"]\n\
               pipeline:\n  - sh check.sh\n  - grep -q v1 ~/.cache-test/dep.txt\nmax_rounds: 1\n";
    // The agent tries to plant a file in the cache; the pipeline reads what setup put there.
    let agent = "{ echo planted > ~/.cache-test/planted.txt && echo 'agent planted'; } \
                 || echo 'agent could not write the cache'; \
                 printf 'Hello, world!\\n' > greeting.txt";
    let env = spawn_jobs(agent, Some(yml), &[]).await;
    let first = env.run_one().await;
    let log = env.session_log(&first);
    assert_eq!(first.state, JobState::Succeeded, "{first:#?}\n{log}");
    assert!(log.contains("agent could not write the cache"), "{log}");
    assert!(!log.contains("agent planted"), "{log}");

    env.comment("/agen retry", "maintainer").await;
    let second = env.job_ended(2).await;
    let log = env.session_log(&second);
    assert_eq!(second.state, JobState::Succeeded, "{second:#?}\n{log}");
    // The second job's setup found the first one's file, and nothing else.
    let setup = log
        .split("==> setup: ")
        .nth(1)
        .and_then(|s| s.split("\n==> ").next())
        .unwrap_or_default();
    assert!(setup.contains("\ndep.txt"), "{setup}");
    assert!(!setup.contains("planted"), "{setup}");
    // The cache is the repository's, kept under the data directory, and never pushed.
    let caches = env.data_dir().join("caches").join(env.repo_id.to_string());
    assert_eq!(std::fs::read_dir(&caches).unwrap().count(), 1);
    assert_eq!(env.sim.file_at(REPO, BRANCH, "dep.txt"), None);
}
