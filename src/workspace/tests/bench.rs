//! Benchmark (ignored by default; `benches/workspace.sh` runs it): on a generated
//! 5,000-file repository served over HTTP by `git http-backend`, "workspace ready" from a
//! warm mirror against a plain `git clone --depth 1`. Reports times and their ratio; asserts
//! nothing about time.
//!
//! `AGEN_BENCH_DIR` puts the data dir and the clones on another filesystem (e.g. a tmpfs),
//! `AGEN_BENCH_FILES` and `AGEN_BENCH_ROUNDS` change the size and the number of rounds.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::super::{GitToken, Workspaces};
use super::support::{git, HttpGit};
use crate::ids::{JobId, RepoId};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `files` source-like text files (20–200 lines of pseudo-random words) in 350 directories,
/// committed once, then five small commits on top; served from `<dir>/served/repo.git`.
fn generate(dir: &Path, files: usize) -> String {
    let src = dir.join("gen");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let words: Vec<String> = (0..3000)
        .map(|_| {
            let len = 2 + next() % 9;
            (0..len)
                .map(|_| (b'a' + (next() % 26) as u8) as char)
                .collect()
        })
        .collect();
    let path = |i: usize| format!("src/m{:02}/s{}/f{i}.rs", i % 50, i % 7);
    for i in 0..files {
        let file = src.join(path(i));
        let sub = file.parent().unwrap();
        std::fs::create_dir_all(sub).unwrap();
        let mut text = String::new();
        for _ in 0..20 + next() % 180 {
            for w in 0..3 + next() % 10 {
                text.push_str(if w == 0 { "" } else { " " });
                text.push_str(&words[(next() % 3000) as usize]);
            }
            text.push('\n');
        }
        std::fs::write(file, text).unwrap();
    }
    git(&src, &["init", "-q", "-b", "main"]);
    git(&src, &["add", "-A"]);
    git(&src, &["commit", "-q", "-m", "generated"]);
    for round in 0..5 {
        std::fs::write(src.join(path(round * 3 % files)), format!("{round}\n")).unwrap();
        git(&src, &["commit", "-q", "-am", &format!("change {round}")]);
    }
    let served = dir.join("served/repo.git");
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            src.to_str().unwrap(),
            served.to_str().unwrap(),
        ],
    );
    git(&served, &["gc", "-q"]);
    git(&src, &["rev-parse", "HEAD"])
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[test]
#[ignore = "benchmark: run by benches/workspace.sh"]
fn bench_workspace_ready_vs_shallow_clone() {
    let base_dir = std::env::var_os("AGEN_BENCH_DIR").map(std::path::PathBuf::from);
    let tmp = match &base_dir {
        Some(dir) => tempfile::tempdir_in(dir).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let (files, rounds) = (
        env_number("AGEN_BENCH_FILES", 5000),
        env_number("AGEN_BENCH_ROUNDS", 5),
    );
    let sha = generate(tmp.path(), files);
    let server = HttpGit::start(&tmp.path().join("served"), None);
    let url = format!("{}/repo.git", server.base_url);
    let plain = Workspaces::new(tmp.path().join("plain"))
        .unwrap()
        .without_spares();
    let spared = Workspaces::new(tmp.path().join("spared")).unwrap();
    let token = GitToken::new("bench-token");
    let prepare = |ws: &Workspaces, job: i64| {
        let start = Instant::now();
        let job = ws
            .prepare(RepoId(1), JobId(job), &url, &token, &sha)
            .unwrap();
        (job, start.elapsed())
    };

    let cold = prepare(&plain, 0).1;
    drop(prepare(&spared, 0));
    spared.wait_for_spares();
    let mut t = [(); 5].map(|_| Vec::new());
    for round in 1..=rounds {
        let target = tmp.path().join(format!("clone-{round}"));
        let start = Instant::now();
        let status = Command::new("git")
            .args(["clone", "-q", "--depth", "1", &url])
            .arg(&target)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .unwrap();
        t[0].push(start.elapsed());
        assert!(status.success());
        std::fs::remove_dir_all(&target).unwrap();

        let (job, took) = prepare(&plain, round as i64);
        t[1].push(took);
        let start = Instant::now();
        drop(job);
        t[2].push(start.elapsed());

        let (job, took) = prepare(&spared, round as i64);
        t[3].push(took);
        let start = Instant::now();
        spared.wait_for_spares();
        t[4].push(start.elapsed());
        drop(job);
    }
    let [clone, built, removal, from_spare, refill] = t.map(median);
    let ratio = |d: Duration| d.as_secs_f64() / clone.as_secs_f64();
    println!(
        "workspace bench: {files} files, {rounds} rounds (medians), dir {}",
        tmp.path().display()
    );
    println!(
        "  git clone --depth 1 over HTTP:             {}",
        secs(clone)
    );
    println!(
        "  workspace ready, warm mirror, from spare:  {}  ratio {:.2}",
        secs(from_spare),
        ratio(from_spare)
    );
    println!(
        "  workspace ready, warm mirror, built:       {}  ratio {:.2}",
        secs(built),
        ratio(built)
    );
    println!(
        "  workspace ready, cold mirror (once):       {}",
        secs(cold)
    );
    println!(
        "  spare rebuilt in the background:           {}",
        secs(refill)
    );
    println!(
        "  workspace removal:                         {}",
        secs(removal)
    );
}
