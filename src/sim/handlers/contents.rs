//! `repos/get-content`: one file, as base64 JSON, or the raw bytes when the `Accept` header
//! asks for `raw`. A git-backed repository answers from git at `ref` (a branch, tag or
//! sha; the default branch when absent); another one from the files given to `put_file`,
//! on the default branch only.

use base64::Engine;
use serde_json::json;

use super::Ctx;
use crate::sim::git;
use crate::sim::reply::Reply;
use crate::sim::shapes::{self, WEB};

pub(crate) fn get(c: &mut Ctx) -> Reply {
    let path = c.m.param("path").to_string();
    let wanted_ref = c.query("ref").map(str::to_string);
    let raw = c.accept.contains("raw");
    let base = c.base.to_string();
    let root = c.git_root;
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let branch = repo.default_branch.clone();
    let no_commit = |r: &str| Reply::error(404, &format!("No commit found for the ref {r}"));
    let found = match (&repo.git_dir, &wanted_ref) {
        (Some(dir), _) => {
            let rev = wanted_ref.as_deref().unwrap_or(&branch);
            // A branch resolves from the refs view, and a commit's files never change: read
            // git once per (commit, path), as GitHub serves a hot file from its caches.
            let commit = repo
                .refs
                .get(&format!("refs/heads/{rev}"))
                .or_else(|| repo.refs.get(rev))
                .cloned();
            match commit {
                Some(sha) => repo
                    .blobs
                    .entry((sha.clone(), path.clone()))
                    .or_insert_with(|| git::blob_in_commit(root, dir, &sha, &path))
                    .clone(),
                None => match git::blob_at(root, dir, rev, &path) {
                    Ok(found) => found,
                    Err(()) => return no_commit(rev),
                },
            }
        }
        (None, Some(r)) if r != &branch && r != &format!("refs/heads/{branch}") => {
            return no_commit(r);
        }
        (None, _) => repo.files.get(&path).map(|bytes| {
            (
                shapes::fake_sha(&String::from_utf8_lossy(bytes)),
                bytes.clone(),
            )
        }),
    };
    let Some((sha, bytes)) = found else {
        return Reply::not_found();
    };
    if raw {
        return Reply::raw("application/vnd.github.raw", bytes);
    }
    let shown_ref = wanted_ref.unwrap_or(branch);
    let full = repo.full_name();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let url = format!("{base}/repos/{full}/contents/{path}?ref={shown_ref}");
    let html = format!("{WEB}/{full}/blob/{shown_ref}/{path}");
    let git = format!("{base}/repos/{full}/git/blobs/{sha}");
    let name = path.rsplit('/').next().unwrap_or(&path);
    Reply::json(
        200,
        json!({
            "type": "file", "encoding": "base64", "size": bytes.len(), "name": name,
            "path": path, "content": wrapped.join("\n") + "\n", "sha": sha,
            "url": url, "git_url": git, "html_url": html,
            "download_url": format!("https://raw.githubusercontent.com/{full}/{shown_ref}/{path}"),
            "_links": {"self": url, "git": git, "html": html},
        }),
    )
}
