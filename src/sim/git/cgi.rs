//! `git http-backend` as a CGI: the request goes in through the environment and stdin,
//! the answer comes back on stdout as CGI headers (`Status:` and the rest), a blank line,
//! and the body. Runs as an async child process, never blocking the runtime.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncWriteExt;

/// The longest one git call may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct CgiRequest<'a> {
    /// The simulator's git root (for the clean environment).
    pub root: &'a Path,
    /// `/{owner}/{name}.git/info/refs` and the like, below the project root.
    pub path_info: String,
    pub method: &'a str,
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    /// `gzip` when git compressed the request (it does for fetches).
    pub content_encoding: Option<&'a str>,
    /// The `Git-Protocol` header (`version=2`).
    pub git_protocol: Option<&'a str>,
    pub remote_user: &'a str,
    /// Passed on to the hooks.
    pub hook_env: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

pub(crate) struct CgiReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub(crate) async fn run(req: CgiRequest<'_>) -> anyhow::Result<CgiReply> {
    let mut cmd = super::command(req.root);
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", super::projects(req.root))
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", &req.path_info)
        .env("REQUEST_METHOD", req.method)
        .env("QUERY_STRING", req.query)
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("REMOTE_USER", req.remote_user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1");
    let optional = [
        ("CONTENT_TYPE", req.content_type),
        ("HTTP_CONTENT_ENCODING", req.content_encoding),
        ("GIT_PROTOCOL", req.git_protocol),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            cmd.env(name, v);
        }
    }
    for (name, value) in &req.hook_env {
        cmd.env(name, value);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let mut child = cmd.spawn().context("starting git http-backend")?;
    let mut stdin = child.stdin.take().context("http-backend stdin")?;
    let body = req.body;
    let feed = tokio::spawn(async move {
        // A backend that stops reading early (an error answer) is not our failure.
        let _ = stdin.write_all(&body).await;
        let _ = stdin.shutdown().await;
    });
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .context("git http-backend timed out")?
        .context("waiting for git http-backend")?;
    let _ = feed.await;
    if !out.stderr.is_empty() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&out.stderr), "git http-backend");
    }
    parse(&out.stdout)
}

/// Splits CGI output into status, headers and body.
fn parse(out: &[u8]) -> anyhow::Result<CgiReply> {
    let mut status = 200;
    let mut headers = Vec::new();
    let mut rest = out;
    loop {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .context("http-backend answered without a header block")?;
        let line = String::from_utf8_lossy(&rest[..end]);
        let line = line.trim_end_matches('\r');
        rest = &rest[end + 1..];
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            status = value
                .split(' ')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
        } else {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    Ok(CgiReply {
        status,
        headers,
        body: rest.to_vec(),
    })
}

#[cfg(test)]
mod tests;
