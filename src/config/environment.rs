//! What every session gets from the host beside the system directories: toolchain
//! directories shown read-only (`AGEN_SANDBOX_MOUNTS`), directories put in front of its
//! `PATH` (`AGEN_SANDBOX_PATH`) and plain variables (`AGEN_SANDBOX_ENV`).

use std::path::{Path, PathBuf};

use super::agents::{reserved_variable, variable_name};
use super::{err, ConfigError, Source};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionEnvironment {
    /// `AGEN_SANDBOX_MOUNTS`: host directories (resolved) shown read-only at the same path.
    pub mounts: Vec<PathBuf>,
    /// `AGEN_SANDBOX_PATH`: directories put in front of the session's `PATH`, in this order.
    pub path: Vec<String>,
    /// `AGEN_SANDBOX_ENV`: variables set in every session.
    pub env: Vec<(String, String)>,
}

impl SessionEnvironment {
    pub(super) fn load(src: &Source) -> Result<SessionEnvironment, ConfigError> {
        let hidden: Vec<PathBuf> = src
            .sandbox_hidden_paths()
            .iter()
            .map(|p| resolved(p))
            .collect();
        Ok(SessionEnvironment {
            mounts: mounts(src, &hidden)?,
            path: path(src)?,
            env: env(src)?,
        })
    }

    /// The session's `PATH`: these directories, then `base`.
    pub fn session_path(&self, base: &str) -> String {
        self.path
            .iter()
            .map(String::as_str)
            .chain([base])
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Symbolic links resolved where the path exists; absolute in any case.
fn resolved(path: &Path) -> PathBuf {
    path.canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

fn list(src: &Source, key: &str) -> Vec<String> {
    src.get(key)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn mounts(src: &Source, hidden: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
    const KEY: &str = "AGEN_SANDBOX_MOUNTS";
    let mut out: Vec<PathBuf> = Vec::new();
    for raw in list(src, KEY) {
        let given = Path::new(&raw);
        if !given.is_absolute() {
            return Err(err(
                KEY,
                format!("names {raw}, which is not an absolute path"),
            ));
        }
        let dir = given
            .canonicalize()
            .ok()
            .filter(|d| d.is_dir())
            .ok_or_else(|| {
                err(
                    KEY,
                    format!("names {raw}, which is not a directory on this host"),
                )
            })?;
        if let Some(secret) = hidden
            .iter()
            .find(|h| dir.starts_with(h) || h.starts_with(&dir))
        {
            return Err(err(
                KEY,
                format!(
                    "names {raw}, which would show {} (agen's data, database, key or config) \
                     to sessions",
                    secret.display()
                ),
            ));
        }
        if crate::sandbox::reserved_inside(&dir) {
            return Err(err(
                KEY,
                format!("names {raw}, where sessions have their own /, /work, /tmp, /proc, /dev or /opt/agen"),
            ));
        }
        if !out.contains(&dir) {
            out.push(dir);
        }
    }
    Ok(out)
}

fn path(src: &Source) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "AGEN_SANDBOX_PATH";
    list(src, KEY)
        .into_iter()
        .map(|dir| {
            if !dir.starts_with('/') || dir.contains([':', '\0']) {
                Err(err(
                    KEY,
                    format!("names {dir}, which is not an absolute path without `:`"),
                ))
            } else {
                Ok(dir)
            }
        })
        .collect()
}

/// `NAME=value` pairs, comma separated; a comma inside a value is written `\,` (and a
/// backslash before a comma `\\`).
fn env(src: &Source) -> Result<Vec<(String, String)>, ConfigError> {
    const KEY: &str = "AGEN_SANDBOX_ENV";
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in split_escaped(src.get(KEY).unwrap_or("")) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, value)) = entry.split_once('=') else {
            return Err(err(KEY, format!("has `{entry}`, which is not NAME=value")));
        };
        let name = name.trim();
        if !variable_name(name) || value.contains('\0') {
            return Err(err(KEY, format!("has `{entry}`, which is not NAME=value")));
        }
        if reserved_variable(name) {
            return Err(err(
                KEY,
                format!(
                    "sets {name}, which agen sets itself for every session \
                     (the model gateway's, the proxy's and agen's variables, PATH, HOME, \
                     *_API_KEY); remove it"
                ),
            ));
        }
        out.retain(|(k, _)| k != name);
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Splits at commas not escaped as `\,`; `\\` is one backslash.
fn split_escaped(raw: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(&next @ (',' | '\\'))) => {
                chars.next();
                parts.last_mut().expect("never empty").push(next);
            }
            (',', _) => parts.push(String::new()),
            (c, _) => parts.last_mut().expect("never empty").push(c),
        }
    }
    parts
}

#[cfg(test)]
mod tests;
