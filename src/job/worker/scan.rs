//! What must never be pushed, and what must never be shown: the last check before agen pushes
//! an agent's work (the agent never holds a credential, and a secret it found or was given
//! must not leave through a commit), and the redaction applied
//! to session logs, comments and check-run output. Pure: no I/O.
//!
//! Matchers are hand-written (no `regex` crate in the tree): each pattern starts with a fixed
//! prefix, found with `str::match_indices`, then checks a run of ASCII characters. Findings
//! carry where and what kind, never the value, so reporting one cannot leak it.

use std::ops::Range;

use crate::markdown::code_span;
use crate::workspace::AddedLine;

#[cfg(test)]
mod tests;

/// Known secrets shorter than this are ignored: they would match ordinary text everywhere.
pub const MIN_KNOWN_SECRET_CHARS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    GitHubToken,
    AwsAccessKey,
    PrivateKey,
    SlackToken,
    /// A value the repository stored with agen (or another secret agen holds).
    AgenSecret,
}

impl SecretKind {
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::GitHubToken => "a GitHub token",
            SecretKind::AwsAccessKey => "an AWS access key ID",
            SecretKind::PrivateKey => "a private key",
            SecretKind::SlackToken => "a Slack token",
            SecretKind::AgenSecret => "a secret stored with agen",
        }
    }
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a secret was found; deliberately without the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub kind: SecretKind,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {}: {}",
            code_span(&self.path),
            self.line,
            self.kind
        )
    }
}

/// Every line holding a secret, once per kind found on it, in input order.
pub fn scan(lines: &[AddedLine], known_secrets: &[&str]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for added in lines {
        let mut kinds: Vec<SecretKind> = Vec::new();
        for (_, kind) in find(&added.text, known_secrets) {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        findings.extend(kinds.into_iter().map(|kind| Finding {
            path: added.path.clone(),
            line: added.line,
            kind,
        }));
    }
    findings
}

/// `text` with every known secret and every token pattern replaced by `[redacted]`. A
/// private key is redacted from its `BEGIN` line through its `END` line (or to the end of the
/// text). Overlapping matches merge, so no part of either is left. Redact whole texts: a
/// secret split across two separately redacted chunks is not recognised.
pub fn redact(text: &str, known_secrets: &[&str]) -> String {
    let mut ranges: Vec<Range<usize>> = find(text, known_secrets)
        .into_iter()
        .map(|(range, kind)| match kind {
            SecretKind::PrivateKey => range.start..pem_end(text, range.end),
            _ => range,
        })
        .collect();
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut done: Option<usize> = None;
    for range in ranges {
        match done {
            Some(end) if range.start <= end => done = Some(end.max(range.end)),
            _ => {
                out.push_str(&text[done.unwrap_or(0)..range.start]);
                out.push_str("[redacted]");
                done = Some(range.end);
            }
        }
    }
    let done = done.unwrap_or(0);
    out.push_str(&text[done..]);
    out
}

/// Where the key that starts before `from` ends: after its `-----END …-----` marker.
fn pem_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    rest.find("-----END ")
        .and_then(|end| {
            let after = end + "-----END ".len();
            rest[after..]
                .find("-----")
                .map(|close| from + after + close + 5)
        })
        .unwrap_or(text.len())
}

