//! `POST /app/installations/{id}/access_tokens`: scoped installation tokens.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{json, Value};

use super::Ctx;
use crate::sim::auth::{new_token, satisfies};
use crate::sim::reply::Reply;
use crate::sim::routes::Level;
use crate::sim::server::invalid;
use crate::sim::shapes;
use crate::sim::state::MintedToken;

const NOT_ACCESSIBLE_REPO: &str = "There is at least one repository that does not exist or is not accessible to the parent installation.";
const NOT_GRANTED: &str = "The permissions requested are not granted to this installation.";

pub(crate) fn create(c: &mut Ctx) -> Reply {
    let Some(inst) =
        c.m.number("installation_id")
            .and_then(|id| c.st.installations.get(&id))
    else {
        return Reply::not_found();
    };
    if inst.suspended_at.is_some() {
        return Reply::error(403, "This installation has been suspended");
    }
    let (inst_id, inst_repos, owner_type) =
        (inst.id, inst.repos.clone(), inst.account_type.clone());
    let body = c.body.clone().unwrap_or_else(|| json!({}));
    if !body.is_object() {
        return Reply::error(400, "Problems parsing JSON");
    }
    let names = match string_list(body.get("repositories")) {
        Ok(names) => names,
        Err(reply) => return reply,
    };
    let ids = match id_list(body.get("repository_ids")) {
        Ok(ids) => ids,
        Err(reply) => return reply,
    };
    let mut selected: Vec<u64> = Vec::new();
    for name in &names {
        let found = inst_repos.iter().copied().find(|id| {
            c.st.repos
                .get(id)
                .is_some_and(|r| r.name.eq_ignore_ascii_case(name))
        });
        match found {
            Some(id) => selected.push(id),
            None => return Reply::error(422, NOT_ACCESSIBLE_REPO),
        }
    }
    for id in &ids {
        if !inst_repos.contains(id) {
            return Reply::error(422, NOT_ACCESSIBLE_REPO);
        }
        selected.push(*id);
    }
    selected.sort_unstable();
    selected.dedup();
    let permissions = match permissions(c, body.get("permissions")) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let all = names.is_empty() && ids.is_empty();
    let token = MintedToken {
        token: new_token(),
        installation_id: inst_id,
        repository_ids: if all { inst_repos } else { selected },
        repository_selection: if all { "all" } else { "selected" }.to_string(),
        permissions,
        expires_at: c.st.now() + Duration::hours(1),
    };
    let mut reply = json!({
        "token": token.token, "expires_at": shapes::time(token.expires_at),
        "permissions": token.permissions, "repository_selection": token.repository_selection,
    });
    if !all {
        let repos: Vec<Value> = token
            .repository_ids
            .iter()
            .filter_map(|id| c.st.repos.get(id))
            .map(|r| shapes::repo(c.base, r, &owner_type))
            .collect();
        reply["repositories"] = Value::Array(repos);
    }
    c.st.tokens.push(token);
    Reply::json(201, reply)
}

/// The token's permissions: what was asked (each held by the App at that level or
/// higher), or everything the App holds; `metadata: read` always comes along.
fn permissions(c: &Ctx, asked: Option<&Value>) -> Result<BTreeMap<String, String>, Reply> {
    let held = &c.cfg.app_permissions;
    let Some(asked) = asked.filter(|v| !v.is_null()) else {
        return Ok(held.clone());
    };
    let Some(asked) = asked.as_object() else {
        return Err(invalid(
            "For 'properties/permissions', it is not an object.",
        ));
    };
    let mut out = BTreeMap::new();
    for (name, level) in asked {
        let granted = level
            .as_str()
            .filter(|l| Level::parse(l).is_some_and(|l| satisfies(held.get(name), l)));
        let Some(level) = granted else {
            return Err(Reply::error(422, NOT_GRANTED));
        };
        out.insert(name.clone(), level.to_string());
    }
    if held.contains_key("metadata") {
        out.entry("metadata".to_string())
            .or_insert_with(|| "read".to_string());
    }
    Ok(out)
}

fn string_list(v: Option<&Value>) -> Result<Vec<String>, Reply> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("For 'items', it is not a string.")),
        Some(other) => Err(invalid(&format!(
            "For 'properties/repositories', {other} is not an array."
        ))),
    }
}

fn id_list(v: Option<&Value>) -> Result<Vec<u64>, Reply> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(Value::as_u64)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("For 'items', it is not an integer.")),
        Some(other) => Err(invalid(&format!(
            "For 'properties/repository_ids', {other} is not an array."
        ))),
    }
}
