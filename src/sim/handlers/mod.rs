//! Operation handlers: synchronous functions over the locked state, one file per area.

mod app;
mod checks;
mod contents;
mod deliveries;
mod git;
mod issues;
mod pulls;
mod repos;
mod tokens;

use serde_json::Value;

use super::access::Scope;
use super::reply::Reply;
use super::routes::{Matched, LIST_COMMENTS};
use super::state::{Repo, State};
use super::SimConfig;

/// Everything a handler may look at or change.
pub(crate) struct Ctx<'a> {
    pub st: &'a mut State,
    pub cfg: &'a SimConfig,
    /// `http://127.0.0.1:PORT`, for `url` fields.
    pub base: &'a str,
    /// Where git-backed repositories live, for handlers that read or write them.
    pub git_root: &'a std::path::Path,
    pub m: &'a Matched,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub scope: Scope,
    pub accept: &'a str,
    /// The raw request path, for `Link` headers.
    pub path: &'a str,
}

impl Ctx<'_> {
    /// The repository the route resolved (repository routes only).
    pub fn repo(&mut self) -> Option<&mut Repo> {
        self.scope.repo.and_then(|id| self.st.repos.get_mut(&id))
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A field of the JSON body.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.body.as_ref().and_then(|b| b.get(key))
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.field(key).and_then(Value::as_str)
    }

    /// This request's URL without query, for `Link` headers.
    pub fn url(&self) -> String {
        format!("{}{}", self.base, self.path)
    }

    /// The login of the App's bot user, the author of everything it writes.
    pub fn bot(&self) -> String {
        self.cfg.bot_login()
    }
}

pub(crate) fn handle(c: &mut Ctx) -> Reply {
    match c.m.route.op {
        "apps/get-authenticated" => app::get_app(c),
        "apps/list-installations" => app::list_installations(c),
        "apps/get-installation" => app::get_installation(c),
        "apps/list-repos-accessible-to-installation" => app::installation_repos(c),
        "apps/create-installation-access-token" => tokens::create(c),
        "apps/list-webhook-deliveries" => deliveries::list(c),
        "apps/get-webhook-delivery" => deliveries::get(c),
        "apps/redeliver-webhook-delivery" => deliveries::redeliver(c),
        "repos/get" => repos::get(c),
        "repos/get-collaborator-permission-level" => repos::collaborator_permission(c),
        "repos/get-branch-rules" => repos::branch_rules(c),
        "repos/get-branch-protection" => Reply::error(404, "Branch not protected"),
        "repos/get-content" => contents::get(c),
        "repos/create-deployment" => repos::create_deployment(c),
        "repos/create-deployment-status" => repos::create_deployment_status(c),
        "pulls/create" => pulls::create(c),
        "pulls/list" => pulls::list(c),
        "pulls/update" => pulls::update(c),
        "pulls/merge" => pulls::merge(c),
        "pulls/request-reviewers" => pulls::request_reviewers(c),
        "checks/create" => checks::create(c),
        "checks/update" => checks::update(c),
        "issues/create-comment" => issues::create_comment(c),
        LIST_COMMENTS => issues::list_comments(c),
        "issues/update-comment" => issues::update_comment(c),
        "reactions/create-for-issue-comment" => issues::react(c),
        "issues/add-labels" => issues::add_labels(c),
        "issues/remove-label" => issues::remove_label(c),
        "git/get-ref" => git::get_ref(c),
        "git/create-ref" => git::create_ref(c),
        "git/delete-ref" => git::delete_ref(c),
        // Creating an App from a manifest needs github.com's web flow; not simulated.
        _ => Reply::not_found(),
    }
}
