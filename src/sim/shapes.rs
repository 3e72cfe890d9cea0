//! JSON shapes of GitHub objects, with the fields GitHub's clients (octocrab) require.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::state::{Comment, Installation, Reaction, Repo};

pub(crate) const WEB: &str = "https://github.com";

/// RFC 3339 with a `Z`, to the second, as GitHub writes times.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A stable id for a login (users are not stored).
pub(crate) fn user_id(login: &str) -> u64 {
    let digest = Sha256::digest(login.to_ascii_lowercase().as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes) % 100_000_000 + 1
}

/// A 40-hex sha derived from `seed`, for objects the simulator invents.
pub(crate) fn fake_sha(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..20])
}

pub(crate) fn node_id(kind: &str, id: u64) -> String {
    format!("{kind}_sim{id}")
}

/// A user (`simple-user`); logins ending in `[bot]` are bots.
pub(crate) fn user(base: &str, login: &str, kind: Option<&str>) -> Value {
    let kind = kind.unwrap_or(if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    });
    let id = user_id(login);
    let api = format!("{base}/users/{login}");
    json!({
        "login": login, "id": id, "node_id": node_id("U", id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "", "url": api, "html_url": format!("{WEB}/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind, "site_admin": false, "user_view_type": "public",
    })
}

pub(crate) fn repo(base: &str, r: &Repo, owner_type: &str) -> Value {
    let full = r.full_name();
    json!({
        "id": r.id, "node_id": node_id("R", r.id), "name": r.name, "full_name": full,
        "private": r.private, "visibility": if r.private { "private" } else { "public" },
        "owner": user(base, &r.owner, Some(owner_type)),
        "html_url": format!("{WEB}/{full}"), "url": format!("{base}/repos/{full}"),
        "clone_url": format!("{base}/{full}.git"), "default_branch": r.default_branch,
        "fork": false, "archived": false, "disabled": false,
    })
}

pub(crate) fn installation(base: &str, i: &Installation, app_id: u64, app: &Value) -> Value {
    json!({
        "id": i.id,
        "account": user(base, &i.account_login, Some(&i.account_type)),
        "repository_selection": "selected",
        "access_tokens_url": format!("{base}/app/installations/{}/access_tokens", i.id),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{WEB}/settings/installations/{}", i.id),
        "app_id": app_id, "app_slug": app["slug"], "target_id": user_id(&i.account_login),
        "target_type": i.account_type,
        "permissions": app["permissions"], "events": app["events"],
        "created_at": time(i.created_at), "updated_at": time(i.created_at),
        "single_file_name": null, "suspended_by": null,
        "suspended_at": i.suspended_at.map(time),
    })
}

pub(crate) fn comment(base: &str, full_name: &str, c: &Comment, author: Value) -> Value {
    json!({
        "id": c.id, "node_id": node_id("IC", c.id),
        "url": format!("{base}/repos/{full_name}/issues/comments/{}", c.id),
        "html_url": format!("{WEB}/{full_name}/issues/{}#issuecomment-{}", c.issue, c.id),
        "issue_url": format!("{base}/repos/{full_name}/issues/{}", c.issue),
        "body": c.body, "user": author,
        "created_at": time(c.created_at), "updated_at": time(c.updated_at),
        "author_association": "NONE",
    })
}

pub(crate) fn reaction(base: &str, r: &Reaction) -> Value {
    json!({
        "id": r.id, "node_id": node_id("REA", r.id), "user": user(base, &r.login, None),
        "content": r.content, "created_at": time(r.created_at),
    })
}

pub(crate) fn label(base: &str, full_name: &str, name: &str) -> Value {
    let id = user_id(&format!("{full_name}#{name}"));
    json!({
        "id": id, "node_id": node_id("LA", id), "name": name, "color": "ededed",
        "url": format!("{base}/repos/{full_name}/labels/{name}"),
        "description": null, "default": false,
    })
}
