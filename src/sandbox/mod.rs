//! Sessions that run untrusted commands in isolation: what runs inside sees no credential and
//! no host file it was not lent, reaches no host it was not allowed, and ends with its session.
//!
//! [`Sandbox`] is the one interface; [`Namespaces`] is the default backend:
//!
//! - agen re-executes itself as `agen __sandbox-init` (single-threaded, so forking is safe;
//!   a single-threaded agen forks instead), hands it the session spec over a socket and
//!   watches it: output (capped), wall clock, whole-tree CPU time, stop. One SIGKILL to that
//!   init ends the whole tree.
//! - The init joins the session's cgroups (memory, pids and CPU accounting, cgroup v1 or v2;
//!   module `cgroup`), drops root for an
//!   unprivileged host uid, unshares user, mount, PID, network, IPC, UTS and cgroup namespaces
//!   (only uid 1000 mapped; the cgroup namespace is rooted at the session's groups, so
//!   /proc/self/cgroup names no host group) and forks PID 1 of the session (as root, from a single-threaded agen, the
//!   init is PID 1 itself: it builds the root first, then drops root): a reaper that builds a
//!   tmpfs root (host system dirs read-only, worktree at /work, private /tmp, /proc, minimal
//!   /dev), pivots into it and starts the command with rlimits, no capabilities, no new
//!   privileges and a seccomp filter (module `seccomp`: EPERM for io_uring, keyrings, bpf,
//!   perf_event_open, userfaultfd, mounts, modules, kexec, swap, reboot, personality flags
//!   that weaken ASLR, and sockets other than AF_UNIX, AF_INET and AF_INET6).
//! - No host directory is made for a session: its root and /tmp are tmpfs in its own mount
//!   namespace, gone with it, and so is its worktree when the spec names none.
//! - Network: loopback only; the reaper listens on 127.0.0.1:3128 inside and hands that socket
//!   to agen, whose egress proxy serves it: only the hosts (and ports) in `AGEN_EGRESS_ALLOW`
//!   are reached, at public addresses only unless `AGEN_EGRESS_ALLOW_PRIVATE` names the range;
//!   the refused ones are recorded with the reason. Each of the spec's [`LocalService`]s gets a listener on its
//!   own loopback port the same way, handed over at the start, which the caller serves.
//! - Programs ([`SessionSpec::programs`]): host files bind-mounted read-only under
//!   [`PROGRAMS_INSIDE`].
//! - A system root ([`SessionSpec::system`], e.g. an unpacked image) in place of the host's
//!   system directories, staged like the host directories below.
//! - Host directories ([`NamespacesConfig::mounts`], e.g. toolchains): bind-mounted read-only,
//!   nosuid, nodev at their own path. As root, the init binds them at a staging place in a
//!   private mount namespace of root's before it drops root (the session's uid may not be
//!   able to reach them, e.g. under a 0700 /root).
//!
//! Call [`Sandbox::run`] from a thread that lives until it returns (e.g. `spawn_blocking`):
//! the session is tied to that thread through the parent-death signal.

mod cgroup;
mod egress;
pub mod init;
mod init_process;
mod limits;
mod mounts;
mod namespaces;
mod output_cap;
mod ownership;
mod pid_one;
mod protocol;
mod seccomp;
mod spawn;
mod staging;
mod sys;
mod validate;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use egress::{Allowlist, EGRESS_PORT_INSIDE};
pub use namespaces::{Namespaces, NamespacesConfig};
pub use validate::reserved_inside;

/// Where the worktree appears inside every session.
pub const WORKTREE_INSIDE: &str = "/work";

/// Where [`SessionSpec::programs`] appear inside every session (read-only).
pub const PROGRAMS_INSIDE: &str = "/opt/agen/bin";

/// The uid (and gid) the command runs as inside the session.
pub const UID_INSIDE: u32 = 1000;

/// What a session may use. Every limit is always set; there is no "unlimited".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub wall_clock: Duration,
    /// CPU time of the whole tree (watched through its cgroup, to the tick); each process
    /// also gets it as RLIMIT_CPU, rounded up to whole seconds.
    pub cpu_time: Duration,
    pub memory_bytes: u64,
    pub max_processes: u64,
    pub max_file_bytes: u64,
    /// Output kept (and streamed) per session; the rest is read and dropped.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall_clock: Duration::from_secs(30 * 60),
            cpu_time: Duration::from_secs(20 * 60),
            memory_bytes: 2 << 30,
            max_processes: 256,
            max_file_bytes: 1 << 30,
            output_bytes: 1 << 20,
        }
    }
}

