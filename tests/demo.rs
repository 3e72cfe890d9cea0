//! README command number one works: `agen demo` runs the flow against the simulator, offline.

#[test]
fn demo_runs_the_flow_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agen"))
        .arg("demo")
        .env_clear()
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("the signed webhook is answered 202"),
        "{stdout}"
    );
    assert!(
        stdout.contains("job 1: queued on demo-org/hello#1, requested by @octo-maintainer"),
        "{stdout}"
    );
    assert!(
        stdout.contains("POST /repos/demo-org/hello/issues/1/comments"),
        "{stdout}"
    );
}
