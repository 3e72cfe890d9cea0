//! The session's own side, run as `agen __sandbox-init` (a fresh, single-threaded process, so
//! forking here is safe, unlike in agen's multi-threaded runtime), or forked from a
//! single-threaded agen (see [`run_forked`]).
//!
//! Process tree: agen → init (host side: joins cgroups, drops root, unshares the namespaces)
//! → reaper (PID 1 of the new PID namespace: builds the root, reaps orphans) → the command.
//! Killing init kills the reaper (parent-death signal), and the end of PID 1 kills every
//! process in the namespace: one SIGKILL from agen ends the whole tree. (As root, a
//! single-threaded agen clones the init as PID 1 itself instead: see [`super::pid_one`].)
//!
//! What goes over the control socket and the egress channel is [`super::protocol`].

use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::egress::EGRESS_PORT_INSIDE;
use super::mounts::{enter_new_root, RootPlan, Worktree};
use super::ownership::chown_tree;
use super::protocol::{read_spec, service_tag, wait_for_go, InitSpec, LISTENER_SENT};
use super::UID_INSIDE;
use super::{spawn, sys};

/// The hidden subcommand agen re-executes itself with.
pub const INIT_ARG: &str = "__sandbox-init";

/// Exit code of init when the session could not be set up (its reason is on stderr).
pub const SETUP_FAILED: i32 = 125;

/// Entry point for `agen __sandbox-init`; returns the process exit code.
pub fn main() -> i32 {
    // SAFETY: fd 0 is the control socket agen passed as stdin; we take ownership of it.
    let control = unsafe { UnixStream::from_raw_fd(0) };
    exit_code(session(control))
}

/// The init's work in a child that a single-threaded agen (`agen sandbox run`) forked instead
/// of executing `agen __sandbox-init`: the same steps, without the cost of starting agen
/// again. First the child makes itself look like that init: the control socket as stdin, the
/// output as stdout and stderr, and nothing else of agen's (descriptors, command line,
/// environment, core dumps). `agen` is what agen's /proc/self/stat said. `pid_one`: agen (as
/// root) cloned this child into a new PID namespace, whose PID 1 it is (see [`super::pid_one`]).
/// `affinity`: the CPUs to take back (the child starts pinned to agen's). Never returns.
pub fn run_forked(
    agen: &sys::SelfStat,
    control: OwnedFd,
    output: OwnedFd,
    pid_one: bool,
    affinity: Option<libc::cpu_set_t>,
) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        exit_code(
            affinity
                .as_ref()
                .map_or(Ok(()), sys::set_affinity)
                .and_then(|()| sys::adopt_init_descriptors(control, output))
                .and_then(|control| {
                    sys::scrub_process_strings(agen, b"agen\0__sandbox-init\0");
                    sys::no_core_dumps()?;
                    let control = UnixStream::from(control);
                    if pid_one {
                        super::pid_one::session(control)
                    } else {
                        session(control)
                    }
                }),
        )
    }))
    .unwrap_or(SETUP_FAILED);
    // SAFETY: leaving the forked child without running anything of agen's (atexit handlers,
    // destructors of the parent's values).
    unsafe { libc::_exit(code) }
}

pub(super) fn exit_code(result: io::Result<i32>) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("agen sandbox: {e}");
            SETUP_FAILED
        }
    }
}