/// Every match in `text`: byte range (on character boundaries) and kind.
fn find(text: &str, known_secrets: &[&str]) -> Vec<(Range<usize>, SecretKind)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    for (i, _) in text.match_indices("gh") {
        let rest = &bytes[i..];
        if rest.len() > 4 && b"pousr".contains(&rest[2]) && rest[3] == b'_' {
            let n = run(&rest[4..], alnum);
            if n >= 36 {
                found.push((i..i + 4 + n, SecretKind::GitHubToken));
            }
        }
    }
    for (i, prefix) in text.match_indices("github_pat_") {
        let n = run(&bytes[i + prefix.len()..], |b| alnum(b) || b == b'_');
        if n >= 22 {
            found.push((i..i + prefix.len() + n, SecretKind::GitHubToken));
        }
    }
    for prefix in ["AKIA", "ASIA"] {
        for (i, _) in text.match_indices(prefix) {
            let end = i + 4 + 16;
            let word = |at: usize| bytes.get(at).is_some_and(|b| alnum(*b) || *b == b'_');
            let id = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
            if (i == 0 || !word(i - 1)) && run(&bytes[i + 4..], id) >= 16 && !word(end) {
                found.push((i..end, SecretKind::AwsAccessKey));
            }
        }
    }
    for (i, prefix) in text.match_indices("-----BEGIN ") {
        let start = i + prefix.len();
        let label = run(&bytes[start..], |b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '
        });
        let end = start + label;
        if text[start..end].contains("PRIVATE KEY") && text[end..].starts_with("-----") {
            found.push((i..end + 5, SecretKind::PrivateKey));
        }
    }
    // "xo", not "xox": matches do not overlap, and "xoxoxb-…" holds a token at its third byte.
    for (i, _) in text.match_indices("xo") {
        let rest = &bytes[i..];
        if rest.len() > 5 && rest[2] == b'x' && b"abprs".contains(&rest[3]) && rest[4] == b'-' {
            let n = run(&rest[5..], |b| alnum(b) || b == b'-');
            if n >= 10 {
                found.push((i..i + 5 + n, SecretKind::SlackToken));
            }
        }
    }
    for secret in known_secrets {
        if secret.chars().count() < MIN_KNOWN_SECRET_CHARS {
            continue;
        }
        // Overlapping occurrences too, so redaction leaves no piece of one behind.
        let mut from = 0;
        while let Some(at) = text[from..].find(secret) {
            let start = from + at;
            found.push((start..start + secret.len(), SecretKind::AgenSecret));
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// How many leading bytes satisfy `ok`.
fn run(bytes: &[u8], ok: impl Fn(u8) -> bool) -> usize {
    bytes.iter().take_while(|b| ok(**b)).count()
}

/// Why a changed path is not pushed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefusalReason {
    /// Under `.github/workflows/`: a workflow runs with the repository's Actions secrets and
    /// token, so an agent must never write one (GitHub also refuses such a push from an App
    /// without the `workflows` permission, which agen does not ask for).
    Workflow,
    TooLarge {
        size: u64,
        limit: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedPath {
    pub path: String,
    pub reason: RefusalReason,
}

impl std::fmt::Display for RefusedPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = code_span(&self.path);
        match self.reason {
            RefusalReason::Workflow => {
                write!(
                    f,
                    "{path}: agen never pushes changes to GitHub Actions workflows"
                )
            }
            RefusalReason::TooLarge { size, limit } => {
                write!(f, "{path}: {size} bytes, above the limit of {limit} bytes")
            }
        }
    }
}

/// The changed paths (with their new sizes) that must not be pushed, each with every reason
/// that applies, in input order.
pub fn refused_paths(paths: &[(String, u64)], max_file_bytes: u64) -> Vec<RefusedPath> {
    let mut refused = Vec::new();
    for (path, size) in paths {
        if is_workflow(path) {
            refused.push(RefusedPath {
                path: path.clone(),
                reason: RefusalReason::Workflow,
            });
        }
        if *size > max_file_bytes {
            refused.push(RefusedPath {
                path: path.clone(),
                reason: RefusalReason::TooLarge {
                    size: *size,
                    limit: max_file_bytes,
                },
            });
        }
    }
    refused
}

/// `.github/workflows` or anything below it. Case-insensitive and tolerant of `./` and `//`
/// although GitHub is neither: a false refusal costs little, a missed workflow a lot.
fn is_workflow(path: &str) -> bool {
    let mut parts = path.split('/').filter(|p| !p.is_empty() && *p != ".");
    parts
        .next()
        .is_some_and(|p| p.eq_ignore_ascii_case(".github"))
        && parts
            .next()
            .is_some_and(|p| p.eq_ignore_ascii_case("workflows"))
}
