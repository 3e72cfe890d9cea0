//! The default backend: each session is `agen __sandbox-init` in fresh Linux namespaces
//! (see [`super::init`]), watched from here for output, wall clock and stop.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::cgroup::{CgroupSupport, SessionCgroups};
use super::egress::{Allowlist, EgressProxy, EGRESS_PORT_INSIDE};
use super::init::{InitSpec, INIT_ARG, LISTENER_SENT, SETUP_FAILED};
use super::ownership;
use super::session_dir::{sweep_leftovers, SessionLock};
use super::{Outcome, Report, Sandbox, SandboxError, SessionSpec, StopHandle};

/// How often the watcher wakes, at the latest, to check the CPU time and the stop handle
/// (output, the session's end, egress connections and the deadline wake it at once).
const TICK: Duration = Duration::from_millis(50);

/// Once the tree is killed, how long to wait for the last writers to go.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(3);

#[derive(Clone, Debug)]
pub struct NamespacesConfig {
    /// The agen binary to re-execute as the session's init. Defaults to `/proc/self/exe`,
    /// which still names the running binary after an upgrade replaced the file (tests, whose
    /// own executable is not agen, set the path).
    pub agen_exe: PathBuf,
    /// Session directories live under `<base>/sessions/` (normally `AGEN_DATA_DIR`).
    pub base: PathBuf,
    /// Host paths that must never show inside, even if they lie in a shared system directory
    /// (agen's data dir, database, private key).
    pub hide: Vec<PathBuf>,
    /// The host uid/gid sessions run as when agen runs as root.
    pub host_uid: u32,
    /// Hosts the egress proxy lets sessions reach (`AGEN_EGRESS_ALLOW`).
    pub egress_allow: Allowlist,
}

impl NamespacesConfig {
    pub fn new(base: impl Into<PathBuf>) -> NamespacesConfig {
        NamespacesConfig {
            agen_exe: PathBuf::from("/proc/self/exe"),
            base: base.into(),
            hide: Vec::new(),
            host_uid: 100_000,
            egress_allow: Allowlist::default(),
        }
    }
}

pub struct Namespaces {
    config: NamespacesConfig,
    cgroups: CgroupSupport,
}

impl Namespaces {
    /// Prepares the backend: removes leftovers of crashed sessions, finds which cgroup limits
    /// this host allows, and says once which limits are in force.
    pub fn new(mut config: NamespacesConfig) -> Namespaces {
        // Absolute: the init resolves paths after changing its working directory.
        if let Ok(base) = std::path::absolute(&config.base) {
            config.base = base;
        }
        let swept = sweep_leftovers(&config.base);
        if swept > 0 {
            tracing::info!(swept, "removed session directories left by a crash");
        }
        config.hide = config
            .hide
            .iter()
            // Symlinks resolved where the path exists; absolute in any case (it may appear
            // later, e.g. a database created after start-up).
            .map(|p| {
                p.canonicalize()
                    .or_else(|_| std::path::absolute(p))
                    .unwrap_or_else(|_| p.clone())
            })
            .collect();
        let cgroups = CgroupSupport::probe();
        cgroups.sweep_leftovers();
        static ANNOUNCE: Once = Once::new();
        ANNOUNCE.call_once(|| announce(&cgroups));
        Namespaces { config, cgroups }
    }
}

fn announce(cgroups: &CgroupSupport) {
    let cpu = if cgroups.cpuacct.is_some() {
        "CPU time (cgroup v1 cpuacct, whole tree, and RLIMIT_CPU)"
    } else {
        "CPU time (RLIMIT_CPU per process only; no usable cpuacct cgroup)"
    };
    let memory = if cgroups.memory.is_some() {
        "memory (cgroup v1, whole tree)"
    } else {
        "memory (RLIMIT_AS per process only; no usable memory cgroup)"
    };
    let pids = if cgroups.pids.is_some() {
        "processes (cgroup v1 pids, whole tree, and RLIMIT_NPROC)"
    } else {
        "processes (RLIMIT_NPROC only; no usable pids cgroup)"
    };
    tracing::info!(
        "sandbox limits in force: wall clock (agen kills the tree), {cpu}, {memory}, {pids}, \
         file size (RLIMIT_FSIZE), no core dumps; not supported here: cgroup v2, disk quota"
    );
}

