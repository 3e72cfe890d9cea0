//! The session log: what the agent and the pipeline printed, redacted, one file per job in
//! `<data dir>/logs/`. Users read it through the job page and can delete it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::scan::redact;

pub struct SessionLog {
    path: PathBuf,
    secrets: Vec<String>,
}

impl SessionLog {
    pub fn new(dir: &Path, job: crate::ids::JobId, secrets: Vec<String>) -> SessionLog {
        SessionLog {
            path: dir.join(format!("job-{job}.log")),
            secrets,
        }
    }

    /// Every secret this job knows of: what must never be pushed or shown.
    pub fn secrets(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets())
    }

    /// Appends one session's output under a heading. Failing to log never fails the job.
    pub fn append(&self, heading: &str, output: &[u8]) {
        let text = self.redact(&String::from_utf8_lossy(output));
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            writeln!(file, "==> {heading}")?;
            file.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(file)?;
            }
            Ok(())
        };
        if let Err(e) = write() {
            tracing::warn!(path = %self.path.display(), "cannot write the session log: {e}");
        }
    }
}
