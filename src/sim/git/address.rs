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
mod tests;
