//! Git smart HTTP, at github.com's addresses: `GET /{owner}/{repo}.git/info/refs?service=…`,
//! `POST /{owner}/{repo}.git/git-upload-pack` and `…/git-receive-pack`, answered by
//! `git http-backend` after the gate let the call through. Every call is recorded like a
//! REST call (ops `git/info-refs`, `git/upload-pack`, `git/receive-pack`); a push's ref
//! updates are its recorded body, its hook's refusals become violations, and the REST refs
//! view is refreshed from the bare repository afterwards.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use http::request::Parts;
use serde_json::Value;

use super::address::{Endpoint, Target};
use super::cgi::{self, CgiReply, CgiRequest};
use super::gate;
use super::pktline;
use crate::sim::record::{AuthKind, Recorded};
use crate::sim::reply::Reply;
use crate::sim::Shared;

/// Pushes carry packs; allow more than a REST body.
const BODY_LIMIT: usize = 512 * 1024 * 1024;

/// What the record of the call needs.
struct Call {
    method: String,
    path: String,
    query: Option<String>,
    user_agent: String,
    op: &'static str,
    auth: AuthKind,
    token: Option<String>,
}

/// What the backend needs once the gate let the call through.
struct Plan {
    git_dir: PathBuf,
    path_info: String,
    default_branch: String,
    workflows: bool,
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    target: Target,
    parts: Parts,
    body: Body,
) -> Response {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let mut call = Call {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        user_agent: header("user-agent").unwrap_or_default().to_string(),
        op: target.endpoint.op(),
        auth: AuthKind::None,
        token: None,
    };
    let plan = admit(&shared, &target, &mut call, header("authorization"));
    let plan = match plan {
        Ok(plan) => plan,
        Err(reply) => {
            finish(shared, call, None, reply.status, None).await;
            return reply.into_response();
        }
    };
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            let reply = Reply::error(413, "Payload too large");
            finish(shared, call, None, 413, None).await;
            return reply.into_response();
        }
    };
    let encoding = header("content-encoding");
    let push = target.endpoint == Endpoint::ReceivePack;
    let updates = (push && encoding.is_none()).then(|| pktline::updates(&body));
    let refusals = push.then(|| refusals_file(&plan));
    let mut hook_env = vec![
        ("SIM_DEFAULT_BRANCH", plan.default_branch.clone()),
        (
            "SIM_WORKFLOWS",
            if plan.workflows { "write" } else { "none" }.to_string(),
        ),
    ];
    if let Some(file) = &refusals {
        hook_env.push(("SIM_REFUSALS", file.display().to_string()));
    }
    let bot = shared.cfg.bot_login();
    let answer = cgi::run(CgiRequest {
        root: &shared.git_root,
        path_info: plan.path_info,
        method: &call.method,
        query: call.query.as_deref().unwrap_or_default(),
        content_type: header("content-type"),
        content_encoding: encoding,
        git_protocol: header("git-protocol"),
        remote_user: &bot,
        hook_env,
        body,
    })
    .await;
    let answer = answer.unwrap_or_else(|e| {
        tracing::error!(error = %e, "git http-backend failed");
        CgiReply {
            status: 500,
            headers: Vec::new(),
            body: b"Server Error\n".to_vec(),
        }
    });
    let recorded = updates.as_deref().map(pktline::record_body);
    finish(
        shared,
        call,
        recorded,
        answer.status,
        refusals.map(|f| (plan.git_dir, f)),
    )
    .await;
    cgi_response(answer)
}

/// Finds the repository and asks the gate, under the lock (no git runs here).
fn admit(
    shared: &Shared,
    target: &Target,
    call: &mut Call,
    authorization: Option<&str>,
) -> Result<Plan, Reply> {
    let mut st = shared.lock();
    let repo = st
        .repo_by_name(&target.owner, &target.name)
        .and_then(|id| st.repos.get(&id))
        .filter(|r| r.git_dir.is_some());
    let bot = shared.cfg.bot_login();
    let decision = gate::decide(&st, &bot, repo, authorization, target.endpoint.service());
    call.auth = decision.auth;
    call.token = decision.token;
    let grant = decision.outcome?;
    let repo = repo.ok_or_else(Reply::not_found)?;
    let plan = Plan {
        git_dir: repo.git_dir.clone().unwrap_or_default(),
        path_info: format!("/{}/{}.git/{}", repo.owner, repo.name, target.tail),
        default_branch: repo.default_branch.clone(),
        workflows: grant.workflows,
    };
    let fault = st
        .faults
        .iter_mut()
        .find(|f| f.matches(&call.method, &call.path));
    if let Some(f) = fault {
        f.times -= 1;
        let mut reply = Reply::error(f.status, f.message());
        reply.headers.extend(f.headers.iter().cloned());
        return Err(reply);
    }
    Ok(plan)
}

/// A fresh file in the git dir for this push's hook to list its refusals in.
fn refusals_file(plan: &Plan) -> PathBuf {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    plan.git_dir.join(format!("sim-refusals-{n}"))
}

/// Records the call; after a push, turns the hook's refusals into violations and refreshes
/// the refs view. Runs where git may block.
async fn finish(
    shared: Arc<Shared>,
    call: Call,
    body: Option<Value>,
    status: u16,
    push: Option<(PathBuf, PathBuf)>,
) {
    let done = tokio::task::spawn_blocking(move || {
        let mut st = shared.lock();
        if let Some((git_dir, refusals)) = push {
            let lines = std::fs::read_to_string(&refusals).unwrap_or_default();
            let _ = std::fs::remove_file(&refusals);
            for line in lines.lines().filter(|l| !l.is_empty()) {
                st.violations.push(format!(
                    "push refused: {line}: {} {}",
                    call.method, call.path
                ));
            }
            let repo = st
                .repos
                .values_mut()
                .find(|r| r.git_dir.as_ref() == Some(&git_dir));
            if let Some(repo) = repo {
                if let Err(e) = super::sync_refs(&shared.git_root, repo) {
                    tracing::error!(error = %e, "reading refs after a push");
                }
            }
        }
        st.records.push(Recorded {
            method: call.method,
            path: call.path,
            query: call.query,
            operation: Some(call.op.to_string()),
            auth: call.auth,
            token: call.token,
            body,
            status,
            user_agent: call.user_agent,
            api_version: None,
        });
    });
    if done.await.is_err() {
        tracing::error!("recording a git call failed");
    }
}

fn cgi_response(reply: CgiReply) -> Response {
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from(reply.body))
        .unwrap_or_else(|_| Response::new(Body::from("simulator: bad response header")))
}