/// The init, from its start to the reaper's end.
fn session(control: UnixStream) -> io::Result<i32> {
    // SAFETY: getters without arguments.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // As root, the network namespace comes first, while agen is still preparing the session
    // (its spec, its cgroups): a namespace of the host's (only root may change its network),
    // whose loopback this init brings up and listens on for the egress proxy. Unprivileged, it
    // comes with the user namespace below.
    let network = if uid == 0 {
        sys::unshare(libc::CLONE_NEWNET)?;
        Some(egress_listener()?)
    } else {
        None
    };
    let (mut spec, egress_channel) = read_spec(&control)?;
    wait_for_go(&control)?;
    join_cgroups(&spec)?;
    if network.is_some() {
        // While still root: any port, even one below 1024, in a network namespace of the host's.
        hand_over_services(&spec, &egress_channel)?;
    }
    enter_worktree(&spec)?;

    let (uid, gid) = if uid == 0 {
        // Root inside a user namespace mapped onto host root could read root-owned host
        // files (e.g. /etc/shadow) through the read-only mounts: run as an unprivileged uid.
        lend_worktree(&spec)?;
        let binds = spec.binds.iter().map(|b| &b.host);
        let staged: Vec<PathBuf> = spec
            .mounts
            .iter()
            .chain(binds)
            .chain(&spec.system)
            .cloned()
            .collect();
        spec.mount_sources = super::staging::stage_mounts(&staged)?;
        if spec.system.is_some() {
            spec.system_source = spec.mount_sources.pop();
        }
        spec.bind_sources = spec.mount_sources.split_off(spec.mounts.len());
        sys::drop_to(spec.host_uid, spec.host_uid)?;
        // Changing credentials cleared "dumpable", which would make /proc/self/{uid_map,fd}
        // belong to root.
        sys::prctl("PR_SET_DUMPABLE", libc::PR_SET_DUMPABLE, 1)?;
        (spec.host_uid, spec.host_uid)
    } else {
        (uid, gid)
    };
    die_with_parent()?;
    // SAFETY: getppid has no arguments.
    if unsafe { libc::getppid() } as u32 != spec.parent_pid {
        return Err(io::Error::other("agen exited before the session started"));
    }

    let new_net = if network.is_some() {
        0
    } else {
        libc::CLONE_NEWNET
    };
    // The cgroup namespace once the session's cgroups are joined (above): rooted at them, so
    // the session's /proc/self/cgroup reads `…:/` and names no host group.
    sys::unshare(
        libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWCGROUP
            | new_net,
    )?;
    map_ids(uid, gid)?;
    let egress = match network {
        Some(listener) => listener,
        None => {
            let listener = egress_listener()?;
            hand_over_services(&spec, &egress_channel)?;
            listener
        }
    };

    // Held open by init for its whole life: lets the reaper tell whether init died before
    // the reaper's parent-death signal was armed.
    let (init_alive, init_alive_w) = sys::pipe()?;
    // SAFETY: this process is single-threaded (a fresh exec of agen that started no threads),
    // so the child may run ordinary Rust code.
    let pid = sys::check("fork", unsafe { libc::fork() }.into())? as libc::pid_t;
    if pid == 0 {
        drop(init_alive_w);
        let code = exit_code(reaper(&spec, &init_alive, control, egress_channel, egress));
        // SAFETY: leaving the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    drop(egress);
    let status = wait_for(pid)?;
    Ok(if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    })
}

/// As root, with [`InitSpec::leave_first`]: the files that take a process back into agen's own
/// groups, opened for writing now, so that PID 1, unprivileged by then, can leave the
/// session's groups at the end (the kernel checks the credentials such a file was opened
/// with). Close-on-exec, closed in the command's child before its exec, and PID 1 is out of
/// the command's reach (see [`run_command`]).
pub(super) fn open_way_out(spec: &InitSpec) -> io::Result<Vec<fs::File>> {
    if !spec.leave_first {
        return Ok(Vec::new());
    }
    spec.cgroup_home
        .iter()
        .map(|file| fs::OpenOptions::new().write(true).open(file))
        .collect()
}

/// Enters the host worktree, if the spec names one, while agen's credentials still apply (the
/// session's uid may not be able to reach it); unshare moves the working directory into the
/// new mount namespace, where [`build_root`] bind-mounts it as ".".
pub(super) fn enter_worktree(spec: &InitSpec) -> io::Result<()> {
    match &spec.worktree {
        Some(dir) => std::env::set_current_dir(dir),
        None => Ok(()),
    }
}

