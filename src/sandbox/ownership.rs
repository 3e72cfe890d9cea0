//! The worktree is lent to the session's unprivileged host uid when agen runs as root, and
//! given back to its owner afterwards (git, run by agen, refuses repositories owned by
//! someone else).

use std::fs;
use std::io;
use std::os::unix::fs::{lchown, MetadataExt};
use std::path::Path;

/// Owner (uid, gid) of `path`.
pub fn owner(path: &Path) -> io::Result<(u32, u32)> {
    let meta = fs::symlink_metadata(path)?;
    Ok((meta.uid(), meta.gid()))
}

/// Changes the owner of everything under `dir` without following symbolic links. Only call
/// it while no session process can change the tree.
pub fn chown_tree(dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    lchown(dir, Some(uid), Some(gid))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            chown_tree(&entry.path(), uid, gid)?;
        } else {
            lchown(entry.path(), Some(uid), Some(gid))?;
        }
    }
    Ok(())
}
