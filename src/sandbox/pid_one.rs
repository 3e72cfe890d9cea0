//! The session's init as its PID 1: as root, a single-threaded agen (`agen sandbox run`) clones
//! the init straight into a new PID namespace, so no reaper needs forking beneath it (one
//! process and one hand-over fewer per launch than [`super::init`]'s tree).
//!
//! That PID namespace belongs to the host's user namespace, and mounting a /proc for it takes
//! root's capabilities there: so the init builds the whole root while still root (in mount,
//! IPC and UTS namespaces of root's, which the session's uid can therefore never change), and
//! only then drops to the unprivileged host uid and unshares the user namespace that maps it
//! to `UID_INSIDE`, as [`super::init`]'s init does before it forks. Otherwise the same steps,
//! in the same order where it matters: network namespace and egress listener first (while
//! agen prepares the spec and cgroups), cgroups joined before anything else runs (then the
//! services' listeners made and handed over), the worktree
//! lent to the session's uid, no nested user namespaces, the command started by
//! [`init::run_command`].

use std::io;
use std::os::unix::net::UnixStream;

use super::init;
use super::protocol::{self, InitSpec};
use super::sys;

pub fn session(control: UnixStream) -> io::Result<i32> {
    // Armed until the credentials change below; then again.
    init::die_with_parent()?;
    sys::unshare(libc::CLONE_NEWNET)?;
    let egress = init::egress_listener()?;
    let (spec, egress_channel) = protocol::read_spec(&control)?;
    protocol::wait_for_go(&control)?;
    init::join_cgroups(&spec)?;
    init::hand_over_services(&spec, &egress_channel)?;
    let way_out = init::open_way_out(&spec)?;
    init::enter_worktree(&spec)?;
    init::lend_worktree(&spec)?;

    // The cgroup namespace, rooted at the session's groups (joined above), so that
    // /proc/self/cgroup names no host group. The way out was opened before: a v2 write there
    // is checked against the namespace the file was opened in (Linux 5.16 and later).
    sys::unshare(
        libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS | libc::CLONE_NEWCGROUP,
    )?;
    init::build_root(&spec, (spec.host_uid, spec.host_uid))?;
    become_session_user(&spec)?;
    init::die_with_parent()?;
    // agen keeps its end of the control socket until it has read the command's status: if it
    // is closed, agen died before the parent-death signal was armed again.
    if sys::writers_gone(&control) {
        return Err(io::Error::other("agen exited before the session started"));
    }
    init::no_nested_user_namespaces()?;
    init::run_command(&spec, control, egress_channel, egress, &way_out)
}

/// Root inside a user namespace mapped onto host root could read root-owned host files (e.g.
/// /etc/shadow) through the read-only mounts: run as an unprivileged uid, alone in a user
/// namespace of its own.
fn become_session_user(spec: &InitSpec) -> io::Result<()> {
    sys::drop_to(spec.host_uid, spec.host_uid)?;
    // Changing credentials cleared "dumpable", which would make /proc/self/{uid_map,fd} belong
    // to root.
    sys::prctl("PR_SET_DUMPABLE", libc::PR_SET_DUMPABLE, 1)?;
    sys::unshare(libc::CLONE_NEWUSER)?;
    init::map_ids(spec.host_uid, spec.host_uid)
}
