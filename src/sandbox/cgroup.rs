//! Whole-tree memory and process limits through cgroup v1 (`memory`, `pids`), and the tree's
//! CPU time (`cpuacct`, watched by agen), when agen may create child groups of its own. Each session gets `agen-sandbox-<agen pid>-<id>` under
//! agen's group; the pid lets a sweep tell a crashed owner's groups from a live one's.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PREFIX: &str = "agen-sandbox-";

/// Where this host lets agen create session groups, per controller.
#[derive(Clone, Debug, Default)]
pub struct CgroupSupport {
    pub memory: Option<PathBuf>,
    pub pids: Option<PathBuf>,
    pub cpuacct: Option<PathBuf>,
}

impl CgroupSupport {
    /// Finds agen's own v1 groups and checks that agen may make child groups in each.
    pub fn probe() -> CgroupSupport {
        let own = super::sys::read_small(Path::new("/proc/self/cgroup")).unwrap_or_default();
        CgroupSupport {
            memory: usable_parent(&own, "memory"),
            pids: usable_parent(&own, "pids"),
            cpuacct: usable_parent(&own, "cpuacct"),
        }
    }

    /// Removes session groups whose agen process is gone (left by a crash).
    pub fn sweep_leftovers(&self) {
        for parent in [&self.memory, &self.pids, &self.cpuacct]
            .into_iter()
            .flatten()
        {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let owner = name
                    .strip_prefix(PREFIX)
                    .and_then(|rest| rest.split('-').next())
                    .and_then(|pid| pid.parse::<libc::pid_t>().ok());
                if owner.is_some_and(|pid| !alive(pid)) {
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
    }
}

/// One session's groups: named first ([`plan`](SessionCgroups::plan)), so the init can be
/// started with their paths while agen makes them ([`create`](SessionCgroups::create));
/// removed on drop (after the tree is dead).
pub struct SessionCgroups {
    memory: Option<PathBuf>,
    pids: Option<PathBuf>,
    cpuacct: Option<PathBuf>,
    made: Vec<PathBuf>,
}

impl SessionCgroups {
    pub fn plan(support: &CgroupSupport, id: &str) -> SessionCgroups {
        let name = format!("{PREFIX}{}-{id}", std::process::id());
        let dir = |parent: &Option<PathBuf>| parent.as_ref().map(|p| p.join(&name));
        SessionCgroups {
            memory: dir(&support.memory),
            pids: dir(&support.pids),
            cpuacct: dir(&support.cpuacct),
            made: Vec::new(),
        }
    }

    /// Makes the groups and sets their limits.
    pub fn create(&mut self, memory_bytes: u64, max_processes: u64) -> io::Result<()> {
        if let Some(dir) = self.memory.clone() {
            self.make(&dir)?;
            write(&dir, "memory.limit_in_bytes", memory_bytes)?;
            // Without this, a hog would push its pages to swap instead of being killed. The
            // file exists only where swap is accounted.
            match write(&dir, "memory.memsw.limit_in_bytes", memory_bytes) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => other?,
            }
        }
        if let Some(dir) = self.pids.clone() {
            self.make(&dir)?;
            write(&dir, "pids.max", max_processes)?;
        }
        if let Some(dir) = self.cpuacct.clone() {
            self.make(&dir)?;
        }
        Ok(())
    }

    /// CPU time used by the whole tree so far, where a cpuacct group counts it.
    pub fn cpu_used(&self) -> Option<Duration> {
        let usage = self.cpuacct.as_ref()?.join("cpuacct.usage");
        let text = super::sys::read_small(&usage).ok()?;
        text.trim().parse().ok().map(Duration::from_nanos)
    }

    /// The `tasks` files the session's init joins itself to, by writing "0" (itself) while
    /// still single-threaded. Moving one thread this way skips the kernel's global
    /// threadgroup lock that a `cgroup.procs` write takes (an RCU wait: ~15 ms per launch).
    pub fn tasks_files(&self) -> Vec<PathBuf> {
        [&self.memory, &self.pids, &self.cpuacct]
            .into_iter()
            .flatten()
            .map(|d| d.join("tasks"))
            .collect()
    }

    fn make(&mut self, dir: &Path) -> io::Result<()> {
        fs::create_dir(dir)?;
        self.made.push(dir.to_path_buf());
        Ok(())
    }
}

impl SessionCgroups {
    /// Removes the groups; true when all are gone, which also proves no process is left in
    /// them. The kernel may still be tearing down the last processes: retries briefly.
    pub fn remove(mut self) -> bool {
        self.remove_dirs()
    }

    fn remove_dirs(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut all = true;
        for dir in self.made.drain(..) {
            while fs::remove_dir(&dir).is_err() {
                if Instant::now() >= deadline {
                    all = false;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        all
    }
}

impl Drop for SessionCgroups {
    fn drop(&mut self) {
        self.remove_dirs();
    }
}

fn alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let ret = unsafe { libc::kill(pid, 0) };
    ret == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
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

fn usable_parent(own: &str, controller: &str) -> Option<PathBuf> {
    let rel = own_group(own, controller)?;
    let parent = Path::new("/sys/fs/cgroup").join(controller).join(rel);
    let parent_c = super::sys::cstr(&parent).ok()?;
    // SAFETY: access(2) on a valid path; it only checks permissions (and a read-only mount).
    let writable = unsafe { libc::access(parent_c.as_ptr(), libc::W_OK) } == 0;
    writable.then_some(parent)
}

#[cfg(test)]
mod tests {
    use super::own_group;

    #[test]
    fn finds_own_v1_group_per_controller() {
        let own = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n";
        assert_eq!(own_group(own, "memory").as_deref(), Some("process_api/abc"));
        assert_eq!(own_group(own, "cpuacct").as_deref(), Some("x"));
        assert_eq!(own_group(own, "pids"), None);
    }
}
