//! What the simulator remembers about each call, injected faults, and the calls agen must
//! never make (violations).

use std::collections::BTreeMap;

use serde_json::Value;

/// How a call authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthKind {
    None,
    /// A valid App JWT.
    Jwt,
    /// A known installation token.
    Installation {
        installation_id: u64,
        repository_ids: Vec<u64>,
        permissions: BTreeMap<String, String>,
    },
    /// Credentials were sent but not accepted (bad JWT, unknown or expired token).
    Invalid,
}

/// One call, as received and answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The operationId of the matched route, e.g. `issues/create-comment`.
    pub operation: Option<String>,
    pub auth: AuthKind,
    /// The installation token presented (Bearer/token header, or the Basic password of a
    /// git call), if any; never a JWT.
    pub token: Option<String>,
    pub body: Option<Value>,
    pub status: u16,
    /// The User-Agent values sent, joined with "; ".
    pub user_agent: String,
    /// The `X-GitHub-Api-Version` header, if sent.
    pub api_version: Option<String>,
}

/// Makes the next `times` calls whose method matches (`"*"` matches any) and whose path
/// starts with `path_prefix` answer `status` with `headers` and a GitHub-style message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub method: &'static str,
    pub path_prefix: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub times: u32,
}

impl Fault {
    /// A fault answering `status` once, without extra headers.
    pub fn new(method: &'static str, path_prefix: &str, status: u16) -> Fault {
        Fault {
            method,
            path_prefix: path_prefix.to_string(),
            status,
            headers: Vec::new(),
            times: 1,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && path.starts_with(&self.path_prefix)
    }

    /// The message GitHub sends with such a status.
    pub(crate) fn message(&self) -> &'static str {
        let limited = self
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-ratelimit-remaining") && v == "0");
        match self.status {
            403 if limited => "API rate limit exceeded for installation.",
            403 | 429 => "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            500 | 502 | 503 | 504 => "Server Error",
            404 => "Not Found",
            401 => "Bad credentials",
            _ => "Simulated failure",
        }
    }
}

/// Why a call breaks agen's promises (never merge, approve, auto-merge or update a branch;
/// never write the default branch or workflows), if it does.
pub(crate) fn violation(
    method: &str,
    segments: &[String],
    body: Option<&Value>,
    default_branch: Option<&str>,
) -> Option<String> {
    let call = format!("{method} /{}", segments.join("/"));
    let rest: Vec<&str> = match segments {
        [repos, _, _, rest @ ..] if repos == "repos" => rest.iter().map(|s| s.as_str()).collect(),
        [graphql] if graphql == "graphql" => {
            let query = body.and_then(|b| b.get("query")).and_then(Value::as_str);
            let auto = query.is_some_and(|q| {
                let q = q.to_ascii_lowercase();
                q.contains("automerge") || q.contains("mergepullrequest")
            });
            return auto.then(|| format!("merge/auto-merge through GraphQL: {call}"));
        }
        _ => return None,
    };
    let writes = method != "GET" && method != "HEAD";
    let approves = body.and_then(|b| b.get("event")).and_then(Value::as_str) == Some("APPROVE");
    let ref_target = |r: &[&str]| r.join("/").trim_start_matches("refs/").to_string();
    let is_default = |r: String| default_branch.is_some_and(|b| r == format!("heads/{b}"));
    match rest.as_slice() {
        ["pulls", _, "merge"] if writes => Some(format!("merge: {call}")),
        ["pulls", _, "update-branch"] if writes => Some(format!("update-branch: {call}")),
        ["pulls", _, "reviews", ..] if writes && approves => Some(format!("approve: {call}")),
        ["merges"] if writes => Some(format!("merge: {call}")),
        ["contents", ".github", "workflows", ..] if writes => {
            Some(format!("workflow write: {call}"))
        }
        ["git", "refs", r @ ..] if writes && is_default(ref_target(r)) => {
            Some(format!("default branch ref write: {call}"))
        }
        ["git", "refs"] if method == "POST" => {
            let r = body.and_then(|b| b.get("ref")).and_then(Value::as_str)?;
            let r = r.trim_start_matches("refs/").to_string();
            is_default(r).then(|| format!("default branch ref write: {call}"))
        }
        _ => None,
    }
}
