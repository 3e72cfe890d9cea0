//! Check runs: create and update, with the schema's rules (a `completed` status needs a
//! conclusion; a conclusion implies `completed`; output needs title and summary, each text
//! at most 65535 characters).

use serde_json::{json, Map, Value};

use super::Ctx;
use crate::sim::reply::Reply;
use crate::sim::server::invalid;
use crate::sim::shapes::{self, WEB};

/// The statuses an App may set (`waiting`, `requested`, `pending` are for Actions only).
const STATUSES: &[&str] = &["queued", "in_progress", "completed"];
const CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
];
const MAX_TEXT: usize = 65535;

/// Checks status, conclusion and output; returns the status the run ends up with.
fn check_fields(body: &Map<String, Value>, current: Option<&str>) -> Result<String, Reply> {
    let status = body.get("status").and_then(Value::as_str);
    let conclusion = body.get("conclusion").and_then(Value::as_str);
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(invalid(&format!(
            "For 'properties/status', \"{s}\" is not one of {}.",
            STATUSES.join(", ")
        )));
    }
    if let Some(s) = conclusion.filter(|s| !CONCLUSIONS.contains(s)) {
        return Err(invalid(&format!(
            "For 'properties/conclusion', \"{s}\" is not one of {}.",
            CONCLUSIONS.join(", ")
        )));
    }
    if status == Some("completed") && conclusion.is_none() {
        return Err(invalid("\"conclusion\" wasn't supplied."));
    }
    if let Some(output) = body.get("output") {
        let Some(output) = output.as_object() else {
            return Err(invalid("For 'properties/output', it is not an object."));
        };
        for key in ["title", "summary"] {
            if !output.get(key).is_some_and(Value::is_string) {
                return Err(invalid(&format!("\"{key}\" wasn't supplied.")));
            }
        }
        for key in ["summary", "text"] {
            let len = output
                .get(key)
                .and_then(Value::as_str)
                .map_or(0, |s| s.chars().count());
            if len > MAX_TEXT {
                return Err(invalid(&format!(
                    "For 'properties/{key}', it is longer than {MAX_TEXT} characters."
                )));
            }
        }
    }
    let status = if conclusion.is_some() {
        Some("completed")
    } else {
        status
    };
    Ok(status.or(current).unwrap_or("queued").to_string())
}

fn output_json(output: Option<&Value>, url: &str) -> Value {
    let field = |k: &str| {
        output
            .and_then(|o| o.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({"title": field("title"), "summary": field("summary"), "text": field("text"),
           "annotations_count": 0, "annotations_url": format!("{url}/annotations")})
}

pub(crate) fn create(c: &mut Ctx) -> Reply {
    let body = c
        .body
        .clone()
        .and_then(|b| b.as_object().cloned())
        .unwrap_or_default();
    let status = match check_fields(&body, None) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let (id, now, api) = (c.st.id(), shapes::time(c.st.now()), c.base.to_string());
    let app = super::app::app_json(c);
    let Some(repo) = c.repo() else {
        return Reply::not_found();
    };
    let full = repo.full_name();
    let url = format!("{api}/repos/{full}/check-runs/{id}");
    let get = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
    let completed = status == "completed";
    let run = json!({
        "id": id, "node_id": shapes::node_id("CR", id), "head_sha": get("head_sha"),
        "external_id": body.get("external_id").cloned().unwrap_or(json!("")),
        "url": url, "html_url": format!("{WEB}/{full}/runs/{id}"),
        "details_url": get("details_url"), "status": status, "conclusion": get("conclusion"),
        "started_at": body.get("started_at").cloned().unwrap_or(json!(now)),
        "completed_at": if completed { body.get("completed_at").cloned().unwrap_or(json!(now)) } else { Value::Null },
        "output": output_json(body.get("output"), &url), "name": get("name"),
        "check_suite": {"id": id}, "app": app, "pull_requests": [],
        "actions": body.get("actions").cloned().unwrap_or(json!([])),
    });
    repo.check_runs.insert(id, run.clone());
    Reply::json(201, run)
}

pub(crate) fn update(c: &mut Ctx) -> Reply {
    let body = c
        .body
        .clone()
        .and_then(|b| b.as_object().cloned())
        .unwrap_or_default();
    let now = shapes::time(c.st.now());
    let id = c.m.number("check_run_id");
    let Some(run) = c.repo().and_then(|r| r.check_runs.get_mut(&id?)) else {
        return Reply::not_found();
    };
    let status = match check_fields(&body, run["status"].as_str()) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    for key in [
        "name",
        "details_url",
        "external_id",
        "started_at",
        "conclusion",
        "actions",
    ] {
        if let Some(v) = body.get(key) {
            run[key] = v.clone();
        }
    }
    if body.contains_key("output") {
        let url = run["url"].as_str().unwrap_or_default().to_string();
        run["output"] = output_json(body.get("output"), &url);
    }
    if status == "completed" && run["completed_at"].is_null() {
        run["completed_at"] = body.get("completed_at").cloned().unwrap_or(json!(now));
    }
    run["status"] = json!(status);
    Reply::json(200, run.clone())
}
