//! The session log: what the agent and the pipeline printed, redacted, one file per job in
//! `<data dir>/logs/`. Users read it through the job page and can delete it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::scan::redact;

pub struct SessionLog {
    path: PathBuf,
    secrets: Vec<String>,
    /// Past this size nothing more is kept (`AGEN_LOG_MAX_BYTES`); the cut is marked.
    max_bytes: u64,
}

impl SessionLog {
    pub fn new(
        dir: &Path,
        job: crate::ids::JobId,
        secrets: Vec<String>,
        max_bytes: u64,
    ) -> SessionLog {
        SessionLog {
            path: crate::store::log_deletions::session_log_path(dir, job),
            secrets,
            max_bytes,
        }
    }

    /// Every secret this job knows of: what must never be pushed or shown.
    pub fn secrets(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets())
    }

    /// Appends one session's output under a heading, as much as the cap leaves room for.
    /// Failing to log never fails the job.
    pub fn append(&self, heading: &str, output: &[u8]) {
        let mut entry = format!("==> {heading}\n");
        entry.push_str(&self.redact(&String::from_utf8_lossy(output)));
        if !entry.ends_with('\n') {
            entry.push('\n');
        }
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let used = file.metadata()?.len();
            if used >= self.max_bytes {
                // Cut (and marked) already.
                return Ok(());
            }
            let room = (self.max_bytes - used) as usize;
            if entry.len() <= room {
                return file.write_all(entry.as_bytes());
            }
            let mut cut = room;
            while !entry.is_char_boundary(cut) {
                cut -= 1;
            }
            file.write_all(&entry.as_bytes()[..cut])?;
            writeln!(
                file,
                "\n[the session log is cut here: it reached AGEN_LOG_MAX_BYTES ({} bytes); later \
                 output is not kept]",
                self.max_bytes
            )
        };
        if let Err(e) = write() {
            tracing::warn!(path = %self.path.display(), "cannot write the session log: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
