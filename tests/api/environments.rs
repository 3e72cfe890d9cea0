//! The repository's toolchain in every session: host directories shown read-only
//! (`AGEN_SANDBOX_MOUNTS`), `AGEN_SANDBOX_PATH` and `AGEN_SANDBOX_ENV`, proven with a real
//! Rust crate whose pipeline is `cargo test --offline`.

use std::path::Path;

use crate::support::{seeded_sim, spawn_with, Env, REPO};

const RUST_PIPELINE: &str = "pipeline:\n  - cargo test --offline\nmax_rounds: 1\n";
const AGENT: &str = "printf 'notes\\n' > NOTES.md";

/// A crate with no dependencies and one test.
fn seed_crate(sim: &agen::sim::Simulator, agen_yml: &str) {
    let files = tempfile::tempdir().unwrap();
    let root = files.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::create_dir(root.join("src")).unwrap();
    std::fs::write(
        root.join("src/lib.rs"),
        "pub fn two() -> u32 { 2 }\n\n#[test]\nfn two_is_two() { assert_eq!(two(), 2); }\n",
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), "/target\n").unwrap();
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::write(root.join(".github/agen.yml"), agen_yml).unwrap();
    sim.seed_git_repo(REPO, root).unwrap();
}

/// Where rustup keeps toolchains on this host, if it is the usual /root layout.
fn host_rustup() -> Option<&'static str> {
    let there =
        Path::new("/root/.cargo/bin/cargo").is_file() && Path::new("/root/.rustup").is_dir();
    if !there {
        eprintln!("SKIPPED: no rustup toolchain at /root/.rustup and /root/.cargo on this host");
    }
    there.then_some("/root")
}

const TOOLCHAIN: [(&str, &str); 3] = [
    ("AGEN_SANDBOX_MOUNTS", "/root/.rustup,/root/.cargo"),
    ("AGEN_SANDBOX_PATH", "/root/.cargo/bin"),
    (
        "AGEN_SANDBOX_ENV",
        "RUSTUP_HOME=/root/.rustup,CARGO_HOME=/tmp/cargo-home,CARGO_TARGET_DIR=/tmp/target",
    ),
];

async fn crate_job(extra: &[(&str, &str)]) -> (Env, agen::store::jobs::Job) {
    let (sim, repo_id) = seeded_sim().await;
    seed_crate(&sim, RUST_PIPELINE);
    let mut pairs = vec![
        ("AGEN_WORKERS", "1"),
        ("AGEN_AGENT_COMMAND", AGENT),
        ("AGEN_JOB_LEASE_SECONDS", "2"),
    ];
    pairs.extend_from_slice(extra);
    let env = spawn_with(sim, repo_id, &pairs).await;
    env.label_issue().await;
    let job = env.job_ended(1).await;
    (env, job)
}

fn check_output(env: &Env) -> String {
    let runs = env.sim.check_runs(REPO);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    format!(
        "{} {}",
        runs[0]["conclusion"].as_str().unwrap_or_default(),
        runs[0]["output"]["text"].as_str().unwrap_or_default()
    )
}

#[tokio::test]
async fn cargo_test_passes_with_the_host_toolchain_mounted() {
    if host_rustup().is_none() {
        return;
    }
    let (env, job) = crate_job(&TOOLCHAIN).await;
    assert_eq!(job.state.as_str(), "succeeded", "{job:#?}");
    let output = check_output(&env);
    assert!(output.starts_with("success"), "{output}");
}

#[tokio::test]
async fn without_the_mount_cargo_is_not_found() {
    if host_rustup().is_none() {
        return;
    }
    let (env, job) = crate_job(&TOOLCHAIN[1..]).await;
    assert_eq!(job.state.as_str(), "failed", "{job:#?}");
    let output = check_output(&env);
    assert!(output.starts_with("failure"), "{output}");
    assert!(output.contains("sh: 1: cargo: not found"), "{output}");
    let body = env.pulls()[0]["body"].as_str().unwrap().to_string();
    assert!(
        body.contains("**Pipeline:** `cargo test --offline` failed (exit 127)."),
        "{body}"
    );
}

#[test]
fn a_mount_of_the_data_dir_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agen"))
        .arg("serve")
        .env_clear()
        .env("APP_ID", "1")
        .env(
            "PRIVATE_KEY",
            include_str!("../../fixtures/demo-app-key.pem"),
        )
        .env("WEBHOOK_SECRET", "s")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/agen.db", dir.path().display()),
        )
        .env("AGEN_LISTEN", "127.0.0.1:0")
        .env("AGEN_DATA_DIR", &data)
        .env("AGEN_SANDBOX_MOUNTS", format!("/usr,{}", data.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let data = data.canonicalize().unwrap();
    let expected = format!(
        "config: AGEN_SANDBOX_MOUNTS names {0}, which would show {0} (agen's data, database, \
         key or config) to sessions",
        data.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("AGEN_SANDBOX_MOUNTS"))
            .count(),
        1,
        "{stderr}"
    );
}
