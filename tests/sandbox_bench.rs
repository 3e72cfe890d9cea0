//! Launch-to-exit of `true` with all isolation on, beside bwrap and unshare (issue 3).
//! A benchmark, not a test: `cargo test --release --test sandbox_bench -- --ignored --nocapture`.
//! bwrap is only measured when installed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 40;

fn median_launch(program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<Duration> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        times.push(started.elapsed());
        if !status.success() {
            return None;
        }
    }
    times.sort();
    Some(times[RUNS / 2])
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn launch_true_beside_bwrap_and_unshare() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let agen = median_launch(
        env!("CARGO_BIN_EXE_agen"),
        &["sandbox", "run", "--", "true"],
        &[("AGEN_DATA_DIR", data_dir), ("RUST_LOG", "warn")],
    )
    .expect("agen sandbox run -- true succeeds");
    let bwrap = median_launch(
        "bwrap",
        &[
            "--unshare-all",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "true",
        ],
        &[],
    );
    let unshare = median_launch("unshare", &["-rnpfmiu", "--mount-proc", "true"], &[]);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("median launch-to-exit of `true` over {RUNS} runs:");
    println!("  agen sandbox run: {}", ms(agen));
    match bwrap {
        Some(b) => println!(
            "  bwrap:            {} (agen/bwrap = {:.2})",
            ms(b),
            agen.as_secs_f64() / b.as_secs_f64()
        ),
        None => println!("  bwrap:            not installed or failed"),
    }
    match unshare {
        Some(u) => println!("  unshare:          {}", ms(u)),
        None => println!("  unshare:          failed"),
    }
}
