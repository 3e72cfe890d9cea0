//! The default backend: each session is `agen __sandbox-init` in fresh Linux namespaces
//! (see [`super::init`]), watched from here for output, wall clock and stop.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::cgroup::{CgroupSupport, SessionCgroups};
use ipnet::IpNet;

use super::egress::{Allowlist, EgressProxy, EGRESS_PORT_INSIDE, HEAD_DEADLINE};
use super::init::{self, InitSpec, INIT_ARG, LISTENER_SENT, MAX_SERVICES, SETUP_FAILED};
use super::ownership;
use super::{
    LocalService, Outcome, Program, Report, Sandbox, SandboxError, SessionSpec, StopHandle,
    PROGRAMS_INSIDE, WORKTREE_INSIDE,
};

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
    /// Host paths that must never show inside, even if they lie in a shared system directory
    /// (agen's data dir, database, private key).
    pub hide: Vec<PathBuf>,
    /// Host directories shown read-only (nosuid, nodev) at the same path in every session
    /// (`AGEN_SANDBOX_MOUNTS`: toolchains such as `/root/.rustup`). Each must be an absolute
    /// path to a directory, outside the places the session mounts itself ([`reserved_inside`]).
    pub mounts: Vec<PathBuf>,
    /// The host uid/gid sessions run as when agen runs as root.
    pub host_uid: u32,
    /// Hosts the egress proxy lets sessions reach (`AGEN_EGRESS_ALLOW`).
    pub egress_allow: Allowlist,
    /// Non-public address ranges the egress proxy may still connect to
    /// (`AGEN_EGRESS_ALLOW_PRIVATE`); by default none: an allowed name that resolves to a
    /// loopback, private or link-local address is refused.
    pub egress_allow_private: Vec<IpNet>,
    /// Return as soon as the session's PID 1 has reported the command's status, having
    /// killed and reaped the rest and left the session's cgroups, which then prove empty: kill
    /// it and leave it unreaped, without waiting for its exit (the teardown of its
    /// namespaces), as bwrap does. It stays a zombie until agen exits: for `agen sandbox
    /// run`, whose one session ends with it. (Left in the groups, the zombie would keep a
    /// charge in the pooled pids group, against the next session, until the host's init
    /// reaps it, which some hosts do late.) Anything else (no cgroups, a move that fails, a
    /// process left) takes the usual path.
    pub leave_init: bool,
}

impl Default for NamespacesConfig {
    fn default() -> NamespacesConfig {
        NamespacesConfig {
            agen_exe: PathBuf::from("/proc/self/exe"),
            hide: Vec::new(),
            mounts: Vec::new(),
            host_uid: 100_000,
            egress_allow: Allowlist::default(),
            egress_allow_private: Vec::new(),
            leave_init: false,
        }
    }
}

pub struct Namespaces {
    config: NamespacesConfig,
    cgroups: CgroupSupport,
}

impl Namespaces {
    /// Prepares the backend: finds which cgroup limits this host allows, and says once which
    /// limits are in force. Sessions leave nothing on the host (see the module's docs), so
    /// there are no crash leftovers to sweep; job worktrees are the workspaces' to sweep.
    pub fn new(mut config: NamespacesConfig) -> Namespaces {
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
        static ANNOUNCE: Once = Once::new();
        ANNOUNCE.call_once(|| announce(&cgroups));
        Namespaces { config, cgroups }
    }
}

