//! Attacks on `agen sandbox run`'s root path: agen runs as root (as in CI), the session's PID 1
//! is cloned as root and the command drops to uid 1000 in its own user namespace. Each test
//! fails if the rule it names breaks; each skips, saying so, when not run as root.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const AGEN: &str = env!("CARGO_BIN_EXE_agen");

/// Whether the test can take the root path; prints why not when it cannot.
fn as_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("SKIPPED {test}: agen sandbox run's root path needs root");
    }
    root
}

fn marker() -> String {
    let mut buf = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .unwrap();
    format!("agen-marker-{:016x}", u64::from_le_bytes(buf))
}

/// Runs `agen sandbox run [extra] -- sh -c script` with a fresh data dir (unless `env` sets
/// `AGEN_DATA_DIR`) and `env` added to agen's environment.
fn sandbox_run(extra: &[&str], env: &[(&str, &str)], script: &str) -> Output {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(AGEN);
    command
        .args(["sandbox", "run"])
        .args(extra)
        .args(["--", "sh", "-c", script])
        .env("AGEN_DATA_DIR", data.path())
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn stdout(script: &str) -> String {
    let out = sandbox_run(&[], &[], script);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `field` in the command's /proc/self/status, as printed by `grep`.
fn status_field<'a>(out: &'a str, field: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {out}"))
        .trim()
}

/// A directory removed when dropped (for paths outside the temp dir).
struct Remove(PathBuf);
impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn runs_as_uid_1000_with_no_capabilities_and_no_new_privileges() {
    if !as_root("runs_as_uid_1000_with_no_capabilities_and_no_new_privileges") {
        return;
    }
    let out = stdout(
        "echo uid=$(id -u) gid=$(id -g) groups=$(id -G); \
         grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status; \
         echo end",
    );
    assert!(out.contains("end"), "{out}");
    assert!(out.contains("uid=1000 gid=1000 groups=1000\n"), "{out}");
    assert_eq!(status_field(&out, "Uid"), "1000\t1000\t1000\t1000", "{out}");
    assert_eq!(status_field(&out, "Gid"), "1000\t1000\t1000\t1000", "{out}");
    let groups = status_field(&out, "Groups");
    assert!(
        groups.split_whitespace().all(|g| g == "1000"),
        "supplementary groups: {out}"
    );
    for caps in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            status_field(&out, caps),
            "0000000000000000",
            "{caps}: {out}"
        );
    }
    assert_eq!(status_field(&out, "NoNewPrivs"), "1", "{out}");
}

#[test]
fn cannot_create_a_nested_user_namespace() {
    if !as_root("cannot_create_a_nested_user_namespace") {
        return;
    }
    // Here, outside, it works: the refusal inside is the sandbox's doing.
    let host = Command::new("unshare").args(["-U", "true"]).status();
    assert!(
        host.map(|s| s.success()).unwrap_or(false),
        "unshare -U fails on the host: the test could not tell"
    );
    let out = stdout(
        "command -v unshare >/dev/null && echo HAVE-UNSHARE; \
         unshare -U true 2>/dev/null && echo NESTED-USERNS; \
         unshare -Ur true 2>/dev/null && echo NESTED-USERNS; echo end",
    );
    assert!(out.contains("HAVE-UNSHARE") && out.contains("end"), "{out}");
    assert!(!out.contains("NESTED-USERNS"), "{out}");
}

#[test]
fn cannot_read_the_data_dir_or_the_private_key() {
    if !as_root("cannot_read_the_data_dir_or_the_private_key") {
        return;
    }
    // Both under /etc, which the session shares read-only: only the masks hide them (a temp
    // dir would be hidden anyway, under the session's own /tmp).
    let dir = PathBuf::from(format!("/etc/{}", marker()));
    let _cleanup = Remove(dir.clone());
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let canary = marker();
    std::fs::write(data.join("agen.db"), &canary).unwrap();
    std::fs::write(dir.join("key.pem"), &canary).unwrap();
    std::fs::write(dir.join("other"), &canary).unwrap();
    let script = format!(
        "cat {0}/data/agen.db {0}/key.pem {0}/other 2>/dev/null; \
         ls {0}/data 2>/dev/null | grep -q agen.db && echo LISTED; echo end",
        dir.display()
    );
    let out = sandbox_run(
        &[],
        &[
            ("AGEN_DATA_DIR", data.to_str().unwrap()),
            ("PRIVATE_KEY_PATH", dir.join("key.pem").to_str().unwrap()),
        ],
        &script,
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("end"), "{out}");
    assert!(!out.contains("LISTED"), "the data dir is listable: {out}");
    // The unmasked neighbour shows the canary once: three times if the masks failed, none
    // if /etc were not shared at all.
    assert_eq!(out.matches(&canary).count(), 1, "{out}");
}

