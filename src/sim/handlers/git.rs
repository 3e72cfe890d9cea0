//! Git references: get, create, delete. The default branch is protected: writing it is a
//! violation and is refused as GitHub refuses writes to a protected branch. On a
//! git-backed repository the bare repository's ref moves too (and the sha must exist).

use serde_json::{json, Value};

use super::Ctx;
use crate::sim::git;
use crate::sim::reply::Reply;
use crate::sim::state::Repo;

fn ref_json(api: &str, repo: &Repo, name: &str, sha: &str) -> Value {
    let full = repo.full_name();
    let short = name.trim_start_matches("refs/");
    json!({
        "ref": name, "node_id": format!("REF_sim_{short}"),
        "url": format!("{api}/repos/{full}/git/{name}"),
        "object": {"type": "commit", "sha": sha,
                   "url": format!("{api}/repos/{full}/git/commits/{sha}")},
    })
}

fn is_default(repo: &Repo, name: &str) -> bool {
    name == format!("refs/heads/{}", repo.default_branch)
}

fn protected() -> Reply {
    Reply::error(422, "Cannot update this protected ref.")
}

pub(crate) fn get_ref(c: &mut Ctx) -> Reply {
    let name = format!("refs/{}", c.m.param("ref"));
    let api = c.base.to_string();
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    match repo.refs.get(&name) {
        Some(sha) => Reply::json(200, ref_json(&api, repo, &name, sha)),
        None => Reply::not_found(),
    }
}

pub(crate) fn create_ref(c: &mut Ctx) -> Reply {
    let name = c.str_field("ref").unwrap_or_default().to_string();
    let sha = c.str_field("sha").unwrap_or_default().to_string();
    let api = c.base.to_string();
    let root = c.git_root;
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return Reply::error(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    }
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Reply::error(422, "Object does not exist");
    }
    if is_default(repo, &name) {
        return protected();
    }
    if repo.refs.contains_key(&name) {
        return Reply::error(422, "Reference already exists");
    }
    if repo.git_dir.is_none() {
        repo.refs.insert(name.clone(), sha.clone());
    } else if !git::has_commit(root, repo, &sha) {
        return Reply::error(422, "Object does not exist");
    } else if git::write_ref(root, repo, &name, Some(&sha), true).is_err() {
        return Reply::error(422, "Reference update failed");
    }
    Reply::json(201, ref_json(&api, repo, &name, &sha))
}

pub(crate) fn delete_ref(c: &mut Ctx) -> Reply {
    let name = format!("refs/{}", c.m.param("ref").trim_start_matches("refs/"));
    let root = c.git_root;
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    if is_default(repo, &name) {
        return protected();
    }
    if !repo.refs.contains_key(&name) {
        return Reply::error(422, "Reference does not exist");
    }
    if repo.git_dir.is_none() {
        repo.refs.remove(&name);
    } else if git::write_ref(root, repo, &name, None, false).is_err() {
        return Reply::error(422, "Reference update failed");
    }
    Reply::empty(204)
}