impl Sandbox for Namespaces {
    fn run(
        &self,
        spec: &SessionSpec,
        stop: &StopHandle,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<Report, SandboxError> {
        if spec.command.is_empty() {
            return Err(SandboxError::Invalid("empty command".into()));
        }
        let worktree = spec
            .worktree
            .canonicalize()
            .map_err(SandboxError::io(format!(
                "worktree {}",
                spec.worktree.display()
            )))?;
        if !worktree.is_dir() {
            return Err(SandboxError::Invalid(format!(
                "worktree {} is not a directory",
                worktree.display()
            )));
        }
        // SAFETY: geteuid has no arguments.
        let as_root = unsafe { libc::geteuid() } == 0;
        let owner = ownership::owner(&worktree).map_err(SandboxError::io("worktree"))?;

        // The init starts first: the preparations below overlap its start-up (exec and dynamic
        // loading of agen), and it waits for its spec on the control socket.
        let (mut control, child_control) =
            UnixStream::pair().map_err(SandboxError::io("socketpair"))?;
        let (output_r, output_w) = super::sys::pipe().map_err(SandboxError::io("pipe"))?;
        let output_w2 = output_w.try_clone().map_err(SandboxError::io("dup"))?;
        let mut child = Command::new(&self.config.agen_exe)
            .arg(INIT_ARG)
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(child_control)))
            .stdout(Stdio::from(output_w))
            .stderr(Stdio::from(output_w2))
            .spawn()
            .map_err(SandboxError::io(format!(
                "cannot start {}",
                self.config.agen_exe.display()
            )))?;
        // From here on the child must not outlive this function, whatever happens.
        let mut guard = KillOnDrop(&mut child);

        let session = SessionLock::create(&self.config.base)
            .map_err(SandboxError::io("cannot create the session's lock file"))?;
        let cgroups = SessionCgroups::create(
            &self.cgroups,
            &session.id(),
            spec.limits.memory_bytes,
            spec.limits.max_processes,
        )
        .map_err(SandboxError::io("cannot create the session's cgroups"))?;
        let init_spec = InitSpec {
            worktree,
            command: spec.command.clone(),
            env: with_proxy_env(&spec.env),
            limits: spec.limits.clone(),
            hide: self.config.hide.clone(),
            cgroup_tasks: cgroups.tasks_files(),
            host_uid: self.config.host_uid,
            limit_address_space: self.cgroups.memory.is_none(),
            parent_pid: std::process::id(),
        };
        let json =
            serde_json::to_vec(&init_spec).map_err(|e| SandboxError::Setup(e.to_string()))?;
        control
            .write_all(&json)
            .and_then(|()| control.shutdown(Shutdown::Write))
            .map_err(SandboxError::io("sending the session spec"))?;

        let egress = EgressProxy::new(self.session_allowlist(spec));
        let mut result = watch(
            &mut guard,
            &mut control,
            output_r,
            spec,
            &cgroups,
            &egress,
            stop,
            sink,
        );
        // The init is reaped here (killed first if it still runs), and with it the whole tree.
        drop(guard);
        if let Ok(report) = &mut result {
            report.refused_hosts = egress.refused_hosts();
        }
        // In this order: the tree is dead by now, so the groups can go, then the lock.
        drop(egress);
        let emptied = cgroups.remove();
        drop(session);
        // Only once no session process can be left to race the walk: the groups were removed
        // (so empty), or there were none and the reaped init took the tree along.
        if as_root && emptied {
            ownership::chown_tree(&init_spec.worktree, owner.0, owner.1)
                .map_err(SandboxError::io("giving the worktree back"))?;
        }
        result
    }
}

impl Namespaces {
    /// The server's allowlist, narrowed to `spec.egress_only` when that is given.
    fn session_allowlist(&self, spec: &SessionSpec) -> Allowlist {
        let server = &self.config.egress_allow;
        if spec.egress_only.is_empty() {
            return server.clone();
        }
        Allowlist::new(
            spec.egress_only
                .iter()
                .filter(|host| server.allows(host.trim_start_matches("*.")))
                .cloned(),
        )
    }
}