/// As root: hands the host worktree, if any, to the session's unprivileged host uid (agen
/// gives it back after the session), and the writable binds (they stay the session uid's:
/// agen, as root, reads and removes them all the same).
pub(super) fn lend_worktree(spec: &InitSpec) -> io::Result<()> {
    if let Some(dir) = &spec.worktree {
        chown_tree(dir, spec.host_uid, spec.host_uid)?;
    }
    for bind in spec.binds.iter().filter(|b| b.writable) {
        chown_tree(&bind.host, spec.host_uid, spec.host_uid)?;
    }
    Ok(())
}

/// Joins the session's cgroups. "0" is the writing thread; this process has only the one, and
/// its children follow it.
pub(super) fn join_cgroups(spec: &InitSpec) -> io::Result<()> {
    for tasks in &spec.cgroup_tasks {
        fs::write(tasks, "0")
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", tasks.display())))?;
    }
    Ok(())
}

/// In a user namespace just unshared: maps uid and gid `UID_INSIDE` onto host `uid` and `gid`.
/// Only the one uid/gid is mapped: inside there is no root to become.
pub(super) fn map_ids(uid: u32, gid: u32) -> io::Result<()> {
    fs::write("/proc/self/setgroups", "deny")?;
    fs::write("/proc/self/uid_map", format!("{UID_INSIDE} {uid} 1"))?;
    fs::write("/proc/self/gid_map", format!("{UID_INSIDE} {gid} 1"))
}

/// Brings the loopback interface of this process's (new) network namespace up and listens
/// on it for the session's egress connections.
pub(super) fn egress_listener() -> io::Result<TcpListener> {
    sys::loopback_up()?;
    TcpListener::bind(("127.0.0.1", EGRESS_PORT_INSIDE))
}

/// Listens on each of the spec's service ports (on this process's network namespace's
/// loopback, up already) and hands each listener to agen over `channel` at once, with its own
/// tag ([`service_tag`]): agen serves them from then on, and this process keeps no copy.
pub(super) fn hand_over_services(spec: &InitSpec, channel: &OwnedFd) -> io::Result<()> {
    for (index, &port) in spec.services.iter().enumerate() {
        let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on service port {port}: {e}"),
            )
        })?;
        sys::send_fd(
            channel.as_raw_fd(),
            service_tag(index),
            listener.as_raw_fd(),
        )?;
    }
    Ok(())
}

/// PID 1 of the session: sets up the root, starts the command, reaps everything, and reports
/// the command's wait status. Its exit ends every process left in the namespace.
fn reaper(
    spec: &InitSpec,
    init_alive: &OwnedFd,
    control: UnixStream,
    egress_channel: OwnedFd,
    egress: TcpListener,
) -> io::Result<i32> {
    die_with_parent()?;
    if sys::writers_gone(init_alive) {
        return Err(io::Error::other("init exited before the session started"));
    }
    // SAFETY: getters without arguments.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    build_root(spec, (uid, gid))?;
    no_nested_user_namespaces()?;
    run_command(spec, control, egress_channel, egress, &[])
}

/// The session's hostname and root (see [`enter_new_root`]). `owner`: the uid and gid, as this
/// process sees them, that the command will run as (the owner of a fresh worktree).
pub(super) fn build_root(spec: &InitSpec, owner: (u32, u32)) -> io::Result<()> {
    sys::sethostname("agen-sandbox")?;
    let worktree = match spec.worktree {
        Some(_) => Worktree::CurrentDir,
        None => Worktree::Fresh { owner },
    };
    // Unstaged (not root, or root building the root itself): bound from the host paths.
    let sources = if spec.mount_sources.len() == spec.mounts.len() {
        &spec.mount_sources
    } else {
        &spec.mounts
    };
    let system = spec.system_source.as_ref().or(spec.system.as_ref());
    let hosts: Vec<PathBuf> = spec.binds.iter().map(|b| b.host.clone()).collect();
    let bind_sources = if spec.bind_sources.len() == spec.binds.len() {
        &spec.bind_sources
    } else {
        &hosts
    };
    enter_new_root(&RootPlan {
        system: system.map(PathBuf::as_path),
        hide: &spec.hide,
        mounts: &spec.mounts,
        mount_sources: sources,
        binds: &spec.binds,
        bind_sources,
        owner,
        tmp_bytes: spec.limits.memory_bytes,
        worktree,
        programs: &spec.programs,
    })
}

