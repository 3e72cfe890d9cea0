//! The session's init as agen holds it: started (executed or forked), watched through a
//! pidfd, killed and reaped; and what goes over the control socket and the egress channel
//! between the two.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

use super::init::{self, INIT_ARG};
use super::SandboxError;

/// The session's init process: agen's child, watched through a pidfd. Killed and reaped on
/// drop unless it already was.
pub(super) struct InitProcess {
    pid: libc::pid_t,
    pub(super) pidfd: OwnedFd,
    reaped: bool,
    /// Killed, and left for agen's exit to hand over to the host's init (see
    /// [`NamespacesConfig::leave_init`](super::NamespacesConfig::leave_init)).
    left: bool,
}

impl InitProcess {
    /// Executes `agen __sandbox-init` with the control socket as stdin and the output pipe as
    /// stdout and stderr.
    pub(super) fn exec(
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
    pub(super) fn fork(
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

    pub(super) fn kill(&mut self) {
        if !self.reaped {
            // SAFETY: our child, not yet reaped, so the pid is still its own.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    /// Kills it and leaves it unreaped: a zombie until agen exits.
    pub(super) fn leave(&mut self) {
        self.kill();
        self.left = true;
    }

    /// Its exit code (-1 when killed by a signal) once it has exited.
    pub(super) fn try_wait(&mut self) -> io::Result<Option<i32>> {
        self.wait_with(libc::WNOHANG)
    }

    pub(super) fn wait(&mut self) -> io::Result<i32> {
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
/// listener's, [`LISTENER_SENT`](super::protocol::LISTENER_SENT), or a service's,
/// [`super::protocol::service_tag`]); non-blocking, ready for
/// [`EgressProxy::accept_all`](super::egress::EgressProxy::accept_all) or the service. One
/// message at a time: each is one byte.
pub(super) fn receive_listener(channel: &UnixStream) -> Option<(u8, TcpListener)> {
    let mut tag = [0u8; 1];
    let (n, fds) = super::sys::recv_with_fds(channel.as_raw_fd(), &mut tag).ok()?;
    let listener = TcpListener::from(fds.into_iter().next()?);
    if n != 1 {
        return None;
    }
    listener.set_nonblocking(true).ok()?;
    Some((tag[0], listener))
}
