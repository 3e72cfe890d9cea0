//! The App itself and its installations.

use serde_json::{json, Value};

use super::Ctx;
use crate::sim::access::covers;
use crate::sim::reply::{page_reply, paginate, Reply};
use crate::sim::shapes::{self, WEB};

/// The events the simulated App subscribes to.
const EVENTS: &[&str] = &[
    "check_run",
    "check_suite",
    "issue_comment",
    "issues",
    "pull_request",
    "pull_request_review",
    "push",
];

pub(crate) fn app_json(c: &Ctx) -> Value {
    let slug = &c.cfg.app_slug;
    json!({
        "id": c.cfg.app_id, "slug": slug, "node_id": shapes::node_id("A", c.cfg.app_id),
        "client_id": format!("Iv1.sim{}", c.cfg.app_id), "name": slug,
        "owner": shapes::user(c.base, slug, Some("Organization")),
        "description": "", "external_url": format!("{WEB}/apps/{slug}"),
        "html_url": format!("{WEB}/apps/{slug}"),
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "permissions": c.cfg.app_permissions, "events": EVENTS,
    })
}

pub(crate) fn get_app(c: &mut Ctx) -> Reply {
    Reply::json(200, app_json(c))
}

pub(crate) fn list_installations(c: &mut Ctx) -> Reply {
    let app = app_json(c);
    let items =
        c.st.installations
            .values()
            .map(|i| shapes::installation(c.base, i, c.cfg.app_id, &app))
            .collect();
    page_reply(items, &c.query, &c.url())
}

pub(crate) fn get_installation(c: &mut Ctx) -> Reply {
    let app = app_json(c);
    c.m.number("installation_id")
        .and_then(|id| c.st.installations.get(&id))
        .map(|i| Reply::json(200, shapes::installation(c.base, i, c.cfg.app_id, &app)))
        .unwrap_or_else(Reply::not_found)
}

/// `GET /installation/repositories`: the repositories this token reaches.
pub(crate) fn installation_repos(c: &mut Ctx) -> Reply {
    let Some(token) = c.scope.token.as_ref() else {
        return Reply::not_found();
    };
    let Some(inst) = c.st.installations.get(&token.installation_id) else {
        return Reply::not_found();
    };
    let repos: Vec<Value> = inst
        .repos
        .iter()
        .filter(|id| covers(token, &inst.repos, **id))
        .filter_map(|id| c.st.repos.get(id))
        .map(|r| shapes::repo(c.base, r, &inst.account_type))
        .collect();
    let total = repos.len();
    let (page, link) = paginate(repos, &c.query, &c.url());
    let reply = Reply::json(
        200,
        json!({"total_count": total, "repository_selection": token.repository_selection,
               "repositories": page}),
    );
    match link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}
