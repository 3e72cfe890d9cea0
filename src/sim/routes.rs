//! The route table: the REST operations of `shared/github/rest-subset.json` plus
//! `issues/list-comments`, each with the credential and permission GitHub requires and the
//! request body's required top-level fields.

/// Permission levels, ordered as GitHub orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }
}

/// Which credential a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// No credential needed.
    Public,
    /// An App JWT.
    App,
    /// Any valid installation token.
    Installation,
    /// An installation token covering the repository, holding this permission.
    Repo(&'static str, Level),
}

pub(crate) struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub op: &'static str,
    pub access: Access,
    /// Required top-level body fields; in this subset every one of them is a string.
    pub required: &'static [&'static str],
}

const fn r(
    method: &'static str,
    path: &'static str,
    op: &'static str,
    access: Access,
    required: &'static [&'static str],
) -> Route {
    Route {
        method,
        path,
        op,
        access,
        required,
    }
}

use Access::{App, Installation, Public, Repo};
use Level::{Read, Write};

/// Not in the subset, but a real GitHub endpoint agen needs (finding its own comment).
pub(crate) const LIST_COMMENTS: &str = "issues/list-comments";

#[rustfmt::skip]
pub(crate) static ROUTES: &[Route] = &[
    r("POST", "/app/installations/{installation_id}/access_tokens", "apps/create-installation-access-token", App, &[]),
    r("GET", "/app", "apps/get-authenticated", App, &[]),
    r("GET", "/app/installations", "apps/list-installations", App, &[]),
    r("GET", "/app/installations/{installation_id}", "apps/get-installation", App, &[]),
    r("GET", "/installation/repositories", "apps/list-repos-accessible-to-installation", Installation, &[]),
    r("GET", "/app/hook/deliveries", "apps/list-webhook-deliveries", App, &[]),
    r("GET", "/app/hook/deliveries/{delivery_id}", "apps/get-webhook-delivery", App, &[]),
    r("POST", "/app/hook/deliveries/{delivery_id}/attempts", "apps/redeliver-webhook-delivery", App, &[]),
    r("POST", "/app-manifests/{code}/conversions", "apps/create-from-manifest", Public, &[]),
    r("GET", "/repos/{owner}/{repo}", "repos/get", Repo("metadata", Read), &[]),
    r("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", "repos/get-collaborator-permission-level", Repo("metadata", Read), &[]),
    r("GET", "/repos/{owner}/{repo}/rules/branches/{branch}", "repos/get-branch-rules", Repo("metadata", Read), &[]),
    r("GET", "/repos/{owner}/{repo}/branches/{branch}/protection", "repos/get-branch-protection", Repo("administration", Read), &[]),
    r("POST", "/repos/{owner}/{repo}/pulls", "pulls/create", Repo("pull_requests", Write), &["head", "base"]),
    r("GET", "/repos/{owner}/{repo}/pulls", "pulls/list", Repo("pull_requests", Read), &[]),
    r("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", "pulls/update", Repo("pull_requests", Write), &[]),
    r("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", "pulls/merge", Repo("contents", Write), &[]),
    r("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", "pulls/request-reviewers", Repo("pull_requests", Write), &[]),
    r("POST", "/repos/{owner}/{repo}/check-runs", "checks/create", Repo("checks", Write), &["name", "head_sha"]),
    r("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", "checks/update", Repo("checks", Write), &[]),
    r("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "issues/create-comment", Repo("issues", Write), &["body"]),
    r("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", LIST_COMMENTS, Repo("issues", Read), &[]),
    r("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "issues/update-comment", Repo("issues", Write), &["body"]),
    r("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", "reactions/create-for-issue-comment", Repo("issues", Write), &["content"]),
    r("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "issues/add-labels", Repo("issues", Write), &[]),
    r("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "issues/remove-label", Repo("issues", Write), &[]),
    r("GET", "/repos/{owner}/{repo}/contents/{path}", "repos/get-content", Repo("contents", Read), &[]),
    r("GET", "/repos/{owner}/{repo}/git/ref/{ref}", "git/get-ref", Repo("contents", Read), &[]),
    r("POST", "/repos/{owner}/{repo}/git/refs", "git/create-ref", Repo("contents", Write), &["ref", "sha"]),
    r("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}", "git/delete-ref", Repo("contents", Write), &[]),
    r("POST", "/repos/{owner}/{repo}/deployments", "repos/create-deployment", Repo("deployments", Write), &["ref"]),
    r("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", "repos/create-deployment-status", Repo("deployments", Write), &["state"]),
];

/// Path parameters that may contain `/` (`x-multi-segment` in the description).
const MULTI_SEGMENT: &[&str] = &["path", "ref", "branch"];

/// A matched route and its decoded path parameters.
pub(crate) struct Matched {
    pub route: &'static Route,
    pub params: Vec<(&'static str, String)>,
}

impl Matched {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A numeric path parameter; `None` (answered 404, as GitHub does) when it is not one.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.param(name).parse().ok()
    }
}

/// Finds the route for a method and a raw (still percent-encoded) path.
pub(crate) fn find(method: &str, raw_path: &str) -> Option<Matched> {
    let segments: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .find_map(|route| {
            let template: Vec<&'static str> =
                route.path.trim_start_matches('/').split('/').collect();
            let mut params = Vec::new();
            match_segments(&template, &segments, &mut params).then_some(Matched { route, params })
        })
}

fn match_segments(
    template: &[&'static str],
    path: &[&str],
    params: &mut Vec<(&'static str, String)>,
) -> bool {
    let Some((first, rest)) = template.split_first() else {
        return path.is_empty();
    };
    let Some(name) = first.strip_prefix('{').and_then(|n| n.strip_suffix('}')) else {
        return path.first() == Some(first) && match_segments(rest, &path[1..], params);
    };
    let widths = if MULTI_SEGMENT.contains(&name) {
        path.len()
    } else {
        path.len().min(1)
    };
    for width in 1..=widths {
        let taken = &path[..width];
        if taken.iter().any(|s| s.is_empty()) {
            return false;
        }
        params.push((name, percent_decode(&taken.join("/"))));
        if match_segments(rest, &path[width..], params) {
            return true;
        }
        params.pop();
    }
    false
}

/// Decodes `%XX` escapes (and nothing else); invalid escapes stay as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into decoded pairs (`+` is a space).
pub(crate) fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}
