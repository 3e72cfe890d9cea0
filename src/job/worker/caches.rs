//! The repository's caches (`cache:` in `.github/agen.yml`, paths under the session's home):
//! a directory each under `<data dir>/caches/<repository id>/`, kept between jobs. Setup
//! steps write them; the agent's and the pipeline's sessions see them read-only, so nothing
//! a session plants reaches the next job. They count against `AGEN_CACHE_MAX_MB` per
//! repository (over it they are emptied after setup) and go with the repository's grant.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::job_run::{JobError, JobRun};
use crate::ids::RepoId;
use crate::sandbox::Bind;

/// The session's home, where `~/` of a cache entry points.
const HOME_INSIDE: &str = "/tmp";

/// Where the caches of `repo` live under `root` (`<data dir>/caches`).
pub fn repo_dir(root: &Path, repo: RepoId) -> PathBuf {
    root.join(repo.to_string())
}

impl JobRun<'_> {
    /// The repository's caches as binds, writable or not.
    pub(super) fn cache_binds(&self, writable: bool) -> Result<Vec<Bind>, JobError> {
        let dir = repo_dir(&self.ctx.cache_dir, self.job.repo_id);
        self.config
            .cache
            .iter()
            .map(|entry| {
                let name = hex::encode(&Sha256::digest(entry.as_bytes())[..8]);
                let host = dir.join(name);
                std::fs::create_dir_all(&host)
                    .map_err(|e| JobError::Internal(format!("cache {}: {e}", host.display())))?;
                Ok(Bind {
                    host,
                    inside: Path::new(HOME_INSIDE).join(entry),
                    writable,
                })
            })
            .collect()
    }

    /// After setup: caches over the server's cap are emptied (said in the session log).
    pub(super) fn cap_caches(&self) -> Result<(), JobError> {
        if self.config.cache.is_empty() {
            return Ok(());
        }
        let dir = repo_dir(&self.ctx.cache_dir, self.job.repo_id);
        let bytes = size(&dir);
        let cap = self.ctx.settings.cache_max_bytes;
        if bytes > cap {
            crate::workspace::remove_tree(&dir)
                .map_err(|e| JobError::Internal(format!("emptying {}: {e}", dir.display())))?;
            let line = format!(
                "the caches hold {} MB, above AGEN_CACHE_MAX_MB ({} MB): emptied, the next job's \
                 setup fills them again\n",
                bytes >> 20,
                cap >> 20
            );
            self.log.append("caches", line.as_bytes());
        }
        Ok(())
    }
}

/// The bytes of the files under `dir` (links not followed).
fn size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(_) => total += entry.metadata().map_or(0, |m| m.len()),
                Err(_) => {}
            }
        }
    }
    total
}
