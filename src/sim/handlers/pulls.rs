//! Pull requests: create, list, update, request reviewers; merge (always a violation).

use serde_json::{json, Value};

use super::Ctx;
use crate::sim::reply::{page_reply, Reply};
use crate::sim::server::invalid;
use crate::sim::shapes::{self, WEB};
use crate::sim::state::{Issue, Repo};

fn branch_sha(repo: &Repo, branch: &str) -> String {
    repo.refs
        .get(&format!("refs/heads/{branch}"))
        .cloned()
        .unwrap_or_else(|| shapes::fake_sha(&format!("{}:{branch}", repo.full_name())))
}

pub(crate) fn create(c: &mut Ctx) -> Reply {
    let head = c.str_field("head").unwrap_or_default().to_string();
    let base_branch = c.str_field("base").unwrap_or_default().to_string();
    let from_issue = c.field("issue").and_then(Value::as_u64);
    let title = c.str_field("title").map(str::to_string);
    let body = c.field("body").cloned().unwrap_or(Value::Null);
    let draft = c.field("draft").and_then(Value::as_bool).unwrap_or(false);
    let modify = c
        .field("maintainer_can_modify")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let (id, now, api) = (c.st.id(), shapes::time(c.st.now()), c.base.to_string());
    let user = shapes::user(&api, &c.bot(), None);
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let head_branch = head
        .split_once(':')
        .map_or(head.as_str(), |(_, b)| b)
        .to_string();
    if !repo.refs.contains_key(&format!("refs/heads/{base_branch}")) {
        return Reply::validation("PullRequest", "base", "invalid", "base is invalid");
    }
    if head_branch == base_branch {
        let message = format!("No commits between {base_branch} and {head_branch}");
        return Reply::validation("PullRequest", "head", "custom", &message);
    }
    let open_same_head = repo
        .pulls
        .values()
        .any(|p| p["head"]["ref"] == head_branch.as_str() && p["state"] == "open");
    if open_same_head {
        let message = format!(
            "A pull request already exists for {}:{head_branch}.",
            repo.owner
        );
        return Reply::validation("PullRequest", "head", "custom", &message);
    }
    let number = match from_issue {
        Some(n) if repo.issues.contains_key(&n) && !repo.pulls.contains_key(&n) => n,
        Some(_) => return Reply::validation("PullRequest", "issue", "invalid", "issue is invalid"),
        None => repo.next_number(),
    };
    let title = match (title, repo.issues.get(&number)) {
        (Some(t), _) => t,
        (None, Some(issue)) => issue.title.clone(),
        (None, None) => return invalid("\"title\" wasn't supplied."),
    };
    let full = repo.full_name();
    let repo_json = shapes::repo(&api, repo, "User");
    let side = |branch: &str, sha: String| {
        json!({"label": format!("{}:{branch}", full.split('/').next().unwrap_or_default()),
               "ref": branch, "sha": sha, "user": user, "repo": repo_json})
    };
    let url = format!("{api}/repos/{full}/pulls/{number}");
    let pull = json!({
        "id": id, "node_id": shapes::node_id("PR", id), "number": number, "url": url,
        "html_url": format!("{WEB}/{full}/pull/{number}"),
        "diff_url": format!("{WEB}/{full}/pull/{number}.diff"),
        "patch_url": format!("{WEB}/{full}/pull/{number}.patch"),
        "issue_url": format!("{api}/repos/{full}/issues/{number}"),
        "state": "open", "locked": false, "title": title, "body": body, "user": user,
        "draft": draft, "maintainer_can_modify": modify,
        "head": side(&head_branch, branch_sha(repo, &head_branch)),
        "base": side(&base_branch, branch_sha(repo, &base_branch)),
        "requested_reviewers": [], "requested_teams": [], "labels": [],
        "merged": false, "merged_at": null, "closed_at": null, "merge_commit_sha": null,
        "created_at": now, "updated_at": now, "author_association": "NONE",
    });
    let issue_body = body.as_str().unwrap_or_default().to_string();
    repo.issues.entry(number).or_insert(Issue {
        title,
        body: issue_body,
        labels: Vec::new(),
    });
    repo.pulls.insert(number, pull.clone());
    Reply::json(201, pull)
}

pub(crate) fn list(c: &mut Ctx) -> Reply {
    let state = c.query("state").unwrap_or("open").to_string();
    let head = c
        .query("head")
        .map(|h| h.split_once(':').map_or(h, |(_, b)| b).to_string());
    let base = c.query("base").map(str::to_string);
    let (query, url) = (c.query.clone(), c.url());
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let items: Vec<Value> = repo
        .pulls
        .values()
        .rev()
        .filter(|p| state == "all" || p["state"] == state.as_str())
        .filter(|p| head.as_ref().is_none_or(|h| p["head"]["ref"] == h.as_str()))
        .filter(|p| base.as_ref().is_none_or(|b| p["base"]["ref"] == b.as_str()))
        .map(|p| with_live_shas(repo, p))
        .collect();
    page_reply(items, &query, &url)
}

