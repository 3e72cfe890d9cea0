//! Repository reads (repository, collaborator permission, branch rules) and deployments.

use serde_json::{json, Value};

use super::Ctx;
use crate::sim::reply::Reply;
use crate::sim::server::invalid;
use crate::sim::shapes;

fn owner_type(c: &Ctx, installation_id: u64) -> String {
    c.st.installations
        .get(&installation_id)
        .map_or_else(|| "User".to_string(), |i| i.account_type.clone())
}

pub(crate) fn get(c: &mut Ctx) -> Reply {
    let Some(repo) = c.scope.repo.and_then(|id| c.st.repos.get(&id)) else {
        return Reply::not_found();
    };
    let kind = owner_type(c, repo.installation_id);
    Reply::json(200, shapes::repo(c.base, repo, &kind))
}

/// `{permission, role_name, user}`; maintain reads as write and triage as read, as on
/// GitHub; someone without a role has read on a public repository and none on a private one.
pub(crate) fn collaborator_permission(c: &mut Ctx) -> Reply {
    let login = c.m.param("username").to_string();
    let base = c.base.to_string();
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let role = repo
        .roles
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case(&login))
        .map(|(_, r)| r.clone());
    let fallback = if repo.private { "none" } else { "read" };
    let role = role.unwrap_or_else(|| fallback.to_string());
    let permission = match role.as_str() {
        "maintain" => "write",
        "triage" => "read",
        other => other,
    };
    Reply::json(
        200,
        json!({"permission": permission, "role_name": role, "user": shapes::user(&base, &login, None)}),
    )
}

pub(crate) fn branch_rules(c: &mut Ctx) -> Reply {
    let branch = c.m.param("branch").to_string();
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let rules = repo.branch_rules.get(&branch).cloned();
    Reply::json(200, rules.unwrap_or_else(|| json!([])))
}

pub(crate) fn create_deployment(c: &mut Ctx) -> Reply {
    let id = c.st.id();
    let now = shapes::time(c.st.now());
    let creator = shapes::user(c.base, &c.bot(), None);
    let r = c.str_field("ref").unwrap_or_default().to_string();
    let environment = c
        .str_field("environment")
        .unwrap_or("production")
        .to_string();
    let task = c.str_field("task").unwrap_or("deploy").to_string();
    let payload = c.field("payload").cloned().unwrap_or_else(|| json!({}));
    let description = c.field("description").cloned().unwrap_or(Value::Null);
    let base = c.base.to_string();
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let sha = repo
        .refs
        .get(&format!("refs/heads/{r}"))
        .cloned()
        .unwrap_or_else(|| r.clone());
    let full = repo.full_name();
    let deployment = json!({
        "id": id, "node_id": shapes::node_id("DE", id), "sha": sha, "ref": r, "task": task,
        "payload": payload, "environment": environment, "description": description,
        "creator": creator, "created_at": now, "updated_at": now,
        "url": format!("{base}/repos/{full}/deployments/{id}"),
        "statuses_url": format!("{base}/repos/{full}/deployments/{id}/statuses"),
        "repository_url": format!("{base}/repos/{full}"),
    });
    repo.deployments.insert(id, deployment.clone());
    Reply::json(201, deployment)
}

const DEPLOYMENT_STATES: &[&str] = &[
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

pub(crate) fn create_deployment_status(c: &mut Ctx) -> Reply {
    let state = c.str_field("state").unwrap_or_default().to_string();
    if !DEPLOYMENT_STATES.contains(&state.as_str()) {
        return invalid(&format!(
            "For 'properties/state', \"{state}\" is not one of {}.",
            DEPLOYMENT_STATES.join(", ")
        ));
    }
    let id = c.st.id();
    let now = shapes::time(c.st.now());
    let creator = shapes::user(c.base, &c.bot(), None);
    let description = c.str_field("description").unwrap_or_default().to_string();
    let target = c
        .str_field("log_url")
        .or(c.str_field("target_url"))
        .unwrap_or_default()
        .to_string();
    let deployment_id = c.m.number("deployment_id");
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let Some(deployment) = deployment_id.and_then(|d| repo.deployments.get(&d)) else {
        return Reply::not_found();
    };
    let status = json!({
        "id": id, "node_id": shapes::node_id("DES", id), "state": state,
        "description": description, "environment": deployment["environment"],
        "target_url": target, "log_url": target, "creator": creator,
        "created_at": now, "updated_at": now,
        "url": format!("{}/statuses/{id}", deployment["url"].as_str().unwrap_or_default()),
        "deployment_url": deployment["url"], "repository_url": deployment["repository_url"],
    });
    Reply::json(201, status)
}