/// Watches a started session to its end: streams its output, serves its egress connections,
/// enforces the wall clock, the whole tree's CPU time and `stop`. Sleeps in poll(2) on the
/// output pipe, the control socket and the egress listener, so each of them wakes it at once.
#[allow(clippy::too_many_arguments)]
fn watch(
    guard: &mut KillOnDrop,
    control: &mut UnixStream,
    output_r: OwnedFd,
    spec: &SessionSpec,
    cgroups: &SessionCgroups,
    egress: &EgressProxy,
    stop: &StopHandle,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<Report, SandboxError> {
    let mut output = Capped::new(spec.limits.output_bytes);
    let mut from_init = FromInit::default();
    let deadline = Instant::now() + spec.limits.wall_clock;
    let cpu_budget = Duration::from_secs(spec.limits.cpu_seconds);
    let mut ended_by: Option<Outcome> = None;
    let mut killed_at: Option<Instant> = None;
    let mut output_open = true;
    let mut control_open = true;
    let mut init_code: Option<i32> = None;
    let mut output_file = std::fs::File::from(output_r);
    loop {
        // Once init has exited the command's own status stands, even at the deadline.
        if ended_by.is_none() && init_code.is_none() {
            let reason = if stop.is_stopped() {
                Some(Outcome::Stopped)
            } else if Instant::now() >= deadline {
                Some(Outcome::TimedOut)
            } else if cgroups.cpu_used().is_some_and(|used| used > cpu_budget) {
                Some(Outcome::CpuTimeExceeded)
            } else {
                None
            };
            if let Some(reason) = reason {
                ended_by = Some(reason);
                killed_at = Some(Instant::now());
                guard.kill();
            }
        }
        if init_code.is_none() {
            if let Some(exit) = guard.0.try_wait().map_err(SandboxError::io("wait"))? {
                init_code = Some(exit.code().unwrap_or(-1));
            }
        }
        if init_code.is_some() && !output_open {
            break;
        }
        if killed_at.is_some_and(|t| t.elapsed() > DRAIN_AFTER_KILL) {
            break;
        }
        if !output_open {
            // Init holds the output pipe until it exits, so after EOF it is about to be
            // reaped: wait for it rather than for the next tick.
            let exit = guard.0.wait().map_err(SandboxError::io("wait"))?;
            init_code = Some(exit.code().unwrap_or(-1));
            continue;
        }
        let timeout = match ended_by {
            None => TICK.min(deadline.saturating_duration_since(Instant::now())),
            Some(_) => TICK,
        };
        let ready = wait_readable(
            [
                Some(output_file.as_raw_fd()),
                control_open.then(|| control.as_raw_fd()),
                from_init.listener.as_ref().map(|l| l.as_raw_fd()),
            ],
            timeout,
        );
        if ready[0] {
            let mut buf = [0u8; 16 * 1024];
            match output_file.read(&mut buf) {
                Ok(0) => output_open = false,
                Ok(n) => output.push(&buf[..n], sink),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SandboxError::io("reading output")(e)),
            }
        }
        if ready[1] {
            control_open = from_init.read(control);
        }
        if ready[2] {
            if let Some(listener) = &from_init.listener {
                egress.accept_all(listener);
            }
        }
    }
    // The status (4 bytes) was written before init exited, so it is all there now.
    if control.set_nonblocking(true).is_ok() {
        while control_open {
            control_open = from_init.read(control);
        }
    }

    let status = from_init
        .bytes
        .strip_prefix(&[LISTENER_SENT])
        .unwrap_or(&from_init.bytes);
    let outcome = match (ended_by, status) {
        (Some(reason), _) => reason,
        (None, &[a, b, c, d]) => decode(i32::from_le_bytes([a, b, c, d])),
        (None, _) if init_code == Some(SETUP_FAILED) => {
            return Err(SandboxError::Setup(
                String::from_utf8_lossy(&output.kept).trim().to_string(),
            ))
        }
        // The whole session was killed before the command's status came back (for
        // instance the memory cgroup's OOM killer picked the reaper).
        (None, _) => Outcome::KilledBySignal(libc::SIGKILL),
    };
    Ok(Report {
        outcome,
        output: output.kept,
        output_truncated: output.truncated,
        refused_hosts: Vec::new(),
    })
}

/// What the session's side sent back on the control socket: the egress listener, then the
/// command's wait status.
#[derive(Default)]
struct FromInit {
    bytes: Vec<u8>,
    listener: Option<TcpListener>,
}

