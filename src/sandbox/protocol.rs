//! The wire between agen and a session's init: both halves, side by side.
//!
//! The control socket is the init's stdin. agen starts the init before it prepares the
//! session, so the two overlap: the init first gets its spec (length, then JSON) with one
//! descriptor attached, the egress channel (a socket to agen); then, as the go, the end of
//! the stream, once the session's cgroups exist. The init listens on `127.0.0.1:3128` in
//! the session's network namespace; the reaper, once the first connection waits there, hands
//! the listener over the egress channel (SCM_RIGHTS, with the byte [`LISTENER_SENT`]) to
//! agen, which accepts on it from then on: a session that never connects costs agen nothing.
//! The listeners of the spec's services ([`super::LocalService`]) go the same way, each with
//! its own tag byte ([`service_tag`]), but all at once as soon as they exist: agen serves them
//! from the start, whether or not the egress proxy is ever used.
//! At the end the reaper writes the command's wait status (4 bytes) on the control socket,
//! which agen reads once init has exited (or at once, see
//! [`super::NamespacesConfig::leave_init`]).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{sys, Bind, Limits, Program, SandboxError};

/// The tag byte that carries the egress listener on the egress channel.
pub const LISTENER_SENT: u8 = 0;

/// The tag byte that carries the listener of service `index` (of [`InitSpec::services`]).
pub const fn service_tag(index: usize) -> u8 {
    index as u8 + 1
}

/// At most this many services per session: each needs its own tag byte.
pub const MAX_SERVICES: usize = u8::MAX as usize;

/// Everything the init process needs, sent as JSON over its stdin.
#[derive(Serialize, Deserialize)]
pub struct InitSpec {
    /// `None`: a fresh tmpfs (see [`super::SessionSpec::worktree`]).
    pub worktree: Option<PathBuf>,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub limits: Limits,
    pub hide: Vec<PathBuf>,
    /// Host directories to show read-only at the same path (resolved; see
    /// [`super::NamespacesConfig::mounts`]).
    pub mounts: Vec<PathBuf>,
    /// Where each of `mounts` is bound from: the host path itself, or (as root) its staging
    /// place (see [`super::staging`]). Set by the init, not sent.
    #[serde(skip)]
    pub mount_sources: Vec<PathBuf>,
    /// The system root directory in place of the host's system directories (resolved; see
    /// [`super::SessionSpec::system`]).
    pub system: Option<PathBuf>,
    /// Where `system` is bound from: as root, its staging place (see [`super::staging`]).
    /// Set by the init, not sent.
    #[serde(skip)]
    pub system_source: Option<PathBuf>,
    /// Where the command starts, inside.
    pub workdir: PathBuf,
    /// Host directories bound under the session's `/tmp` (resolved; see
    /// [`super::SessionSpec::binds`]).
    pub binds: Vec<Bind>,
    /// Where each of `binds` is bound from: as root, its staging place. Set by the init, not
    /// sent.
    #[serde(skip)]
    pub bind_sources: Vec<PathBuf>,
    /// cgroup files to join before anything else (`tasks`, or v2 `cgroup.procs`).
    pub cgroup_tasks: Vec<PathBuf>,
    /// With [`InitSpec::leave_first`]: the files that take PID 1 back into agen's own groups
    /// at the end (see [`super::cgroup::CgroupSupport::home`]).
    pub cgroup_home: Vec<PathBuf>,
    /// The unprivileged host uid/gid the session runs as when agen runs as root.
    pub host_uid: u32,
    /// Set RLIMIT_AS (when no memory cgroup holds the tree).
    pub limit_address_space: bool,
    /// agen's pid: init gives up if its parent is already gone.
    pub parent_pid: u32,
    /// Once the command has ended, PID 1 kills and reaps the rest and leaves the session's
    /// cgroups before it reports the command's status (see
    /// [`super::NamespacesConfig::leave_init`]).
    pub leave_first: bool,
    /// Loopback ports to listen on and hand to agen (see [`super::LocalService`]).
    pub services: Vec<u16>,
    /// Host files to mount read-only under [`super::PROGRAMS_INSIDE`] (host paths resolved).
    pub programs: Vec<Program>,
}

// agen's half.

/// Sends `spec` (its length, then JSON) on `control`, with `channel` (the init's end of the
/// egress channel) attached.
pub(super) fn send_spec(
    control: &UnixStream,
    channel: &UnixStream,
    spec: &InitSpec,
) -> Result<(), SandboxError> {
    let framed = frame(spec)?;
    let sent = send_framed(control, channel, &framed, 0)?;
    (&*control)
        .write_all(&framed[sent..])
        .map_err(SandboxError::io("sending the session spec"))
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
pub(super) fn go(control: &UnixStream) -> Result<(), SandboxError> {
    control
        .shutdown(Shutdown::Write)
        .map_err(SandboxError::io("starting the session"))
}

// The init's half.

/// The spec (its length as 4 bytes, then as much JSON) and the egress channel that came with
/// it.
pub(super) fn read_spec(control: &UnixStream) -> io::Result<(InitSpec, OwnedFd)> {
    let mut raw = Vec::new();
    let mut channel = None;
    let mut wanted = 4;
    let mut buf = [0u8; 8 * 1024];
    while raw.len() < wanted {
        // Never past the spec: what follows (the end of the stream) is agen's go.
        let room = (wanted - raw.len()).min(buf.len());
        let (n, fds) = match sys::recv_with_fds(control.as_raw_fd(), &mut buf[..room]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            got => got?,
        };
        channel = channel.or(fds.into_iter().next());
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the spec ended early",
            ));
        }
        raw.extend_from_slice(&buf[..n]);
        if wanted == 4 && raw.len() >= 4 {
            wanted += u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        }
    }
    let spec: InitSpec = serde_json::from_slice(&raw[4..])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad spec: {e}")))?;
    let channel =
        channel.ok_or_else(|| io::Error::other("no egress channel came with the spec"))?;
    Ok((spec, channel))
}

/// Waits for agen's go: the end of the control stream, once the session's cgroups exist.
pub(super) fn wait_for_go(control: &UnixStream) -> io::Result<()> {
    let mut buf = [0u8; 16];
    loop {
        match (&*control).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => return Err(io::Error::other("unexpected data after the spec")),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