/// A pull request as GitHub shows it now: its head and base follow their branches.
fn with_live_shas(repo: &Repo, pull: &Value) -> Value {
    let mut pull = pull.clone();
    for side in ["head", "base"] {
        let branch = pull[side]["ref"].as_str().unwrap_or_default().to_string();
        if let Some(sha) = repo.refs.get(&format!("refs/heads/{branch}")) {
            pull[side]["sha"] = Value::String(sha.clone());
        }
    }
    pull
}

fn pull_number(c: &mut Ctx) -> Option<u64> {
    let number = c.m.number("pull_number")?;
    c.repo()?.pulls.contains_key(&number).then_some(number)
}

pub(crate) fn update(c: &mut Ctx) -> Reply {
    let Some(number) = pull_number(c) else {
        return Reply::not_found();
    };
    let state = c.str_field("state").map(str::to_string);
    if state
        .as_deref()
        .is_some_and(|s| s != "open" && s != "closed")
    {
        return invalid("For 'properties/state', it is not one of open, closed.");
    }
    let now = shapes::time(c.st.now());
    let patch = c.body.clone().unwrap_or_else(|| json!({}));
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let Some(pull) = repo.pulls.get_mut(&number) else {
        return Reply::not_found();
    };
    for key in ["title", "body", "maintainer_can_modify"] {
        if let Some(v) = patch.get(key) {
            pull[key] = v.clone();
        }
    }
    if let Some(b) = patch.get("base").and_then(Value::as_str) {
        pull["base"]["ref"] = json!(b);
    }
    if let Some(s) = &state {
        pull["state"] = json!(s);
        pull["closed_at"] = if s == "closed" {
            json!(now)
        } else {
            Value::Null
        };
    }
    pull["updated_at"] = json!(now);
    let pull = pull.clone();
    if let Some(issue) = repo.issues.get_mut(&number) {
        issue.title = pull["title"].as_str().unwrap_or_default().to_string();
        issue.body = pull["body"].as_str().unwrap_or_default().to_string();
    }
    Reply::json(200, pull)
}

/// agen must never call this; the call is recorded as a violation and answered as GitHub
/// would, so the test that catches it sees the damage.
pub(crate) fn merge(c: &mut Ctx) -> Reply {
    let Some(number) = pull_number(c) else {
        return Reply::not_found();
    };
    let method = c.str_field("merge_method").unwrap_or("merge").to_string();
    if !["merge", "squash", "rebase"].contains(&method.as_str()) {
        return invalid("For 'properties/merge_method', it is not one of merge, squash, rebase.");
    }
    let now = shapes::time(c.st.now());
    let Some(pull) = c.repo().and_then(|r| r.pulls.get_mut(&number)) else {
        return Reply::not_found();
    };
    if pull["state"] != "open" {
        return Reply::error(405, "Pull Request is not mergeable");
    }
    let sha = shapes::fake_sha(&format!("merge {number} {now}"));
    pull["state"] = json!("closed");
    pull["merged"] = json!(true);
    pull["merged_at"] = json!(now);
    pull["merge_commit_sha"] = json!(sha);
    Reply::json(
        200,
        json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"}),
    )
}

pub(crate) fn request_reviewers(c: &mut Ctx) -> Reply {
    let Some(number) = pull_number(c) else {
        return Reply::not_found();
    };
    let names = |key: &str| -> Option<Vec<String>> {
        c.field(key)?
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let (reviewers, teams) = (names("reviewers"), names("team_reviewers"));
    if reviewers.is_none() && teams.is_none() {
        return invalid("\"reviewers\" wasn't supplied.");
    }
    let api = c.base.to_string();
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let full = repo.full_name();
    let roles = repo.roles.clone();
    let Some(pull) = repo.pulls.get_mut(&number) else {
        return Reply::not_found();
    };
    let author = pull["user"]["login"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for login in reviewers.iter().flatten() {
        if login.eq_ignore_ascii_case(&author) {
            return Reply::error(422, "Review cannot be requested from pull request author.");
        }
        if !roles.keys().any(|l| l.eq_ignore_ascii_case(login)) {
            return Reply::error(422, &format!("Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {full} repository."));
        }
        let user = shapes::user(&api, login, None);
        if let Some(list) = pull["requested_reviewers"].as_array_mut() {
            if !list.iter().any(|u| u["login"] == user["login"]) {
                list.push(user);
            }
        }
    }
    for team in teams.iter().flatten() {
        if let Some(list) = pull["requested_teams"].as_array_mut() {
            list.push(json!({"slug": team, "name": team}));
        }
    }
    Reply::json(201, pull.clone())
}
