//! No copy of code agen may no longer read: a repository's mirror and spare go when its
//! grant does (removed from the installation, installation deleted or suspended).

use std::fs;

use super::{fsutil, WorkspaceError, Workspaces};
use crate::ids::RepoId;

impl Workspaces {
    /// The repositories that have a mirror here.
    pub fn mirrored(&self) -> Vec<RepoId> {
        let Ok(entries) = fs::read_dir(self.root.join("mirrors")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".git")?.parse().ok().map(RepoId)
            })
            .collect()
    }

    /// Removes the repository's mirror and spare, waiting for a fetch in progress to end.
    pub fn forget(&self, repo: RepoId) -> Result<(), WorkspaceError> {
        let mirrors = self.root.join("mirrors");
        let lock_path = mirrors.join(format!("{repo}.lock"));
        let _lock = fsutil::lock(&lock_path, true)
            .map_err(|e| WorkspaceError::io(lock_path.display().to_string(), e))?;
        let spares = self.root.join("spares");
        // And for a spare being built.
        let spare_lock = spares.join(format!("{repo}.lock"));
        let _spare = fsutil::lock(&spare_lock, true)
            .map_err(|e| WorkspaceError::io(spare_lock.display().to_string(), e))?;
        // The mirror last: once it is gone, so is everything made from it.
        for dir in [
            spares.join(repo.to_string()),
            spares.join(format!("{repo}.build")),
            mirrors.join(format!("{repo}.git")),
        ] {
            if dir.exists() {
                fsutil::remove_tree(&dir)
                    .map_err(|e| WorkspaceError::io(dir.display().to_string(), e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
