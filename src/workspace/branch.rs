//! Names of the branches agen pushes: [`AgenBranch`] can only hold a name under `agen/`
//! (invariant 5); [`branch_for_issue`] picks a new one for each job.

use super::WorkspaceError;

pub(crate) const PREFIX: &str = "agen/";
const MAX_LEN: usize = 200;
const MAX_SLUG: usize = 40;

/// A branch name under `agen/`, from a strict subset of git's ref name rules: lowercase
/// ASCII letters, digits, `.`, `_`, `-` and `/`; no empty component (`//`, trailing `/`),
/// no component starting or ending with `.` or ending with `.lock`, no `..`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgenBranch(String);

impl AgenBranch {
    pub fn new(name: &str) -> Result<AgenBranch, WorkspaceError> {
        let invalid = |why: &str| WorkspaceError::Invalid {
            what: "agen branch",
            detail: format!("{name:?}: {why}"),
        };
        let rest = name
            .strip_prefix(PREFIX)
            .ok_or_else(|| invalid("not under agen/"))?;
        if name.len() > MAX_LEN {
            return Err(invalid("too long"));
        }
        let allowed = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'/');
        if !name.bytes().all(allowed) {
            return Err(invalid("only a-z, 0-9, '.', '_', '-' and '/' are allowed"));
        }
        if name.contains("..") {
            return Err(invalid("contains '..'"));
        }
        for part in rest.split('/') {
            if part.is_empty() {
                return Err(invalid("empty path component"));
            }
            if part.starts_with('.') || part.ends_with('.') || part.ends_with(".lock") {
                return Err(invalid(
                    "component starts or ends with '.' or ends with .lock",
                ));
            }
        }
        Ok(AgenBranch(name.to_string()))
    }

    /// `agen/…`
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `refs/heads/agen/…`
    pub fn refname(&self) -> String {
        format!("refs/heads/{}", self.0)
    }
}

impl std::fmt::Display for AgenBranch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `agen/issue-<n>-<slug>`, or with `-2`, `-3`, … when that name (or a suffixed one) is in
/// `taken` (names with or without `refs/heads/`): one more than the highest suffix taken,
/// so a deleted branch in the middle is not reused either.
pub fn branch_for_issue(number: u64, title: &str, taken: &[String]) -> AgenBranch {
    let slug = slug(title);
    let base = if slug.is_empty() {
        format!("{PREFIX}issue-{number}")
    } else {
        format!("{PREFIX}issue-{number}-{slug}")
    };
    let highest = taken
        .iter()
        .map(|t| t.strip_prefix("refs/heads/").unwrap_or(t))
        .filter_map(|t| {
            if t == base {
                return Some(1);
            }
            let n: u64 = t.strip_prefix(&base)?.strip_prefix('-')?.parse().ok()?;
            (n >= 2).then_some(n)
        })
        .max();
    let name = match highest {
        None => base,
        Some(n) => format!("{base}-{}", n + 1),
    };
    debug_assert!(AgenBranch::new(&name).is_ok(), "{name}");
    AgenBranch(name)
}

/// Lowercase ASCII letters and digits, every other run of characters one `-`, at most
/// [`MAX_SLUG`] characters, no `-` at either end.
fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(MAX_SLUG);
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests;
