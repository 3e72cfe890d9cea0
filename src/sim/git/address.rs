//! The smart HTTP addresses, as on github.com: `GET /{owner}/{repo}.git/info/refs` with
//! `?service=git-upload-pack|git-receive-pack`, `POST /{owner}/{repo}.git/git-upload-pack`
//! and `POST /{owner}/{repo}.git/git-receive-pack`. Anything else is left to the REST side.

use super::gate::Service;
use crate::sim::routes::{parse_query, percent_decode};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    InfoRefs(Service),
    UploadPack,
    ReceivePack,
}

impl Endpoint {
    pub fn op(self) -> &'static str {
        match self {
            Endpoint::InfoRefs(_) => "git/info-refs",
            Endpoint::UploadPack => "git/upload-pack",
            Endpoint::ReceivePack => "git/receive-pack",
        }
    }

    pub fn service(self) -> Service {
        match self {
            Endpoint::InfoRefs(s) => s,
            Endpoint::UploadPack => Service::Fetch,
            Endpoint::ReceivePack => Service::Push,
        }
    }
}

/// A git call: the repository as addressed, the endpoint, and what follows `.git`.
pub(crate) struct Target {
    pub owner: String,
    pub name: String,
    pub endpoint: Endpoint,
    pub tail: String,
}

/// Whether `path` is one of the smart HTTP endpoints.
pub(crate) fn target(method: &str, path: &str, query: Option<&str>) -> Option<Target> {
    let path = percent_decode(path);
    let (owner, rest) = path.strip_prefix('/')?.split_once('/')?;
    let (name, tail) = rest.split_once(".git/")?;
    if owner.is_empty() || name.is_empty() || name.contains('/') {
        return None;
    }
    let service = parse_query(query)
        .into_iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v);
    let endpoint = match (method, tail, service.as_deref()) {
        ("GET", "info/refs", Some("git-upload-pack")) => Endpoint::InfoRefs(Service::Fetch),
        ("GET", "info/refs", Some("git-receive-pack")) => Endpoint::InfoRefs(Service::Push),
        ("POST", "git-upload-pack", _) => Endpoint::UploadPack,
        ("POST", "git-receive-pack", _) => Endpoint::ReceivePack,
        _ => return None,
    };
    Some(Target {
        owner: owner.to_string(),
        name: name.to_string(),
        endpoint,
        tail: tail.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_smart_endpoints_are_git_calls() {
        let op = |m: &str, p: &str, q: Option<&str>| target(m, p, q).map(|t| t.endpoint.op());
        let refs = Some("service=git-upload-pack");
        assert_eq!(op("GET", "/o/r.git/info/refs", refs), Some("git/info-refs"));
        let push = target(
            "GET",
            "/o/r.git/info/refs",
            Some("service=git-receive-pack"),
        );
        assert!(push.is_some_and(|t| t.endpoint.service() == Service::Push && t.name == "r"));
        assert_eq!(
            op("POST", "/o/r.git/git-upload-pack", None),
            Some("git/upload-pack")
        );
        assert_eq!(
            op("POST", "/o/r.git/git-receive-pack", None),
            Some("git/receive-pack")
        );
        for (m, p, q) in [
            ("GET", "/o/r.git/info/refs", None),
            ("GET", "/o/r.git/git-upload-pack", None),
            ("POST", "/o/r.git/info/refs", refs),
            ("GET", "/repos/o/r", None),
            ("POST", "/o/a/b.git/git-receive-pack", None),
            ("POST", "//r.git/git-receive-pack", None),
        ] {
            assert!(target(m, p, q).is_none(), "{m} {p}");
        }
    }
}