fn announce(cgroups: &CgroupSupport) {
    let v = if cgroups.v2 { "v2" } else { "v1" };
    let cpu = if cgroups.cpuacct.is_some() {
        format!("CPU time (cgroup {v}, whole tree, and RLIMIT_CPU)")
    } else {
        "CPU time (RLIMIT_CPU per process only; no usable cgroup)".to_string()
    };
    let memory = if cgroups.memory.is_some() {
        format!("memory (cgroup {v}, whole tree)")
    } else {
        "memory (RLIMIT_AS per process only; no usable memory cgroup)".to_string()
    };
    let pids = if cgroups.pids.is_some() {
        format!("processes (cgroup {v}, whole tree, and RLIMIT_NPROC)")
    } else {
        "processes (RLIMIT_NPROC only; no usable pids cgroup)".to_string()
    };
    tracing::info!(
        "sandbox limits in force: wall clock (agen kills the tree), {cpu}, {memory}, {pids}, \
         file size (RLIMIT_FSIZE), no core dumps; not supported: disk quota"
    );
    tracing::info!("sandbox system calls: {}", super::seccomp::summary());
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
        let services = service_ports(&spec.services)?;
        // SAFETY: geteuid has no arguments.
        let as_root = unsafe { libc::geteuid() } == 0;
        let programs = host_programs(&spec.programs, as_root)?;
        // The init starts first and sets up what it can (its network namespace and egress
        // listener) while agen prepares the rest (the spec, the cgroups); it goes on at the
        // go. On any error below, `started` going out of scope kills it.
        let started = Started::new(&self.config.agen_exe)?;
        let worktree = spec.worktree.as_deref().map(host_worktree).transpose()?;
        let owner = match (&worktree, as_root) {
            (Some(dir), true) => Some(ownership::owner(dir).map_err(SandboxError::io("worktree"))?),
            _ => None,
        };
        let cgroups = SessionCgroups::claim(&self.cgroups)
            .map_err(SandboxError::io("cannot take cgroups for the session"))?;
        let init_spec = InitSpec {
            worktree,
            command: spec.command.clone(),
            env: with_proxy_env(&spec.env),
            limits: spec.limits.clone(),
            hide: self.config.hide.clone(),
            mounts: host_mounts(&self.config.mounts)?,
            mount_sources: Vec::new(),
            cgroup_tasks: cgroups.tasks_files(),
            cgroup_home: self.cgroups.home.clone(),
            host_uid: self.config.host_uid,
            limit_address_space: self.cgroups.memory.is_none(),
            parent_pid: std::process::id(),
            leave_first: self.config.leave_init,
            services,
            programs,
        };
        cgroups
            .set_limits(spec.limits.memory_bytes, spec.limits.max_processes)
            .map_err(SandboxError::io("cannot set the session's cgroup limits"))?;
        started.send_spec(&init_spec)?;
        started.go()?;
        let egress = EgressProxy::new(
            self.session_allowlist(spec),
            self.config.egress_allow_private.clone(),
            HEAD_DEADLINE,
        );
        let leave_init = self.config.leave_init;
        let mut result = started.watch(spec, &cgroups, &egress, stop, sink, leave_init);
        let mut left = false;
        if let Ok((report, init_left)) = &mut result {
            report.refused_hosts = egress.refused_hosts();
            left = *init_left;
        }
        // In this order: the tree is dead by now (`watch` reaped the init, killing it first if
        // need be), so the groups go back to the pool once empty.
        drop(egress);
        // A left init was moved out of the groups, which were then empty, and killed.
        let emptied = left || cgroups.wait_empty();
        if let Ok((report, _)) = &mut result {
            report.cpu_time = cgroups.cpu_used();
        }
        drop(cgroups);
        // Only once no session process can be left to race the walk: the groups were found
        // empty, or there were none and the reaped init took the tree along.
        if let (Some(dir), Some((uid, gid)), true) = (&init_spec.worktree, owner, emptied) {
            ownership::chown_tree(dir, uid, gid)
                .map_err(SandboxError::io("giving the worktree back"))?;
        }
        result.map(|(report, _)| report)
    }
}