impl FromInit {
    /// Reads what is there; false once the socket is at its end (or broken, or would block).
    fn read(&mut self, control: &UnixStream) -> bool {
        let mut buf = [0u8; 64];
        match super::sys::recv_with_fds(control.as_raw_fd(), &mut buf) {
            Ok((n, fds)) => {
                for fd in fds {
                    if self.listener.is_none() {
                        let listener = TcpListener::from(fd);
                        if listener.set_nonblocking(true).is_ok() {
                            self.listener = Some(listener);
                        }
                    }
                }
                self.bytes.extend_from_slice(&buf[..n]);
                n > 0
            }
            Err(e) => e.kind() == io::ErrorKind::Interrupted,
        }
    }
}

/// Waits up to `timeout` for any of `fds` to be readable (or at its end); which ones are.
fn wait_readable<const N: usize>(fds: [Option<i32>; N], timeout: Duration) -> [bool; N] {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            // A negative descriptor is skipped by poll(2).
            fd: fd.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up, so a deadline a fraction of a millisecond away is not a busy loop.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: a valid array of pollfd of the given length.
    let ret = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, millis) };
    let mut ready = [false; N];
    if ret > 0 {
        for (r, p) in ready.iter_mut().zip(&pfds) {
            *r = p.fd >= 0 && p.revents != 0;
        }
    }
    ready
}

/// The command's environment plus the proxy variables (which override any given).
fn with_proxy_env(env: &[(String, String)]) -> Vec<(String, String)> {
    let proxy = format!("http://127.0.0.1:{EGRESS_PORT_INSIDE}");
    let no_proxy = "localhost,127.0.0.1,::1".to_string();
    let set = [
        ("HTTP_PROXY", &proxy),
        ("HTTPS_PROXY", &proxy),
        ("http_proxy", &proxy),
        ("https_proxy", &proxy),
        ("NO_PROXY", &no_proxy),
        ("no_proxy", &no_proxy),
    ];
    let mut out: Vec<(String, String)> = env
        .iter()
        .filter(|(name, _)| !set.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    out.extend(set.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    out
}

fn decode(status: i32) -> Outcome {
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else {
        Outcome::KilledBySignal(libc::WTERMSIG(status))
    }
}

/// SIGKILLs the init process (and so the whole session) unless it has already been reaped.
struct KillOnDrop<'a>(&'a mut Child);

impl KillOnDrop<'_> {
    fn kill(&mut self) {
        let _ = self.0.kill();
    }
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Output kept up to a cap; everything is still read so the session never blocks on it.
struct Capped {
    kept: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Capped {
    fn new(cap: usize) -> Capped {
        Capped {
            kept: Vec::new(),
            cap,
            truncated: false,
        }
    }

    fn push(&mut self, chunk: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let room = self.cap.saturating_sub(self.kept.len());
        let take = room.min(chunk.len());
        if take > 0 {
            sink(&chunk[..take]);
            self.kept.extend_from_slice(&chunk[..take]);
        }
        if take < chunk.len() {
            self.truncated = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_kept_and_streamed_up_to_the_cap() {
        let mut streamed = Vec::new();
        let mut capped = Capped::new(5);
        capped.push(b"abc", &mut |c: &[u8]| streamed.extend_from_slice(c));
        assert!(!capped.truncated);
        capped.push(b"defg", &mut |c: &[u8]| streamed.extend_from_slice(c));
        capped.push(b"h", &mut |c: &[u8]| streamed.extend_from_slice(c));
        assert_eq!(capped.kept, b"abcde");
        assert_eq!(streamed, b"abcde");
        assert!(capped.truncated);
    }

    #[test]
    fn proxy_variables_override_the_callers() {
        let env = vec![
            ("HTTPS_PROXY".to_string(), "http://evil:1".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let env = with_proxy_env(&env);
        let get = |k: &str| {
            env.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("HTTPS_PROXY"), ["http://127.0.0.1:3128"]);
        assert_eq!(get("PATH"), ["/bin"]);
        assert_eq!(get("no_proxy"), ["localhost,127.0.0.1,::1"]);
    }

    #[test]
    fn wait_statuses_decode_to_outcomes_and_shell_codes() {
        assert_eq!(decode(3 << 8), Outcome::Exited(3));
        assert_eq!(
            decode(libc::SIGKILL),
            Outcome::KilledBySignal(libc::SIGKILL)
        );
        assert_eq!(Outcome::Exited(3).exit_code(), 3);
        assert_eq!(Outcome::KilledBySignal(9).exit_code(), 137);
        assert_eq!(Outcome::TimedOut.exit_code(), 124);
    }
}
