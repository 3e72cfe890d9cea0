//! Whole-tree memory and process limits through cgroup v1 (`memory`, `pids`), and the tree's
//! CPU time (`cpuacct`, watched by agen), when agen may create child groups of its own; where
//! the host has none of those v1 controllers, the same through cgroup v2 (`memory.max`,
//! `pids.max`, `cpu.stat`), when agen's own v2 group is delegated to it.
//!
//! Sessions take their groups from a pool shared by every agen on the host: slot `n` is
//! `agen-sandbox-pool-<n>` under agen's group in each controller, made the first time it is
//! needed and kept. Making and removing v1 groups for every session is slow, and a removed
//! memory group lingers in the kernel for a while. A session holds its slot through an
//! exclusive flock on the slot's first group directory, which the kernel drops if agen dies;
//! a slot is only taken while its groups hold no process.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POOL_PREFIX: &str = "agen-sandbox-pool-";

/// Where this host lets agen create session groups, per controller (with cgroup v2, one group
/// serves all three).
#[derive(Clone, Debug, Default)]
pub struct CgroupSupport {
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
    pub v2: bool,
    /// The files that take a process back into agen's own groups: v1, the groups the pool
    /// lives in; v2, the one agen lives in, a leaf beside the pool's where agen had to move
    /// (a v2 group whose children have controllers may hold no process, the root aside).
    pub home: Vec<PathBuf>,
}

impl CgroupSupport {
    /// Finds agen's own v1 groups and checks that agen may make child groups in each; where
    /// there is none, agen's own v2 group (see [`v2_parent`]).
    pub fn probe() -> CgroupSupport {
        let own = super::sys::read_small(Path::new("/proc/self/cgroup")).unwrap_or_default();
        let mut v1 = CgroupSupport {
            memory: usable_parent(&own, "memory"),
            pids: usable_parent(&own, "pids"),
            cpuacct: usable_parent(&own, "cpuacct"),
            v2: false,
            home: Vec::new(),
        };
        let parents = [&v1.memory, &v1.pids, &v1.cpuacct];
        v1.home = parents
            .iter()
            .copied()
            .flatten()
            .map(|p| p.join("tasks"))
            .collect();
        if !v1.home.is_empty() {
            return v1;
        }
        match v2_parent(&own) {
            Some((parent, home)) => CgroupSupport {
                memory: Some(parent.clone()),
                pids: Some(parent.clone()),
                cpuacct: Some(parent),
                v2: true,
                home: vec![home.join("cgroup.procs")],
            },
            None => v1,
        }
    }
}

/// One session's groups: a pool slot, taken ([`claim`](SessionCgroups::claim)) so the init can
/// be started with their paths while agen sets their limits
/// ([`set_limits`](SessionCgroups::set_limits)); given back on drop.
pub struct SessionCgroups {
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    cpuacct: Option<PathBuf>,
    v2: bool,
    /// v2: the group's `usage_usec` when the session took it (it cannot be reset).
    cpu_base: Duration,
    /// The slot's lock; None when no controller is usable.
    _lock: Option<OwnedFd>,
}

impl SessionCgroups {
    /// Takes the first free, empty slot of the pool, making its groups if need be.
    pub fn claim(support: &CgroupSupport) -> io::Result<SessionCgroups> {
        let parents = [&support.memory, &support.pids, &support.cpuacct];
        if parents.iter().all(|p| p.is_none()) {
            return Ok(SessionCgroups {
                memory: None,
                pids: None,
                cpuacct: None,
                v2: false,
                cpu_base: Duration::ZERO,
                _lock: None,
            });
        }
        for slot in 0.. {
            let name = format!("{POOL_PREFIX}{slot}");
            let dir = |parent: &Option<PathBuf>| parent.as_ref().map(|p| p.join(&name));
            let mut session = SessionCgroups {
                memory: dir(&support.memory),
                pids: dir(&support.pids),
                cpuacct: dir(&support.cpuacct),
                v2: support.v2,
                cpu_base: Duration::ZERO,
                _lock: None,
            };
            for group in session.groups() {
                match fs::create_dir(group) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                        return Err(io::Error::new(
                            e.kind(),
                            format!("{}: {e}", group.display()),
                        ))
                    }
                    _ => {}
                }
            }
            let first = session.groups().next().expect("a usable controller");
            let Some(lock) = lock_dir(first)? else {
                continue;
            };
            // A process still there (the end of a killed session): another slot.
            if session.all_empty() {
                session._lock = Some(lock);
                session.cpu_base = session.cpu_used().unwrap_or_default();
                return Ok(session);
            }
        }
        unreachable!("the pool has no end")
    }

    /// Sets the slot's limits for this session and starts its CPU time from zero.
    pub fn set_limits(&self, memory_bytes: u64, max_processes: u64) -> io::Result<()> {
        if let Some(dir) = &self.memory {
            if self.v2 {
                set_v2_memory_limit(dir, memory_bytes)?;
            } else {
                set_memory_limit(dir, memory_bytes)?;
            }
        }
        if let Some(dir) = &self.pids {
            write(dir, "pids.max", max_processes)?;
        }
        match &self.cpuacct {
            Some(dir) if !self.v2 => write(dir, "cpuacct.usage", 0),
            _ => Ok(()),
        }
    }

    /// CPU time used by the whole tree so far, where a group counts it.
    pub fn cpu_used(&self) -> Option<Duration> {
        let dir = self.cpuacct.as_ref()?;
        if !self.v2 {
            let text = super::sys::read_small(&dir.join("cpuacct.usage")).ok()?;
            return text.trim().parse().ok().map(Duration::from_nanos);
        }
        let text = super::sys::read_small(&dir.join("cpu.stat")).ok()?;
        let usec: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))?
            .trim()
            .parse()
            .ok()?;
        Some(Duration::from_micros(usec).saturating_sub(self.cpu_base))
    }

    /// The files the session's init joins itself to, by writing "0" (itself) while still
    /// single-threaded: v1 `tasks`, where moving one thread this way skips the kernel's global
    /// threadgroup lock that a `cgroup.procs` write takes (an RCU wait: ~15 ms per launch
    /// measured here); v2 `cgroup.procs`, which has no such way round it.
    pub fn tasks_files(&self) -> Vec<PathBuf> {
        self.groups().map(|d| d.join(tasks_file(self.v2))).collect()
    }

    /// Waits (briefly: the kernel may still be tearing down the last processes) until the
    /// groups hold no process; true when they are empty, which proves no process of the
    /// session is left. The slot is given back once `self` is dropped.
    pub fn wait_empty(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if self.all_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the session has groups and they hold no process now: proof that no session
    /// process is left to run. False where there are no groups to prove it.
    pub fn proven_empty(&self) -> bool {
        self.groups().next().is_some() && self.all_empty()
    }

    /// Whether no group holds a process (true where there are no groups).
    fn all_empty(&self) -> bool {
        self.groups().all(|g| is_empty(g, self.v2).unwrap_or(false))
    }

    /// Each group once (with v2, one serves all three).
    fn groups(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.memory, &self.pids, &self.cpuacct]
            .into_iter()
            .flatten()
            .take(if self.v2 { 1 } else { 3 })
    }
}