/// No nested user namespaces: they would hand the command capabilities (in a namespace of its
/// own) and with them much more kernel surface to attack. Per-namespace setting.
pub(super) fn no_nested_user_namespaces() -> io::Result<()> {
    fs::write("/proc/sys/user/max_user_namespaces", "0")
}

/// PID 1's last part: starts the command, reaps everything (serving the egress listener's
/// handover meanwhile), and reports the command's wait status on `control`.
pub(super) fn run_command(
    spec: &InitSpec,
    mut control: UnixStream,
    egress_channel: OwnedFd,
    egress: TcpListener,
    way_out: &[fs::File],
) -> io::Result<i32> {
    // SIGCHLD is read from a signalfd (so the wait below can also watch the listener); the
    // command gets an empty signal mask back before it execs.
    let sigchld = sys::SigchldFd::new()?;
    // Out of the command's reach from here on (no ptrace, no /proc/1/mem: it runs as the same
    // uid), so that the command cannot speak for this process on its sockets to agen. The
    // command is dumpable again once it has exec'd.
    sys::prctl("PR_SET_DUMPABLE", libc::PR_SET_DUMPABLE, 0)?;
    let child = spawn::spawn(
        &spec.command,
        &spec.env,
        &spec.workdir,
        &spec.limits,
        spec.limit_address_space,
    )?;
    let status = wait_serving(child, &sigchld, egress, &egress_channel)?;
    // (As PID 1 of the session's PID namespace only: kill(-1) anywhere else reaches too far.)
    if spec.leave_first && std::process::id() == 1 {
        kill_and_reap_the_rest();
        for tasks in way_out {
            // "0": this thread alone, which spares the kernel's global threadgroup lock.
            // Should it fail, agen finds the groups not empty and waits for this exit.
            let _ = (&*tasks).write_all(b"0");
        }
    }
    control.write_all(&status.to_le_bytes())?;
    Ok(0)
}

/// As a PID namespace's PID 1: kills every other process in it and reaps them all.
fn kill_and_reap_the_rest() {
    // SAFETY: kill(-1) from PID 1 reaches only its own namespace; then waitpid until no
    // child is left (orphans are reparented to PID 1 as they go).
    unsafe {
        libc::kill(-1, libc::SIGKILL);
        loop {
            if libc::waitpid(-1, std::ptr::null_mut(), 0) == -1
                && *libc::__errno_location() != libc::EINTR
            {
                break;
            }
        }
    }
}

/// Waits for `pid`, reaping (as PID 1 must) any other child that ends meanwhile; the first
/// time a connection waits on `egress`, hands that listener to agen over `channel`.
fn wait_serving(
    pid: libc::pid_t,
    sigchld: &sys::SigchldFd,
    egress: TcpListener,
    channel: &OwnedFd,
) -> io::Result<libc::c_int> {
    let mut egress = Some(egress);
    loop {
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid out-pointer.
            let got = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if got == pid {
                return Ok(status);
            }
            if got <= 0 {
                break;
            }
        }
        let Some(listener) = &egress else {
            // Handed over: only children are left to wait for.
            return wait_for(pid);
        };
        let mut fds = [
            libc::pollfd {
                fd: sigchld.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: a valid array of two pollfd.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if fds[0].revents != 0 {
            sigchld.drain();
        }
        if fds[1].revents != 0 {
            sys::send_fd(channel.as_raw_fd(), LISTENER_SENT, listener.as_raw_fd())?;
            egress = None;
        }
    }
}

/// Waits for `pid`, reaping (as PID 1 must) any other child that ends meanwhile.
fn wait_for(pid: libc::pid_t) -> io::Result<libc::c_int> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid out-pointer.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got == pid {
            return Ok(status);
        }
        if got == -1 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

pub(super) fn die_with_parent() -> io::Result<()> {
    sys::prctl(
        "PR_SET_PDEATHSIG",
        libc::PR_SET_PDEATHSIG,
        libc::SIGKILL as libc::c_ulong,
    )
}