/// The services' ports, as the init gets them: each a real port, none the egress proxy's, none
/// given twice.
fn service_ports(services: &[LocalService]) -> Result<Vec<u16>, SandboxError> {
    if services.len() > MAX_SERVICES {
        return Err(SandboxError::Invalid(format!(
            "{} services: at most {MAX_SERVICES} per session",
            services.len()
        )));
    }
    let mut ports = Vec::with_capacity(services.len());
    for service in services {
        let port = service.port;
        let problem = if port == 0 {
            Some("port 0 cannot be served".to_string())
        } else if port == EGRESS_PORT_INSIDE {
            Some(format!("port {port} is the egress proxy's"))
        } else if ports.contains(&port) {
            Some(format!("port {port} is given twice"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(SandboxError::Invalid(format!("service: {problem}")));
        }
        ports.push(port);
    }
    Ok(ports)
}

/// The programs, as the init gets them: each name a plain file name, given once; each host
/// path resolved, a regular file that the session's uid may execute (as root, the sessions
/// run as an unprivileged host uid: "others" must be allowed to).
fn host_programs(programs: &[Program], as_root: bool) -> Result<Vec<Program>, SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    let mut resolved: Vec<Program> = Vec::with_capacity(programs.len());
    for program in programs {
        let name = &program.name;
        let invalid =
            |problem: String| SandboxError::Invalid(format!("program {name:?}: {problem}"));
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(invalid("not a plain file name".into()));
        }
        if resolved.iter().any(|p| &p.name == name) {
            return Err(invalid("name given twice".into()));
        }
        let shown = program.host_path.display();
        let host_path = program
            .host_path
            .canonicalize()
            .map_err(SandboxError::io(format!("program {name:?}: {shown}")))?;
        let meta = std::fs::metadata(&host_path)
            .map_err(SandboxError::io(format!("program {name:?}: {shown}")))?;
        if !meta.is_file() {
            return Err(invalid(format!("{shown} is not a regular file")));
        }
        let wanted = if as_root { 0o001 } else { 0o111 };
        if meta.permissions().mode() & wanted == 0 {
            return Err(invalid(format!(
                "{shown} is not executable by the session's uid"
            )));
        }
        resolved.push(Program {
            name: name.clone(),
            host_path,
        });
    }
    Ok(resolved)
}

/// Where the session mounts something of its own: no host directory may be shown there.
pub fn reserved_inside(path: &Path) -> bool {
    path == Path::new("/")
        || [WORKTREE_INSIDE, PROGRAMS_INSIDE, "/tmp", "/proc", "/dev"]
            .iter()
            .any(|own| path.starts_with(own) || Path::new(own).starts_with(path))
}

/// The host directories to show, each resolved (the init mounts it at its resolved path).
fn host_mounts(mounts: &[PathBuf]) -> Result<Vec<PathBuf>, SandboxError> {
    mounts
        .iter()
        .map(|dir| {
            let shown = dir.display();
            if !dir.is_absolute() {
                return Err(SandboxError::Invalid(format!(
                    "mount {shown}: not an absolute path"
                )));
            }
            let resolved = dir
                .canonicalize()
                .map_err(SandboxError::io(format!("mount {shown}")))?;
            if !resolved.is_dir() {
                return Err(SandboxError::Invalid(format!(
                    "mount {shown}: not a directory"
                )));
            }
            if reserved_inside(&resolved) {
                return Err(SandboxError::Invalid(format!(
                    "mount {shown}: the session mounts its own {} there",
                    resolved.display()
                )));
            }
            Ok(resolved)
        })
        .collect()
}

/// `dir`, absolute and with symbolic links resolved (the init enters it by that path), if it
/// is a directory.
fn host_worktree(dir: &Path) -> Result<PathBuf, SandboxError> {
    let resolved = dir
        .canonicalize()
        .map_err(SandboxError::io(format!("worktree {}", dir.display())))?;
    if !resolved.is_dir() {
        return Err(SandboxError::Invalid(format!(
            "worktree {} is not a directory",
            resolved.display()
        )));
    }
    Ok(resolved)
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
                .filter(|entry| server.covers(entry))
                .cloned(),
        )
    }
}

/// A session's init, started, and agen's ends of what connects them.
///
/// agen keeps a write end of the output pipe and the init's end of the egress channel open
/// while the init runs: neither can then wake the watcher by closing as the init exits, and the
/// init's exit is seen once, through its pidfd.
struct Started {
    init: InitProcess,
    /// Spec out; at the end, the command's wait status in.
    control: UnixStream,
    output: std::fs::File,
    output_writer: Option<OwnedFd>,
    /// Where the reaper hands over the egress listener, and the init the services'.
    egress_channel: UnixStream,
    egress_channel_peer: Option<UnixStream>,
}