#[test]
fn cannot_write_outside_work_and_tmp() {
    if !as_root("cannot_write_outside_work_and_tmp") {
        return;
    }
    let worktree = tempfile::tempdir().unwrap();
    let name = marker();
    let script = format!(
        "for d in /etc /usr /bin /lib / /dev; do touch $d/{name} 2>/dev/null && echo WROTE $d; done; \
         touch /work/{name} && touch /tmp/{name} && echo OK"
    );
    let out = sandbox_run(
        &["--worktree", worktree.path().to_str().unwrap()],
        &[],
        &script,
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(!out.contains("WROTE"), "{out}");
    assert!(out.contains("OK"), "{out}");
    assert!(
        worktree.path().join(&name).exists(),
        "/work is not the worktree"
    );
    for dir in ["/etc", "/usr", "/bin", "/lib", "/"] {
        assert!(
            !Path::new(dir).join(&name).exists(),
            "host {dir} was written"
        );
    }
}

#[test]
fn only_loopback_and_the_hosts_loopback_is_unreachable() {
    if !as_root("only_loopback_and_the_hosts_loopback_is_unreachable") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let out = stdout(&format!(
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sed 's/^/IF=/'; \
         bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo CONNECTED || echo REFUSED"
    ));
    let interfaces: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("IF=")).collect();
    assert_eq!(interfaces, ["lo"], "{out}");
    assert!(
        out.contains("REFUSED") && !out.contains("CONNECTED"),
        "{out}"
    );
    assert!(
        listener.accept().is_err(),
        "the host listener got a connection"
    );
}

#[test]
fn proc_shows_no_host_process() {
    if !as_root("proc_shows_no_host_process") {
        return;
    }
    let mark = marker();
    let mut host = Command::new("sh")
        .args(["-c", &format!("sleep 30; : {mark}")])
        .spawn()
        .unwrap();
    let own = std::process::id();
    let out = stdout(&format!(
        // (Quoted so that the script's own command line, printed below, does not match.)
        "test -e /proc/{own} && echo SEES-'TEST'; test -e /proc/{} && echo SEES-'HOST'; \
         ls /proc | grep -c '^[0-9]*$'; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; echo; echo end",
        host.id()
    ));
    let _ = host.kill();
    let _ = host.wait();
    assert!(out.contains("end"), "{out}");
    assert!(own > 8 && host.id() > 8, "pids too small to tell apart");
    assert!(
        !out.contains("SEES-TEST") && !out.contains("SEES-HOST"),
        "{out}"
    );
    assert!(!out.contains(&mark), "host process visible: {out}");
    let count: usize = out
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    // PID 1, sh, ls and grep (and at most a few more).
    assert!(count <= 6, "sees {count} processes: {out}");
}

#[test]
fn agens_environment_does_not_reach_the_command() {
    if !as_root("agens_environment_does_not_reach_the_command") {
        return;
    }
    let canary = marker();
    let out = sandbox_run(
        &[],
        &[("AGEN_TEST_CANARY", &canary)],
        "env; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'; echo end",
    );
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("end") && out.contains("PATH="), "{out}");
    assert!(!out.contains(&canary), "canary leaked: {out}");
}

/// PID 1 holds the files that take a process into agen's own cgroups, opened as root, to leave
/// the session's groups at the end: the command must not get hold of them (nor of anything
/// else that moves it), or it could leave its memory and process limits behind. With cgroup
/// v2 the files have other names; the test writes to every descriptor and v1 and v2 path.
#[test]
fn the_command_cannot_leave_its_cgroups() {
    if !as_root("the_command_cannot_leave_its_cgroups") {
        return;
    }
    // The v1 controllers agen puts sessions in, where this host has them; else its one
    // cgroup v2 group (the "0::" line; a v2 tree has no controller names there).
    let host = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut controllers: Vec<&str> = ["memory", "pids", "cpuacct"]
        .into_iter()
        .filter(|c| controller_line(&host, c).is_some())
        .collect();
    if controllers.is_empty() {
        controllers.push("");
    }
    let out = stdout(
        // Through each descriptor itself (reopening /proc/self/fd/N would be checked against
        // the command's own credentials), then PID 1's and the cgroup files by path.
        "for n in $(ls /proc/self/fd); do eval \"echo 0 >&$n\"; done 2>/dev/null; \
         for f in /proc/1/fd/*; do echo 0 > $f; done 2>/dev/null; \
         for f in /sys/fs/cgroup/*/tasks /sys/fs/cgroup/tasks /sys/fs/cgroup/cgroup.procs; \
           do echo 0 > $f; done 2>/dev/null; \
         cat /proc/self/cgroup; echo end",
    );
    assert!(out.contains("end"), "{out}");
    for controller in controllers {
        let line = controller_line(&out, controller)
            .unwrap_or_else(|| panic!("no {controller} line in {out}"));
        // The session's cgroup namespace is rooted at its groups: still there reads `/`; any
        // group outside (agen's own, above) would read `/..` and on.
        assert!(line.ends_with(":/"), "left its group: {line}\n{out}");
    }
}

/// The line of /proc/self/cgroup's `text` for v1 `controller` ("": the v2 line).
fn controller_line<'a>(text: &'a str, controller: &str) -> Option<&'a str> {
    text.lines().find(|l| {
        l.split(':')
            .nth(1)
            .is_some_and(|c| c.split(',').any(|c| c == controller))
    })
}
