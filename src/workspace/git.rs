//! The one way agen runs git: a cleared environment, no hooks, no fsmonitor, no user or
//! system config, and the GitHub token only ever in the environment of the one process that
//! talks to GitHub (never in argv, which `/proc/<pid>/cmdline` shows to every user, and never
//! in a file, a remote URL or an error message).

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use super::WorkspaceError;

/// An installation token for git over HTTPS. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct GitToken(String);

impl GitToken {
    pub fn new(token: impl Into<String>) -> Self {
        GitToken(token.into())
    }

    /// The `Authorization` header value GitHub accepts for git over HTTPS.
    fn header(&self) -> String {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{}", self.0));
        format!("Authorization: Basic {basic}")
    }

    /// `text` with the token, and the header made from it, replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in [
            self.header(),
            self.header()["Authorization: Basic ".len()..].to_string(),
        ] {
            out = out.replace(&secret, "***");
        }
        if !self.0.is_empty() {
            out = out.replace(&self.0, "***");
        }
        out
    }
}

impl std::fmt::Debug for GitToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GitToken(***)")
    }
}

impl std::fmt::Display for GitToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Options every git run gets. `core.hooksPath=/dev/null` disables every hook of whatever
/// repository git looks at; `core.fsmonitor=false` stops git from running a configured
/// monitor command.
const ALWAYS: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.quotePath=false",
    "advice.addEmbeddedRepo=false",
    "gc.auto=0",
    "maintenance.auto=false",
];

/// Options for runs that carry the token: no redirects (a redirect to another host must not
/// receive the header), and give up on a stalled connection instead of hanging the job.
const NETWORK: &[&str] = &[
    "http.followRedirects=false",
    "http.lowSpeedLimit=1000",
    "http.lowSpeedTime=60",
];

/// Starts git commands. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Git {
    /// An empty directory of agen's: `HOME` and the working directory of every run.
    home: PathBuf,
}

impl Git {
    pub(crate) fn new(home: PathBuf) -> Self {
        Git { home }
    }

    /// A command with agen's fixed options; `git_dir`, when given, is passed explicitly so git
    /// never discovers a repository on its own.
    pub(crate) fn cmd(&self, git_dir: Option<&Path>) -> GitCmd<'_> {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(dir) = git_dir {
            args.push(join("--git-dir=", dir.as_os_str()));
        }
        for opt in ALWAYS {
            args.push("-c".into());
            args.push((*opt).into());
        }
        GitCmd {
            home: &self.home,
            args,
            env: Vec::new(),
            stdin: None,
            token: None,
        }
    }
}

pub(crate) struct GitCmd<'a> {
    home: &'a Path,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
    stdin: Option<Vec<u8>>,
    token: Option<&'a GitToken>,
}

impl<'a> GitCmd<'a> {
    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// `-c key=value`; must come before the subcommand.
    pub(crate) fn config(self, key_value: &str) -> Self {
        self.arg("-c").arg(key_value)
    }

    pub(crate) fn env(mut self, key: &'static str, value: &str) -> Self {
        self.env.push((key, value.to_string()));
        self
    }

    pub(crate) fn stdin(mut self, input: Vec<u8>) -> Self {
        self.stdin = Some(input);
        self
    }

    /// Sends the token as an `http.extraHeader` given through `GIT_CONFIG_*` variables: only
    /// this process and the remote helper it starts see it. Call before the subcommand.
    pub(crate) fn token(mut self, token: &'a GitToken) -> Self {
        for opt in NETWORK {
            self = self.config(opt);
        }
        self.token = Some(token);
        self
    }

    /// Runs to the end; `Ok(stdout)` when git exits 0.
    pub(crate) fn run(self) -> Result<Vec<u8>, WorkspaceError> {
        let (ok, stdout, error) = self.run_inner()?;
        if ok {
            Ok(stdout)
        } else {
            Err(error)
        }
    }

    /// Runs to the end; whether git exited 0 (for questions such as `cat-file -e`).
    pub(crate) fn succeeds(self) -> Result<bool, WorkspaceError> {
        Ok(self.run_inner()?.0)
    }

    fn run_inner(self) -> Result<(bool, Vec<u8>, WorkspaceError), WorkspaceError> {
        let shown = self.shown();
        let mut cmd = Command::new("git");
        cmd.env_clear()
            .args(&self.args)
            .current_dir(self.home)
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Git never looks for a repository above its (empty) working directory.
        if let Some(parent) = self.home.parent() {
            cmd.env("GIT_CEILING_DIRECTORIES", parent);
        }
        if let Some(token) = self.token {
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env("GIT_CONFIG_VALUE_0", token.header());
        }
        let mut child = cmd.spawn().map_err(|e| WorkspaceError::io(&shown, e))?;
        // Written from a thread so a large input cannot deadlock against a full stdout pipe.
        let writer = match (self.stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => {
                Some(std::thread::spawn(move || pipe.write_all(&input)))
            }
            _ => None,
        };
        let out = child
            .wait_with_output()
            .map_err(|e| WorkspaceError::io(&shown, e))?;
        if let Some(writer) = writer {
            // A failed write (git exited early) shows up as git's own error below.
            let _ = writer.join();
        }
        let stderr = String::from_utf8_lossy(tail(&out.stderr, 2000))
            .trim()
            .to_string();
        let error = WorkspaceError::Git {
            command: shown,
            code: out.status.code(),
            stderr: match self.token {
                Some(token) => token.scrub(&stderr),
                None => stderr,
            },
        };
        Ok((out.status.success(), out.stdout, error))
    }

    /// The command for messages: arguments only (the token is never an argument), without
    /// the fixed `-c` options.
    fn shown(&self) -> String {
        let mut shown = String::from("git");
        let mut skip = false;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if skip {
                skip = false;
                continue;
            }
            if arg == "-c" {
                skip = true;
                continue;
            }
            shown.push(' ');
            shown.push_str(&arg);
        }
        shown
    }
}

fn join(prefix: &str, value: &OsStr) -> OsString {
    let mut s = OsString::from(prefix);
    s.push(value);
    s
}

fn tail(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[bytes.len().saturating_sub(max)..]
}
