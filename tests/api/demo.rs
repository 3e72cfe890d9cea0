//! README command number one works: `agen demo` runs the whole flow against the simulator,
//! offline, and ends with a pull request whose check passed.

#[test]
fn demo_runs_the_whole_flow_and_exits_zero() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_agen"))
        .arg("demo")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "the signed webhook is answered 202",
        "job 1: succeeded on demo-org/hello#1, requested by @octo-maintainer, 1 round(s)",
        "pull request #2: agen: Greet the world",
        "agen/issue-1-greet-the-world → main, review requested from octo-maintainer",
        "-Hello\n+Hello, world!",
        "check run `agen` on ",
        ": completed / success",
        "PATCH /repos/demo-org/hello/issues/comments/",
        "POST /demo-org/hello.git/git-receive-pack",
        // The agent asked the simulated model through the gateway, holding no key.
        "model call POST /v1/messages with agen's key, added outside the sandbox",
        "spent: $0.0002 of $0.50 · 1 model call",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
