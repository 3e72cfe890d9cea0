//! `GET /jobs/{id}?exp=…&sig=…`: a job's page, for anyone holding a link agen signed (see
//! [`crate::store::link_key`]): its state, who asked and how, rounds, spend, branch and pull request,
//! and its session log (or when and by whom it was deleted). Plain server-rendered HTML; every
//! text from outside (the log, titles, details) is escaped, and the page runs no script. A
//! link that does not hold gets the same 404 as a job that does not exist.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::ids::JobId;
use crate::store::jobs::Job;
use crate::store::link_key;
use crate::store::log_deletions::{session_log_path, LogDeletion};
use crate::store::Store;

/// What the page needs: the store, and where the session logs are.
#[derive(Clone)]
pub struct PageState {
    pub store: Store,
    pub log_dir: PathBuf,
}

/// The one answer to every link that does not lead to a job.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such job page (the link may have expired); ask on the issue for a new one",
    )
        .into_response()
}

pub async fn page(
    State(s): State<PageState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (Ok(id), Some(Ok(expires)), Some(sig)) = (
        id.parse::<i64>(),
        query.get("exp").map(|e| e.parse::<i64>()),
        query.get("sig"),
    ) else {
        return not_found();
    };
    let key = match s.store.link_key().await {
        Ok(key) => key,
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}")).into_response()
        }
    };
    let now = chrono::Utc::now().timestamp();
    if !link_key::holds(&key, JobId(id), expires, sig, now) {
        return not_found();
    }
    let (job, deletion, spend) = match tokio::try_join!(
        s.store.job(JobId(id)),
        s.store.log_deletion(JobId(id)),
        s.store.job_spend(JobId(id)),
    ) {
        Ok((Some(job), deletion, spend)) => (job, deletion, spend),
        Ok((None, _, _)) => return not_found(),
        Err(e) => {
            return (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}")).into_response()
        }
    };
    let log = match &deletion {
        Some(_) => None,
        None => std::fs::read_to_string(session_log_path(&s.log_dir, job.id)).ok(),
    };
    let spent = crate::texts::report::spend_line(&spend);
    let html = render(&job, &spent, log.as_deref(), deletion.as_ref());
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // No script, no outside resource; the link's signature goes nowhere else.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ms(at: Option<i64>) -> String {
    at.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or("-".into(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
}

fn render(job: &Job, spent: &str, log: Option<&str>, deletion: Option<&LogDeletion>) -> String {
    let row = |name: &str, value: &str| format!("<dt>{name}</dt><dd>{}</dd>\n", escape(value));
    let mut facts = String::new();
    facts.push_str(&row(
        "Repository",
        &format!("{}, #{} {}", job.repo, job.issue, job.title),
    ));
    facts.push_str(&row(
        "Asked by",
        &format!("@{} ({})", job.requested_by, job.trigger.as_str()),
    ));
    facts.push_str(&row("Queued", &job.created_at));
    facts.push_str(&row("Started", &ms(job.started_at)));
    facts.push_str(&row("Ended", &ms(job.finished_at)));
    facts.push_str(&row("Rounds", &job.round.to_string()));
    facts.push_str(&row("Spend", spent));
    if let Some(detail) = &job.detail {
        facts.push_str(&row("Outcome", detail));
    }
    if let Some(branch) = &job.branch {
        facts.push_str(&row("Branch", branch));
    }
    if let Some(pr) = job.pr_number {
        facts.push_str(&row("Pull request", &format!("#{pr}")));
    }
    let log = match (log, deletion) {
        (_, Some(d)) => format!(
            "<p>The session log was deleted on {} by {}.</p>",
            escape(&ms(Some(d.deleted_at))),
            escape(&d.deleted_by)
        ),
        (Some(text), None) => format!("<pre>{}</pre>", escape(text)),
        (None, None) => "<p>No session log (yet).</p>".to_string(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>agen job {id}</title><style>body{{font-family:system-ui,sans-serif;\
         max-width:60rem;margin:auto;padding:1rem}}dt{{font-weight:bold}}pre{{white-space:\
         pre-wrap;word-break:break-word;background:#f6f8fa;padding:1rem}}</style></head>\n\
         <body><h1>agen job {id}: {state}</h1>\n<dl>\n{facts}</dl>\n<h2>Session log</h2>\n{log}\n\
         </body></html>\n",
        id = job.id,
        state = escape(job.state.as_str()),
    )
}

#[cfg(test)]
mod tests;