/// The memory limit, swap included where swap is accounted. The kernel keeps
/// `memory.memsw.limit_in_bytes` at least `memory.limit_in_bytes`: when a slot's limit goes up,
/// the swap limit has to go first.
fn set_memory_limit(dir: &Path, bytes: u64) -> io::Result<()> {
    let memsw = || match write(dir, "memory.memsw.limit_in_bytes", bytes) {
        // The file exists only where swap is accounted.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    };
    match write(dir, "memory.limit_in_bytes", bytes) {
        // EINVAL (`write` keeps only the kind): above the swap limit.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
            memsw()?;
            write(dir, "memory.limit_in_bytes", bytes)
        }
        // Without this, a hog would push its pages to swap instead of being killed.
        other => other.and_then(|()| memsw()),
    }
}

/// An exclusive flock on directory `dir`, or None when another holds one.
fn lock_dir(dir: &Path) -> io::Result<Option<OwnedFd>> {
    let file = fs::File::open(dir)?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(file.into()));
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(None)
    } else {
        Err(err)
    }
}

fn is_empty(group: &Path, v2: bool) -> io::Result<bool> {
    Ok(super::sys::read_small(&group.join(tasks_file(v2)))?
        .trim()
        .is_empty())
}

/// The file that lists a group's processes, and that a process joins by writing "0" to.
fn tasks_file(v2: bool) -> &'static str {
    if v2 {
        "cgroup.procs"
    } else {
        "tasks"
    }
}

/// v2: the memory limit, and no swap (a hog is killed instead of pushing its pages out).
fn set_v2_memory_limit(dir: &Path, bytes: u64) -> io::Result<()> {
    write(dir, "memory.max", bytes)?;
    match write(dir, "memory.swap.max", 0) {
        // The file exists only where swap is accounted.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Writes `value` to a control file that must exist (no create: NotFound when it does not).
fn write(dir: &Path, file: &str, value: u64) -> io::Result<()> {
    use std::io::Write;
    let path = dir.join(file);
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.to_string().as_bytes()))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// agen's group for a v1 `controller`, from the text of /proc/self/cgroup, relative to the
/// controller's mount.
fn own_group(own: &str, controller: &str) -> Option<String> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.trim_start_matches('/').to_string())
    })
}

/// agen's own cgroup v2 group, made ready to hold session groups: it offers `memory` and
/// `pids`, agen may write there, and both are enabled for its children. A v2 group with
/// processes cannot enable controllers for children ("no internal processes"), so agen
/// first moves itself into a leaf of its own, `agen`. That group, and the one agen lives in
/// now; None where any of that fails.
fn v2_parent(own: &str) -> Option<(PathBuf, PathBuf)> {
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mountinfo = super::sys::read_small(Path::new("/proc/self/mountinfo")).ok()?;
    let mount = cgroup2_mount(&mountinfo)?;
    let parent = mount.join(rel.trim_start_matches('/'));
    let offered = super::sys::read_small(&parent.join("cgroup.controllers")).ok()?;
    if !["memory", "pids"]
        .iter()
        .all(|c| offered.split_whitespace().any(|o| o == *c))
    {
        return None;
    }
    let enable = |dir: &Path| fs::write(dir.join("cgroup.subtree_control"), "+memory +pids");
    match enable(&parent) {
        Ok(()) => Some((parent.clone(), parent)),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let leaf = parent.join("agen");
            let _ = fs::create_dir(&leaf);
            fs::write(leaf.join("cgroup.procs"), "0").ok()?;
            enable(&parent).ok()?;
            Some((parent, leaf))
        }
        Err(_) => None,
    }
}

/// Where cgroup v2 is mounted, from the text of /proc/self/mountinfo.
fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(point))
    })
}

fn usable_parent(own: &str, controller: &str) -> Option<PathBuf> {
    let rel = own_group(own, controller)?;
    let parent = Path::new("/sys/fs/cgroup").join(controller).join(rel);
    let parent_c = super::sys::cstr(&parent).ok()?;
    // SAFETY: access(2) on a valid path; it only checks permissions (and a read-only mount).
    let writable = unsafe { libc::access(parent_c.as_ptr(), libc::W_OK) } == 0;
    writable.then_some(parent)
}

#[cfg(test)]
mod tests;
