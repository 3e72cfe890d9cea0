//! Issue comments, their reactions, and labels.

use serde_json::Value;

use super::Ctx;
use crate::sim::reply::{page_reply, Reply};
use crate::sim::server::invalid;
use crate::sim::shapes;
use crate::sim::state::{Comment, Reaction};

const REACTIONS: &[&str] = &[
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

fn comment_json(c: &Ctx, comment: &Comment) -> Value {
    let full_name =
        c.st.repos
            .get(&comment.repo_id)
            .map(|r| r.full_name())
            .unwrap_or_default();
    let author = shapes::user(c.base, &comment.user_login, None);
    shapes::comment(c.base, &full_name, comment, author)
}

/// The issue (or pull request) number of the route, if that issue exists here.
fn issue_number(c: &mut Ctx) -> Option<u64> {
    let number = c.m.number("issue_number")?;
    c.repo()?.issues.contains_key(&number).then_some(number)
}

pub(crate) fn create_comment(c: &mut Ctx) -> Reply {
    let (Some(issue), Some(repo_id)) = (issue_number(c), c.scope.repo) else {
        return Reply::not_found();
    };
    let now = c.st.now();
    let comment = Comment {
        id: c.st.id(),
        repo_id,
        issue,
        body: c.str_field("body").unwrap_or_default().to_string(),
        user_login: c.bot(),
        created_at: now,
        updated_at: now,
        reactions: Vec::new(),
    };
    let json = comment_json(c, &comment);
    c.st.comments.insert(comment.id, comment);
    Reply::json(201, json)
}

pub(crate) fn list_comments(c: &mut Ctx) -> Reply {
    let (Some(issue), Some(repo_id)) = (issue_number(c), c.scope.repo) else {
        return Reply::not_found();
    };
    let items =
        c.st.comments
            .values()
            .filter(|k| k.repo_id == repo_id && k.issue == issue)
            .map(|k| comment_json(c, k))
            .collect();
    page_reply(items, &c.query, &c.url())
}

/// The comment of the route, if it belongs to this repository.
fn comment_id(c: &Ctx) -> Option<u64> {
    let id = c.m.number("comment_id")?;
    let comment = c.st.comments.get(&id)?;
    (Some(comment.repo_id) == c.scope.repo).then_some(id)
}

pub(crate) fn update_comment(c: &mut Ctx) -> Reply {
    let Some(id) = comment_id(c) else {
        return Reply::not_found();
    };
    let body = c.str_field("body").unwrap_or_default().to_string();
    let now = c.st.now();
    let Some(comment) = c.st.comments.get_mut(&id) else {
        return Reply::not_found();
    };
    comment.body = body;
    comment.updated_at = now;
    let comment = &c.st.comments[&id];
    Reply::json(200, comment_json(c, comment))
}

/// 201 for a new reaction, 200 with the existing one when this user already reacted so.
pub(crate) fn react(c: &mut Ctx) -> Reply {
    let Some(id) = comment_id(c) else {
        return Reply::not_found();
    };
    let content = c.str_field("content").unwrap_or_default().to_string();
    if !REACTIONS.contains(&content.as_str()) {
        return invalid(&format!(
            "For 'properties/content', \"{content}\" is not one of {}.",
            REACTIONS.join(", ")
        ));
    }
    let login = c.bot();
    let (now, new_id) = (c.st.now(), c.st.id());
    let Some(comment) = c.st.comments.get_mut(&id) else {
        return Reply::not_found();
    };
    if let Some(existing) = comment
        .reactions
        .iter()
        .find(|r| r.content == content && r.login == login)
    {
        return Reply::json(200, shapes::reaction(c.base, existing));
    }
    let reaction = Reaction {
        id: new_id,
        content,
        login,
        created_at: now,
    };
    let json = shapes::reaction(c.base, &reaction);
    comment.reactions.push(reaction);
    Reply::json(201, json)
}

/// `{"labels": [...]}` or a bare array; names or `{"name"}` objects; at least one.
fn label_names(body: Option<&Value>) -> Option<Vec<String>> {
    let items = match body? {
        Value::Array(items) => items,
        Value::Object(o) => o.get("labels")?.as_array()?,
        _ => return None,
    };
    let names = items
        .iter()
        .map(|i| {
            i.as_str()
                .or_else(|| i.get("name")?.as_str())
                .map(str::to_string)
        })
        .collect::<Option<Vec<_>>>()?;
    (!names.is_empty()).then_some(names)
}

fn labels_reply(c: &mut Ctx, issue: u64) -> Reply {
    let base = c.base.to_string();
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let full = repo.full_name();
    let labels = repo
        .issues
        .get(&issue)
        .map(|i| i.labels.clone())
        .unwrap_or_default();
    let items = labels
        .iter()
        .map(|l| shapes::label(&base, &full, l))
        .collect();
    Reply::json(200, Value::Array(items))
}

pub(crate) fn add_labels(c: &mut Ctx) -> Reply {
    let Some(issue) = issue_number(c) else {
        return Reply::not_found();
    };
    let Some(names) = label_names(c.body.as_ref()) else {
        return invalid("For 'properties/labels', a non-empty array of strings is required.");
    };
    if let Some(i) = c.repo().and_then(|r| r.issues.get_mut(&issue)) {
        for name in names {
            if !i.labels.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
                i.labels.push(name);
            }
        }
    }
    labels_reply(c, issue)
}

pub(crate) fn remove_label(c: &mut Ctx) -> Reply {
    let Some(issue) = issue_number(c) else {
        return Reply::not_found();
    };
    let name = c.m.param("name").to_string();
    let Some(i) = c.repo().and_then(|r| r.issues.get_mut(&issue)) else {
        return Reply::not_found();
    };
    let before = i.labels.len();
    i.labels.retain(|l| !l.eq_ignore_ascii_case(&name));
    if i.labels.len() == before {
        return Reply::error(404, "Label does not exist");
    }
    labels_reply(c, issue)
}