impl Started {
    /// Starts the init, which then waits for its spec ([`send_spec`](Started::send_spec)) and
    /// the go ([`go`](Started::go)). A single-threaded agen (`agen sandbox run`) forks it (see
    /// [`init::run_forked`]), without the cost of starting agen again; a multi-threaded one
    /// (the server) executes `agen __sandbox-init`, since a forked child could find a lock
    /// held by another thread forever.
    fn new(agen_exe: &Path) -> Result<Started, SandboxError> {
        let (connections, child_control) = Connections::new()?;
        let init = match super::sys::SelfStat::read().ok().filter(|a| a.threads == 1) {
            Some(agen) => InitProcess::fork(&agen, child_control, &connections.output_writer)?,
            None => InitProcess::exec(agen_exe, child_control, &connections.output_writer)?,
        };
        Ok(Started::with(init, connections))
    }

    /// From here on, dropping `Started` kills and reaps the init (and so the whole tree).
    fn with(init: InitProcess, connections: Connections) -> Started {
        let Connections {
            control,
            output,
            output_writer,
            egress_channel,
            egress_channel_peer,
        } = connections;
        Started {
            init,
            control,
            output,
            output_writer: Some(output_writer),
            egress_channel,
            egress_channel_peer: Some(egress_channel_peer),
        }
    }

    /// Sends the spec (its length, then JSON), with the egress channel attached.
    fn send_spec(&self, spec: &InitSpec) -> Result<(), SandboxError> {
        let framed = frame(spec)?;
        let peer = self
            .egress_channel_peer
            .as_ref()
            .ok_or_else(|| SandboxError::Setup("the egress channel is gone".into()))?;
        let sent = send_framed(&self.control, peer, &framed, 0)?;
        (&self.control)
            .write_all(&framed[sent..])
            .map_err(SandboxError::io("sending the session spec"))
    }

    /// Lets the init go on past the cgroups (the end of the control stream).
    fn go(&self) -> Result<(), SandboxError> {
        go(&self.control)
    }

    fn kill(&mut self) {
        self.init.kill();
    }

