//! Jobs end to end: the simulated repository is a real git repository served over smart
//! HTTP, agen runs one worker, and agents are small shell scripts run in the real sandbox.

use std::time::{Duration, Instant};

use agen::store::jobs::Job;

use super::{seeded_sim, spawn_with, Env, REPO};

pub const CHECK: &str = include_str!("../../../fixtures/demo-repo/check.sh");
/// Passes the demo repository's check.
pub const GOOD_AGENT: &str = "printf 'Hello, world!\\n' > greeting.txt";
pub const PIPELINE: &str = "pipeline:\n  - sh check.sh\nmax_rounds: 2\n";

/// The repository's files: `README.md`, `greeting.txt` ("Hello"), `check.sh` (passes once
/// greeting.txt says "world"), and `.github/agen.yml` when given.
pub async fn spawn_jobs(agent: &str, agen_yml: Option<&str>, extra: &[(&str, &str)]) -> Env {
    let (sim, repo_id) = seeded_sim().await;
    seed_repo(&sim, agen_yml);
    let mut pairs = vec![
        ("AGEN_WORKERS", "1"),
        ("AGEN_AGENT_COMMAND", agent),
        ("AGEN_JOB_LEASE_SECONDS", "2"),
    ];
    pairs.extend_from_slice(extra);
    spawn_with(sim, repo_id, &pairs).await
}

/// Makes the test repository a git repository with the demo's files.
pub fn seed_repo(sim: &agen::sim::Simulator, agen_yml: Option<&str>) {
    let files = tempfile::tempdir().unwrap();
    let root = files.path();
    std::fs::write(root.join("README.md"), "# app\n").unwrap();
    std::fs::write(root.join("greeting.txt"), "Hello\n").unwrap();
    std::fs::write(root.join("check.sh"), CHECK).unwrap();
    if let Some(yml) = agen_yml {
        std::fs::create_dir_all(root.join(".github")).unwrap();
        std::fs::write(root.join(".github/agen.yml"), yml).unwrap();
    }
    sim.seed_git_repo(REPO, root).unwrap();
}

impl Env {
    /// A maintainer labels the test issue `agen`; agen takes the delivery (202).
    pub async fn label_issue(&self) {
        assert_eq!(
            self.send("issues", self.labeled_payload("agen", "maintainer"))
                .await,
            202
        );
    }

    /// Labels the test issue and waits for the job that starts; returns it.
    pub async fn run_one(&self) -> Job {
        self.label_issue().await;
        self.job_ended(1).await
    }

    /// The job's session log (`logs/job-{id}.log` in the data directory).
    pub fn session_log(&self, job: &Job) -> String {
        let path = self.data_dir().join(format!("logs/job-{}.log", job.id));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The default branch's head.
    pub fn main_sha(&self) -> String {
        self.sim.git_ref(REPO, "refs/heads/main").unwrap()
    }

    /// Waits until there are `n` jobs and job `n` has ended and its worker is done with it
    /// (it records the job's timings last); returns it. The audit log verifies by then.
    pub async fn job_ended(&self, n: usize) -> Job {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let jobs = self.jobs().await;
            if jobs.len() >= n && jobs[n - 1].timings.is_some() {
                let verified = self.app.store.verify_audit().await.unwrap();
                assert!(
                    verified.is_ok(),
                    "the audit log does not verify: {verified:?}"
                );
                return jobs[n - 1].clone();
            }
            assert!(Instant::now() < deadline, "job {n} did not end: {jobs:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The kinds of the audit log's entries about `job`, in order.
    pub async fn audit_kinds(&self, job: &Job) -> Vec<String> {
        let entries = self.app.store.audit_entries(None, None).await.unwrap();
        entries
            .into_iter()
            .filter(|e| e.job == Some(job.id.0))
            .map(|e| e.kind)
            .collect()
    }

    /// Waits until job `n` is running round `round`.
    pub async fn job_in_round(&self, n: usize, round: i64) {
        self.wait_until("job running", || async {
            let jobs = self.jobs().await;
            jobs.len() >= n && jobs[n - 1].round >= round
        })
        .await;
    }

    /// The job's status comment, with times and shas made stable.
    pub fn status_comment(&self, job: &Job) -> String {
        let id = job.status_comment_id.expect("status comment").0;
        let body = self
            .sim
            .comments(REPO, super::ISSUE)
            .into_iter()
            .find(|c| c.id == id)
            .expect("status comment on the issue")
            .body;
        stable(&body)
    }

    /// Pull requests agen opened, as the API returns them.
    pub fn pulls(&self) -> Vec<serde_json::Value> {
        self.sim.pulls(REPO)
    }

    /// Branches under `agen/`, with their shas.
    pub fn agen_branches(&self) -> Vec<String> {
        let dir = self.sim.git_dir(REPO).unwrap();
        let out = std::process::Command::new("git")
            .args(["for-each-ref", "--format=%(refname)", "refs/heads/agen/"])
            .current_dir(dir)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Replaces durations (`12s`, `1m 05s`) with `<time>` and 40-hex shas with `<sha>`.
pub fn stable(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let is_min =
            w.len() > 1 && w.ends_with('m') && w[..w.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if is_min && words.get(i + 1).is_some_and(|n| seconds_len(n).is_some()) {
            let next = words[i + 1];
            out.push(format!("<time>{}", &next[seconds_len(next).unwrap()..]));
            i += 2;
            continue;
        }
        out.push(match seconds_len(w) {
            Some(n) => format!("<time>{}", &w[n..]),
            None => w.to_string(),
        });
        i += 1;
    }
    let joined = out.join(" ");
    hide_shas(&hide_page_links(&joined))
}

/// The job page's signed link (its expiry and signature change every run) as `<job page>`.
fn hide_page_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("[Job page](") {
        let open = start + "[Job page](".len();
        let Some(len) = rest[open..].find(')') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str("<job page>");
        rest = &rest[open + len..];
    }
    out.push_str(rest);
    out
}

/// `Ns` at the start of `word` (digits then `s`, then punctuation or nothing): its length.
fn seconds_len(word: &str) -> Option<usize> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &word[digits..];
    (digits > 0 && rest.starts_with('s') && !rest[1..].starts_with(|c: char| c.is_alphanumeric()))
        .then_some(digits + 1)
}

fn hide_shas(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
            continue;
        }
        if run.len() == 40 {
            out.push_str("<sha>");
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}
