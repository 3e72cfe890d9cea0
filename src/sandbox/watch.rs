//! A session while it runs, as agen sees it: its init started, the spec sent, then the
//! watch to its end (output, the init's exit, listeners handed over, egress connections, the
//! wall clock, the whole tree's CPU time and the stop handle), and how it ended.

use std::io::{self, Read};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::cgroup::SessionCgroups;
use super::egress::EgressProxy;
use super::init::SETUP_FAILED;
use super::init_process::{receive_listener, InitProcess};
use super::output_cap::Capped;
use super::protocol::{self, InitSpec, LISTENER_SENT};
use super::{Outcome, Report, SandboxError, SessionSpec, StopHandle};

/// How often the watcher wakes, at the latest, to check the CPU time and the stop handle
/// (output, the session's end, egress connections and the deadline wake it at once).
const TICK: Duration = Duration::from_millis(50);

/// Once the tree is killed, how long to wait for the last writers to go.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(3);

/// A session's init, started, and agen's ends of what connects them.
///
/// agen keeps a write end of the output pipe and the init's end of the egress channel open
/// while the init runs: neither can then wake the watcher by closing as the init exits, and the
/// init's exit is seen once, through its pidfd.
pub(super) struct Started {
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
    /// [`init::run_forked`](super::init::run_forked)), without the cost of starting agen
    /// again; a multi-threaded one (the server) executes `agen __sandbox-init`, since a forked
    /// child could find a lock held by another thread forever.
    pub(super) fn new(agen_exe: &Path) -> Result<Started, SandboxError> {
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
    pub(super) fn send_spec(&self, spec: &InitSpec) -> Result<(), SandboxError> {
        let peer = self
            .egress_channel_peer
            .as_ref()
            .ok_or_else(|| SandboxError::Setup("the egress channel is gone".into()))?;
        protocol::send_spec(&self.control, peer, spec)
    }

    /// Lets the init go on past the cgroups (the end of the control stream).
    pub(super) fn go(&self) -> Result<(), SandboxError> {
        protocol::go(&self.control)
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
    /// [`NamespacesConfig::leave_init`](super::NamespacesConfig::leave_init)); then says true,
    /// the init killed but not reaped.
    pub(super) fn watch(
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

impl Drop for Started {
    fn drop(&mut self) {
        self.egress_channel_peer = None;
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

/// The command's wait status, as an outcome.
fn decode(status: i32) -> Outcome {
    if libc::WIFEXITED(status) {
        Outcome::Exited(libc::WEXITSTATUS(status))
    } else {
        Outcome::KilledBySignal(libc::WTERMSIG(status))
    }
}

#[cfg(test)]
mod tests;
