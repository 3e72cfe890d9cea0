//! Per-session entries under `<base>/sessions/`, removed at the end; leftovers from a crash are
//! removed when the backend starts.
//!
//! A [`SessionLock`] is one file (a sandbox session needs no host directory), a
//! [`SessionDir`] a directory with a `lock` file inside (scratch worktrees). Each session holds
//! an exclusive `flock` on its lock file while it runs, so a sweep by another agen process
//! sharing the data dir never removes a live session.
//!
//! Files, not directories, where that is enough: on ext4 mounted with `discard`, removing a
//! directory frees its block with a synchronous discard, milliseconds per session.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A running session's marker: `<base>/sessions/<id>`, a file locked for the session's life
/// and removed at its end.
/// `<base>/sessions/<random id>` (the sessions dir is made if missing; the path itself is not).
fn new_session_path(base: &Path) -> io::Result<PathBuf> {
    let sessions = base.join("sessions");
    fs::create_dir_all(&sessions)?;
    let id: u64 = rand::random();
    Ok(sessions.join(format!("{id:016x}")))
}

pub struct SessionLock {
    path: PathBuf,
    // Held (and locked) for the life of the session.
    _lock: File,
}

impl SessionLock {
    pub fn create(base: &Path) -> io::Result<SessionLock> {
        let path = new_session_path(base)?;
        let lock = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        if !try_lock(&lock)? {
            return Err(io::Error::other("fresh session lock is already locked"));
        }
        Ok(SessionLock { path, _lock: lock })
    }

    pub fn id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), "cannot remove session lock: {e}");
        }
    }
}

pub struct SessionDir {
    path: PathBuf,
    // Held (and locked) for the life of the session.
    _lock: File,
}

impl SessionDir {
    pub fn create(base: &Path) -> io::Result<SessionDir> {
        let path = new_session_path(base)?;
        fs::create_dir(&path)?;
        let lock = File::create(path.join("lock"))?;
        if !try_lock(&lock)? {
            return Err(io::Error::other(
                "fresh session directory is already locked",
            ));
        }
        Ok(SessionDir { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Drop for SessionDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), "cannot remove session directory: {e}");
        }
    }
}

/// Removes session entries nobody holds a lock on (left by a crash). Returns how many.
pub fn sweep_leftovers(base: &Path) -> usize {
    let Ok(entries) = fs::read_dir(base.join("sessions")) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let lock_path = if is_dir {
            path.join("lock")
        } else {
            path.clone()
        };
        let free = match File::open(&lock_path) {
            Ok(lock) => try_lock(&lock).unwrap_or(false),
            // No lock file: a crash between mkdir and lock, or something foreign; either way
            // nothing runs there.
            Err(_) => true,
        };
        if !free {
            continue;
        }
        let gone = if is_dir {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}

fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor we own.
    let ret = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if ret == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}