    /// Watches the session to its end: streams its output, serves its egress connections,
    /// hands each service its listener (calls its `serve` once the listener comes), enforces
    /// the wall clock, the whole tree's CPU time and `stop`, and reaps the init.
    /// Sleeps in poll(2): output, the init's exit, the egress listener's handover and
    /// connections wake it at once; otherwise it wakes every [`TICK`] for the CPU time and
    /// `stop`. With `leave_init`, may end as soon as the command's status is in (see
    /// [`NamespacesConfig::leave_init`]); then says true, the init killed but not reaped.
    fn watch(
        mut self,
        spec: &SessionSpec,
        cgroups: &SessionCgroups,
        egress: &EgressProxy,
        stop: &StopHandle,
        sink: &mut dyn FnMut(&[u8]),
        leave_init: bool,
    ) -> Result<(Report, bool), SandboxError> {
        let mut output = Capped::new(spec.limits.output_bytes);
        let deadline = Instant::now() + spec.limits.wall_clock;
        let cpu_budget = spec.limits.cpu_time;
        let mut next_cpu_check = Instant::now();
        let mut ended_by: Option<Outcome> = None;
        // When the end began: the kill, or the init's exit. The rest of the output is
        // collected for at most DRAIN_AFTER_KILL from then.
        let mut ending_since: Option<Instant> = None;
        let mut output_open = true;
        let mut init_code: Option<i32> = None;
        let mut listener: Option<TcpListener> = None;
        let mut served = vec![false; spec.services.len()];
        let mut to_serve = served.len();
        let mut status = Vec::new();
        let mut control_open = leave_init;
        let mut left = false;
        loop {
            // Once init has exited the command's own status stands, even at the deadline.
            if ended_by.is_none() && init_code.is_none() {
                let now = Instant::now();
                let reason = if stop.is_stopped() {
                    Some(Outcome::Stopped)
                } else if now >= deadline {
                    Some(Outcome::TimedOut)
                } else if now >= next_cpu_check {
                    next_cpu_check = now + TICK;
                    cgroups
                        .cpu_used()
                        .is_some_and(|used| used > cpu_budget)
                        .then_some(Outcome::CpuTimeExceeded)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    ended_by = Some(reason);
                    ending_since = Some(now);
                    self.kill();
                }
            }
            if ended_by.is_some() || init_code.is_some() {
                // Let the output end once the last writer in the session is gone.
                self.output_writer = None;
            }
            if init_code.is_some() && !output_open {
                break;
            }
            if ending_since.is_some_and(|t| t.elapsed() > DRAIN_AFTER_KILL) {
                break;
            }
            let timeout = match ended_by {
                None if init_code.is_none() => {
                    TICK.min(deadline.saturating_duration_since(Instant::now()))
                }
                _ => TICK,
            };
            let ready = wait_readable(
                [
                    output_open.then(|| self.output.as_raw_fd()),
                    init_code.is_none().then(|| self.init.pidfd.as_raw_fd()),
                    (listener.is_none() || to_serve > 0).then(|| self.egress_channel.as_raw_fd()),
                    listener.as_ref().map(|l| l.as_raw_fd()),
                    (control_open && ended_by.is_none() && init_code.is_none())
                        .then(|| self.control.as_raw_fd()),
                ],
                timeout,
            );
            if ready[0] {
                output_open = output
                    .read_once(&mut self.output, sink)
                    .map_err(SandboxError::io("reading output"))?;
            }
            if ready[1] {
                if let Some(code) = self.init.try_wait().map_err(SandboxError::io("wait"))? {
                    init_code = Some(code);
                    ending_since.get_or_insert_with(Instant::now);
                }
            }
            if ready[2] {
                match receive_listener(&self.egress_channel) {
                    Some((LISTENER_SENT, egress)) => listener = listener.or(Some(egress)),
                    Some((tag, service)) => {
                        let index = usize::from(tag) - 1;
                        if served.get(index) == Some(&false) {
                            served[index] = true;
                            to_serve -= 1;
                            (spec.services[index].serve)(service);
                        }
                    }
                    None => {}
                }
            }
            if ready[3] {
                if let Some(listener) = &listener {
                    egress.accept_all(listener);
                }
            }
            if ready[4] {
                let mut buf = [0u8; 8];
                match (&self.control).read(&mut buf) {
                    Ok(0) => control_open = false,
                    Ok(n) => status.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => control_open = false,
                }
                if status.len() >= 4 {
                    control_open = false;
                    // PID 1 reaped the rest and left the session's groups before it said so.
                    let over = cgroups.proven_empty();
                    self.kill();
                    if over {
                        // All the output is in the pipe by now.
                        while output_open
                            && wait_readable([Some(self.output.as_raw_fd())], Duration::ZERO)[0]
                        {
                            output_open = output
                                .read_once(&mut self.output, sink)
                                .map_err(SandboxError::io("reading output"))?;
                        }
                        left = true;
                        break;
                    }
                }
            }
        }
        if left {
            self.init.leave();
        } else if init_code.is_none() {
            // Killed, and the output drained or given up on: the init goes now (the drop
            // below would do it too).
            self.kill();
            init_code = Some(self.init.wait().map_err(SandboxError::io("wait"))?);
        }
        // The status (4 bytes) was written before init exited, so it is all there now.
        if !left && self.control.set_nonblocking(true).is_ok() {
            let _ = self.control.read_to_end(&mut status);
        }

        let outcome = match (ended_by, status.as_slice()) {
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
        Ok((
            Report {
                outcome,
                output: output.kept,
                output_truncated: output.truncated,
                refused_hosts: Vec::new(),
                cpu_time: None,
            },
            left,
        ))
    }
}

/// agen's ends of what connects it to a session's init, before the init starts.
struct Connections {
    control: UnixStream,
    output: std::fs::File,
    output_writer: OwnedFd,
    egress_channel: UnixStream,
    egress_channel_peer: UnixStream,
}

impl Connections {
    /// agen's ends, and the init's end of the control socket.
    fn new() -> Result<(Connections, UnixStream), SandboxError> {
        let (control, child_control) =
            UnixStream::pair().map_err(SandboxError::io("socketpair"))?;
        let (egress_channel, egress_channel_peer) =
            UnixStream::pair().map_err(SandboxError::io("socketpair"))?;
        let (output_r, output_w) = super::sys::pipe().map_err(SandboxError::io("pipe"))?;
        let connections = Connections {
            control,
            output: std::fs::File::from(output_r),
            output_writer: output_w,
            egress_channel,
            egress_channel_peer,
        };
        Ok((connections, child_control))
    }
}

/// The spec as sent: its length (4 bytes), then as much JSON.
fn frame(spec: &InitSpec) -> Result<Vec<u8>, SandboxError> {
    let json = serde_json::to_vec(spec).map_err(|e| SandboxError::Setup(e.to_string()))?;
    let mut framed = (json.len() as u32).to_le_bytes().to_vec();
    framed.extend_from_slice(&json);
    Ok(framed)
}

/// Sends the start of `framed` on `control` with `channel` attached; how much went.
fn send_framed(
    control: &UnixStream,
    channel: &UnixStream,
    framed: &[u8],
    flags: libc::c_int,
) -> Result<usize, SandboxError> {
    super::sys::send_with_fd(control.as_raw_fd(), framed, channel.as_raw_fd(), flags)
        .map_err(SandboxError::io("sending the session spec"))
}

/// The go: the end of the control stream.
fn go(control: &UnixStream) -> Result<(), SandboxError> {
    control
        .shutdown(Shutdown::Write)
        .map_err(SandboxError::io("starting the session"))
}

impl Drop for Started {
    fn drop(&mut self) {
        self.egress_channel_peer = None;
    }
}

/// The session's init process: agen's child, watched through a pidfd. Killed and reaped on
/// drop unless it already was.
struct InitProcess {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    reaped: bool,
    /// Killed, and left for agen's exit to hand over to the host's init (see
    /// [`NamespacesConfig::leave_init`]).
    left: bool,
}

impl InitProcess {
    /// Executes `agen __sandbox-init` with the control socket as stdin and the output pipe as
    /// stdout and stderr.
    fn exec(
        agen_exe: &Path,
        control: UnixStream,
        output: &OwnedFd,
    ) -> Result<InitProcess, SandboxError> {
        let dup = |fd: &OwnedFd| fd.try_clone().map_err(SandboxError::io("dup"));
        let child = Command::new(agen_exe)
            .arg(INIT_ARG)
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(control)))
            .stdout(Stdio::from(dup(output)?))
            .stderr(Stdio::from(dup(output)?))
            .spawn()
            .map_err(SandboxError::io(format!(
                "cannot start {}",
                agen_exe.display()
            )))?;
        // `child` is not needed past its pid: dropping a std Child neither kills nor reaps.
        InitProcess::watch(child.id() as libc::pid_t)
    }

    /// Forks the init (see [`init::run_forked`]). Only for a single-threaded agen.
    fn fork(
        agen: &super::sys::SelfStat,
        control: UnixStream,
        output: &OwnedFd,
    ) -> Result<InitProcess, SandboxError> {
        let output = output.try_clone().map_err(SandboxError::io("dup"))?;
        let control = OwnedFd::from(control);
        // As root, the init is the session's PID 1 itself (see super::pid_one).
        // SAFETY: geteuid has no arguments.
        let pid_one = unsafe { libc::geteuid() } == 0;
        // The child starts on this CPU, which agen leaves soon to wait for the session: left to
        // itself, the scheduler may queue it behind a busy CPU. It takes the mask back first.
        let affinity = super::sys::pin_to_this_cpu();
        // SAFETY: the caller found this process single-threaded, so the child is a complete
        // copy with no lock held by some other thread, and may run ordinary Rust code; it
        // never returns from run_forked.
        let pid = if pid_one {
            super::sys::fork_into_new_pid_namespace()
        } else {
            super::sys::check("fork", unsafe { libc::fork() }.into()).map(|pid| pid as libc::pid_t)
        }
        .map_err(SandboxError::io("cannot fork the session's init"))?;
        if pid == 0 {
            init::run_forked(agen, control, output, pid_one, affinity);
        }
        if let Some(mask) = &affinity {
            // Best effort: agen's own work from here on is watching.
            let _ = super::sys::set_affinity(mask);
        }
        InitProcess::watch(pid)
    }

    fn watch(pid: libc::pid_t) -> Result<InitProcess, SandboxError> {
        match super::sys::pidfd_open(pid) {
            Ok(pidfd) => Ok(InitProcess {
                pid,
                pidfd,
                reaped: false,
                left: false,
            }),
            Err(e) => {
                // SAFETY: killing and reaping our own child, which nothing else reaps.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                Err(SandboxError::io("watching the session's init")(e))
            }
        }
    }

    fn kill(&mut self) {
        if !self.reaped {
            // SAFETY: our child, not yet reaped, so the pid is still its own.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    /// Kills it and leaves it unreaped: a zombie until agen exits.
    fn leave(&mut self) {
        self.kill();
        self.left = true;
    }

    /// Its exit code (-1 when killed by a signal) once it has exited.
    fn try_wait(&mut self) -> io::Result<Option<i32>> {
        self.wait_with(libc::WNOHANG)
    }

    fn wait(&mut self) -> io::Result<i32> {
        loop {
            if let Some(code) = self.wait_with(0)? {
                return Ok(code);
            }
        }
    }

    fn wait_with(&mut self, options: libc::c_int) -> io::Result<Option<i32>> {
        if self.reaped {
            return Err(io::Error::other("the init was already reaped"));
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid out-pointer.
        let got = unsafe { libc::waitpid(self.pid, &mut status, options) };
        match got {
            0 => Ok(None),
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
            _ => {
                self.reaped = true;
                Ok(Some(if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    -1
                }))
            }
        }
    }
}

impl Drop for InitProcess {
    fn drop(&mut self) {
        if !self.reaped && !self.left {
            self.kill();
            let _ = self.wait();
        }
    }
}

/// The next listener the session handed over on `channel`, with its tag (the egress
/// listener's, [`LISTENER_SENT`], or a service's, [`init::service_tag`]); non-blocking, ready
/// for [`EgressProxy::accept_all`] or the service. One message at a time: each is one byte.
fn receive_listener(channel: &UnixStream) -> Option<(u8, TcpListener)> {
    let mut tag = [0u8; 1];
    let (n, fds) = super::sys::recv_with_fds(channel.as_raw_fd(), &mut tag).ok()?;
    let listener = TcpListener::from(fds.into_iter().next()?);
    if n != 1 {
        return None;
    }
    listener.set_nonblocking(true).ok()?;
    Some((tag[0], listener))
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

    /// One read from the session's output; false once it is closed.
    fn read_once(&mut self, from: &mut impl Read, sink: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        match from.read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.push(&buf[..n], sink);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e),
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
    fn service_ports_are_checked() {
        let service = |port| LocalService {
            port,
            serve: std::sync::Arc::new(|_| {}),
        };
        assert_eq!(
            service_ports(&[service(3129), service(80)]).unwrap(),
            [3129, 80]
        );
        for (ports, problem) in [
            (&[0][..], "port 0"),
            (&[EGRESS_PORT_INSIDE][..], "egress proxy"),
            (&[3129, 3129][..], "twice"),
        ] {
            let services: Vec<_> = ports.iter().map(|&p| service(p)).collect();
            let err = service_ports(&services).unwrap_err().to_string();
            assert!(err.contains(problem), "{ports:?}: {err}");
        }
        let many: Vec<_> = (1..=MAX_SERVICES as u16 + 1)
            .map(|p| service(p + 4000))
            .collect();
        assert!(service_ports(&many).is_err());
        assert!(format!("{:?}", service(3129)).contains("3129"));
    }

    #[test]
    fn program_names_must_be_plain_file_names() {
        let program = |name: &str| Program {
            name: name.into(),
            host_path: PathBuf::from("/bin/sh"),
        };
        assert!(host_programs(&[program("sh")], false).is_ok());
        for name in ["", ".", "..", "a/b", "/sh", "a\0b"] {
            let err = host_programs(&[program(name)], false)
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a plain file name"), "{name:?}: {err}");
        }
        let err = host_programs(&[program("sh"), program("sh")], false).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let dir = Program {
            name: "d".into(),
            host_path: PathBuf::from("/"),
        };
        assert!(host_programs(&[dir], false).is_err());
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
