//! Test fixtures: a source repository served over `file://` or over HTTP by `git
//! http-backend` behind a minimal server that records the `Authorization` headers it gets.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use super::super::{GitToken, Workspaces};
use crate::ids::{JobId, RepoId};

pub(crate) const TOKEN: &str = "ghs_TestTokenDoNotLeak0123456789";

/// Runs git in `dir` with no user config; panics with git's stderr on failure.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.com")
        .env("GIT_COMMITTER_NAME", "Tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.com")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    text.trim().to_string()
}

pub(crate) struct Fixture {
    /// First, so it is dropped (waiting for spares being built) before `tmp` is removed.
    pub ws: Workspaces,
    pub tmp: tempfile::TempDir,
    /// A non-bare repository whose `main` is pushed to `source`.
    pub author: PathBuf,
    /// The bare "GitHub" repository.
    pub source: PathBuf,
    pub url: String,
    pub base: String,
    pub token: GitToken,
}

pub(crate) const LIB_RS: &str = "fn one() {}\nfn two() {}\nfn three() {}\n";

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let author = tmp.path().join("author");
        std::fs::create_dir_all(author.join("src")).unwrap();
        git(&author, &["init", "-q", "-b", "main"]);
        std::fs::write(author.join("README.md"), "# demo\n").unwrap();
        std::fs::write(author.join("src/lib.rs"), LIB_RS).unwrap();
        std::fs::write(
            author.join("old-name.txt"),
            "moved content\nline 2\nline 3\n",
        )
        .unwrap();
        std::fs::write(author.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        std::os::unix::fs::symlink("README.md", author.join("link")).unwrap();
        let exec = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(author.join("run.sh"), exec).unwrap();
        git(&author, &["add", "-A"]);
        git(&author, &["commit", "-q", "-m", "initial"]);
        let source = tmp.path().join("remote/source.git");
        git(
            tmp.path(),
            &["init", "-q", "--bare", source.to_str().unwrap()],
        );
        git(&author, &["push", "-q", source.to_str().unwrap(), "main"]);
        let base = git(&author, &["rev-parse", "HEAD"]);
        let ws = Workspaces::new(tmp.path().join("data")).unwrap();
        Fixture {
            url: format!("file://{}", source.display()),
            tmp,
            author,
            source,
            ws,
            base,
            token: GitToken::new(TOKEN),
        }
    }

    /// Commits `file` = `contents` in the author repo and pushes it to `refspec`.
    pub(crate) fn push_commit(&self, file: &str, contents: &str, refspec: &str) -> String {
        std::fs::write(self.author.join(file), contents).unwrap();
        git(&self.author, &["add", "-A"]);
        git(&self.author, &["commit", "-q", "-m", file]);
        git(
            &self.author,
            &["push", "-q", "-f", self.source.to_str().unwrap(), refspec],
        );
        git(&self.author, &["rev-parse", "HEAD"])
    }

    pub(crate) fn prepare(&self, job: i64) -> super::super::JobWorkspace {
        self.ws
            .prepare(RepoId(1), JobId(job), &self.url, &self.token, &self.base)
            .unwrap()
    }
}

/// Serves the bare repositories under `root` at `http://127.0.0.1:<port>/<name>.git`
/// through `git http-backend` (pushes allowed). With `require`, any request without that
/// exact `Authorization` header gets a 401.
pub(crate) struct HttpGit {
    pub base_url: String,
    pub seen_auth: Arc<Mutex<Vec<String>>>,
}

impl HttpGit {
    pub(crate) fn start(root: &Path, require: Option<String>) -> HttpGit {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let seen_auth = Arc::new(Mutex::new(Vec::new()));
        let (root, seen) = (root.to_path_buf(), seen_auth.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, seen, require) = (root.clone(), seen.clone(), require.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &seen, require.as_deref());
                });
            }
        });
        HttpGit {
            base_url,
            seen_auth,
        }
    }
}

fn serve(
    stream: TcpStream,
    root: &Path,
    seen: &Mutex<Vec<String>>,
    require: Option<&str>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let Some((k, v)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    let auth = header("authorization").unwrap_or_default();
    seen.lock().unwrap().push(auth.clone());
    let mut out = stream;
    if require.is_some_and(|r| r != auth) {
        return out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
        .env(
            "HTTP_CONTENT_ENCODING",
            header("content-encoding").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = cgi.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = cgi.wait_with_output()?;
    let _ = writer.join();
    let raw = output.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let cgi_headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let content = raw.get(split + 4..).unwrap_or_default();
    let mut status = "200 OK".to_string();
    let mut response = String::new();
    for h in cgi_headers.split("\r\n").filter(|h| !h.is_empty()) {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            _ => response.push_str(&format!("{h}\r\n")),
        }
    }
    let head = format!(
        "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
        content.len()
    );
    out.write_all(head.as_bytes())?;
    out.write_all(content)
}