/// One command to run in one fresh session.
#[derive(Clone, Debug)]
pub struct SessionSpec {
    /// Host directory mounted read-write at [`WORKTREE_INSIDE`]; `None`: a fresh, empty tmpfs
    /// there instead, owned by the command's uid and gone with the session.
    pub worktree: Option<PathBuf>,
    /// Program and arguments; the program is looked up in `env`'s `PATH` inside the session.
    pub command: Vec<String>,
    /// The whole environment of the command: nothing of agen's own is inherited.
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    /// When given, the session may reach only these of the hosts the backend allows (a
    /// repository narrowing the server's list; it can never widen it); `Some` of an empty
    /// list: none at all. `None`: all the backend allows.
    pub egress_only: Option<Vec<String>>,
    /// Loopback ports the host serves inside the session, beside the egress proxy.
    pub services: Vec<LocalService>,
    /// Host files mounted read-only at `PROGRAMS_INSIDE/<name>`.
    pub programs: Vec<Program>,
    /// A host directory (an unpacked image, say) whose top-level entries, read-only, nosuid,
    /// nodev, are the session's system in place of the host's `/usr`, `/bin`, `/lib`, `/etc`
    /// (its `work`, `tmp`, `proc` and `dev` are left out: the session mounts its own there);
    /// `None`: the host's.
    pub system: Option<PathBuf>,
    /// Where the command starts, an absolute path inside; `None`: [`WORKTREE_INSIDE`].
    pub workdir: Option<PathBuf>,
    /// Host directories bound inside the session's `/tmp` (caches, say): read-write or
    /// read-only, nosuid, nodev.
    pub binds: Vec<Bind>,
}

/// A host directory shown at a path under the session's `/tmp`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub host: PathBuf,
    /// Absolute, under `/tmp`, without `..`.
    pub inside: PathBuf,
    pub writable: bool,
}

/// A port on the session's loopback (`127.0.0.1:port`, in the session's own network
/// namespace) that the host serves. The session's PID 1 listens on it and hands the listener
/// to agen at the session's start; agen calls `serve` with it, once, non-blocking, and never
/// accepts on it itself: `serve` runs its own accept loop (e.g. in a thread, or converted into
/// a tokio listener), and must not block. A session that ends before the handover never calls
/// `serve`. Once [`Sandbox::run`] has returned, no connection can come any more (the
/// session's namespace has no process left): the service's accept loop is the caller's to end
/// then.
#[derive(Clone)]
pub struct LocalService {
    pub port: u16,
    pub serve: Arc<dyn Fn(std::net::TcpListener) + Send + Sync>,
}

impl std::fmt::Debug for LocalService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalService")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A host file mounted read-only at `PROGRAMS_INSIDE/<name>` inside the session, executable
/// there if its mode lets the session's uid execute it (as root: "others" must be allowed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// A plain file name: no `/`, not `.` or `..`, not empty.
    pub name: String,
    pub host_path: PathBuf,
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    KilledBySignal(i32),
    /// The wall-clock limit ended it (the whole process tree was killed).
    TimedOut,
    /// [`StopHandle::stop`] ended it.
    Stopped,
    /// The whole tree used up `Limits::cpu_time` (the whole tree was killed).
    CpuTimeExceeded,
}

impl Outcome {
    /// The status a shell would report: the code, 128 + signal, 124 for a timeout.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Exited(code) => code,
            Outcome::KilledBySignal(sig) => 128 + sig,
            Outcome::TimedOut => 124,
            Outcome::Stopped => 128 + libc::SIGKILL,
            // As if RLIMIT_CPU had ended it.
            Outcome::CpuTimeExceeded => 128 + libc::SIGXCPU,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Report {
    pub outcome: Outcome,
    /// stdout and stderr interleaved, at most `Limits::output_bytes`.
    pub output: Vec<u8>,
    pub output_truncated: bool,
    /// Hosts the egress proxy refused, each once.
    pub refused_hosts: Vec<String>,
    /// CPU time of the whole session tree, from its cgroup at the end; `None` where it
    /// cannot be read (no usable cpu accounting cgroup).
    pub cpu_time: Option<Duration>,
}

/// Ends a running session (the whole process tree) when [`stop`](StopHandle::stop) is called.
#[derive(Clone, Debug, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid session: {0}")]
    Invalid(String),
    #[error("sandbox: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The session could not be set up; `output` holds what the init process said.
    #[error("sandbox setup failed: {0}")]
    Setup(String),
}

impl SandboxError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
        let what = what.into();
        move |source| SandboxError::Io { what, source }
    }
}

/// Runs commands in isolated sessions. Other backends (containers, Kubernetes Jobs) come
/// later behind this same trait.
pub trait Sandbox: Send + Sync {
    /// Runs `spec` to its end and blocks meanwhile (call it from a blocking thread).
    /// Output chunks go to `sink` as they arrive, up to `Limits::output_bytes` in all.
    fn run(
        &self,
        spec: &SessionSpec,
        stop: &StopHandle,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<Report, SandboxError>;
}
