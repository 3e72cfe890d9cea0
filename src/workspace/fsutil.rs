//! File locks and tree removal. `flock` locks belong to the open file, so they exclude other
//! threads of agen as well as other agen processes sharing the data dir, and the kernel
//! drops them when a process dies (a crash never leaves a mirror locked).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// An exclusive `flock`, released on drop with an explicit `LOCK_UN`: merely closing the
/// file would leave it held while any child that another thread is forking at that moment
/// still has a copy of the descriptor (until it execs).
#[derive(Debug)]
pub(crate) struct Lock(File);

impl Drop for Lock {
    fn drop(&mut self) {
        // SAFETY: flock on a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Opens (creating) `path` and locks it exclusively, waiting for the lock when `wait`.
/// `Ok(None)`: someone else holds it and `wait` is false.
pub(crate) fn lock(path: &Path, wait: bool) -> io::Result<Option<Lock>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    let mut op = libc::LOCK_EX;
    if !wait {
        op |= libc::LOCK_NB;
    }
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(Some(Lock(file)));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !wait => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// Removes `path` and everything under it. The agent may have left directories without
/// write or search permission (which stops removal when agen is not root), so on failure
/// permissions are opened up (never following symbolic links) and removal is tried again.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            open_up(path);
            fs::remove_dir_all(path)
        }
    }
}

fn open_up(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            open_up(&entry.path());
        }
    }
}

/// Writes `contents` to `path` (creating parent directories).
pub(crate) fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents)
}

#[cfg(test)]
mod tests;
