//! Launch-to-exit of `true` with all isolation on, beside bwrap and unshare (issue 3), and
//! with a system root of its own (a static busybox, as an unpacked image would be) in place
//! of the host's (issue 15: the target is within 10 % of the host root).
//! A benchmark, not a test:
//! `cargo test --release --test api sandbox_bench -- --ignored --nocapture`.
//! Runs are interleaved so that load from elsewhere on the machine hits all three alike;
//! bwrap is only measured when installed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 60;

struct Contender {
    name: &'static str,
    program: String,
    args: Vec<String>,
    times: Vec<Duration>,
}

impl Contender {
    fn new(name: &'static str, program: &str, args: &str) -> Contender {
        Contender {
            name,
            program: program.to_string(),
            args: args.split_whitespace().map(str::to_string).collect(),
            times: Vec::new(),
        }
    }

    /// One launch; false when the program is missing or fails.
    fn launch(&mut self, data_dir: &str) -> bool {
        let started = Instant::now();
        let ok = Command::new(&self.program)
            .args(&self.args)
            .env("AGEN_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        self.times.push(started.elapsed());
        ok
    }

    fn median(&mut self) -> Duration {
        self.times.sort();
        self.times[self.times.len() / 2]
    }
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn launch_true_beside_bwrap_and_unshare() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let system = busybox_root(data.path());
    let mut contenders = [
        Contender::new("agen sandbox run", env!("CARGO_BIN_EXE_agen"), "sandbox run -- true"),
        Contender::new(
            "agen, image root",
            env!("CARGO_BIN_EXE_agen"),
            &format!("sandbox run --system {system} -- true"),
        ),
        Contender::new(
            "bwrap",
            "bwrap",
            "--unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp true",
        ),
        Contender::new("unshare", "unshare", "-rnpfmiu --mount-proc true"),
    ];
    let mut working = [true; 4];
    for _ in 0..RUNS {
        for (contender, ok) in contenders.iter_mut().zip(working.iter_mut()) {
            if *ok {
                *ok = contender.launch(data_dir);
            }
        }
    }
    assert!(working[0], "agen sandbox run -- true failed");
    println!("median launch-to-exit of `true` over {RUNS} interleaved runs:");
    let agen = contenders[0].median();
    for (contender, ok) in contenders.iter_mut().zip(working) {
        if !ok {
            println!("  {:18} not installed or failed", contender.name);
            continue;
        }
        let median = contender.median();
        println!(
            "  {:18} {:6.1} ms   (agen / this = {:.2})",
            contender.name,
            median.as_secs_f64() * 1000.0,
            agen.as_secs_f64() / median.as_secs_f64()
        );
    }
}

/// A root of a static busybox and its applets under `dir` (as an unpacked image would be);
/// an empty one when busybox is not installed (then that launch fails and is said so).
fn busybox_root(dir: &std::path::Path) -> String {
    let root = dir.join("busybox-root");
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    if let Some(busybox) = ["/usr/bin/busybox", "/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
    {
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", bin.join("true")).unwrap();
    }
    root.to_str().unwrap().to_string()
}
