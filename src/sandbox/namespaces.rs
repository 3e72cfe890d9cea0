//! The default backend: each session is `agen __sandbox-init` in fresh Linux namespaces
//! (see [`super::init`]), watched from here for output, wall clock and stop.
//!
//! Its [`Sandbox::run`] checks the spec's inputs (module `validate`), starts the init and
//! watches the session to its end (module `watch`, with the init's handle in `init_process`
//! and the output's cap in `output_cap`), serving the session's egress meanwhile.

use std::path::PathBuf;
use std::sync::Once;

use ipnet::IpNet;

use super::cgroup::{CgroupSupport, SessionCgroups};
use super::egress::{with_proxy_env, Allowlist, EgressProxy, HEAD_DEADLINE};
use super::ownership;
use super::protocol::InitSpec;
use super::validate::{
    host_binds, host_mounts, host_programs, host_system, host_worktree, service_ports, workdir,
};
use super::watch::Started;
use super::{Report, Sandbox, SandboxError, SessionSpec, StopHandle};

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
    /// path to a directory, outside the places the session mounts itself
    /// ([`reserved_inside`](super::reserved_inside)).
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
            system: spec.system.as_deref().map(host_system).transpose()?,
            system_source: None,
            workdir: workdir(spec.workdir.as_deref())?,
            binds: host_binds(&spec.binds)?,
            bind_sources: Vec::new(),
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

impl Namespaces {
    /// The server's allowlist, narrowed to `spec.egress_only` when that is given.
    fn session_allowlist(&self, spec: &SessionSpec) -> Allowlist {
        let server = &self.config.egress_allow;
        let Some(only) = &spec.egress_only else {
            return server.clone();
        };
        Allowlist::new(only.iter().filter(|entry| server.covers(entry)).cloned())
    }
}
