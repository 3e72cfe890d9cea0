//! One bare repository and the few plumbing commands the simulator runs on it: create,
//! commit a directory or a file, list, move and read refs, read blobs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context};

use super::{command, hook, AUTHOR_DATE, AUTHOR_EMAIL, AUTHOR_NAME};

pub(crate) const ZERO: &str = "0000000000000000000000000000000000000000";

/// A bare repository under a simulator's git root.
pub(crate) struct Bare<'a> {
    pub root: &'a Path,
    pub dir: &'a Path,
}

impl Bare<'_> {
    /// Runs git on this repository; its stdout, or an error carrying its stderr.
    pub fn run(
        &self,
        args: &[&str],
        stdin: &[u8],
        env: &[(&str, &Path)],
    ) -> anyhow::Result<Vec<u8>> {
        let mut cmd = command(self.root);
        cmd.arg("--git-dir").arg(self.dir).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        for k in ["GIT_AUTHOR", "GIT_COMMITTER"] {
            cmd.env(format!("{k}_NAME"), AUTHOR_NAME)
                .env(format!("{k}_EMAIL"), AUTHOR_EMAIL)
                .env(format!("{k}_DATE"), AUTHOR_DATE);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("running git")?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin).context("writing to git")?;
        }
        let out = child.wait_with_output().context("waiting for git")?;
        if !out.status.success() {
            bail!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    }

    fn line(&self, args: &[&str], stdin: &[u8], env: &[(&str, &Path)]) -> anyhow::Result<String> {
        let out = self.run(args, stdin, env)?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// An empty bare repository whose HEAD is `default_branch`, with the refusing hook.
    pub fn init(&self, default_branch: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.dir)?;
        self.run(&["init", "-q", "--bare"], b"", &[])?;
        self.run(
            &[
                "symbolic-ref",
                "HEAD",
                &format!("refs/heads/{default_branch}"),
            ],
            b"",
            &[],
        )?;
        // No background gc: nothing may outlive a request or the simulator.
        self.run(&["config", "gc.auto", "0"], b"", &[])?;
        self.run(&["config", "receive.autogc", "false"], b"", &[])?;
        hook::install(self.dir)
    }

    /// Every ref (`refs/heads/main` → sha), as the REST view must show them.
    pub fn refs(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let out = self.run(
            &["for-each-ref", "--format=%(refname) %(objectname)"],
            b"",
            &[],
        )?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(r, s)| (r.to_string(), s.to_string()))
            .collect())
    }

    /// The commit a branch, tag, ref or sha names; `None` when it names none.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        if rev.is_empty() || rev.starts_with('-') || rev.contains(['\n', '\0', ':']) {
            return None;
        }
        let spec = format!("{rev}^{{commit}}");
        let args = [
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ];
        self.line(&args, b"", &[]).ok().filter(|s| s.len() == 40)
    }

    /// The blob at `path` in commit `sha`: (blob sha, bytes); `None` when absent or a tree.
    pub fn blob(&self, sha: &str, path: &str) -> Option<(String, Vec<u8>)> {
        if path.contains(['\n', '\0']) {
            return None;
        }
        let input = format!("{sha}:{}\n", path.trim_start_matches('/'));
        let out = self
            .run(&["cat-file", "--batch"], input.as_bytes(), &[])
            .ok()?;
        let split = out.iter().position(|b| *b == b'\n')?;
        let header = String::from_utf8_lossy(&out[..split]).to_string();
        let mut fields = header.split(' ');
        let (blob, kind, size) = (fields.next()?, fields.next()?, fields.next()?);
        let size: usize = size.parse().ok()?;
        let body = out.get(split + 1..split + 1 + size)?;
        (kind == "blob").then(|| (blob.to_string(), body.to_vec()))
    }

    /// Commits every file below `dir` (executable bits kept) as a root commit on `branch`.
    pub fn commit_dir(&self, branch: &str, dir: &Path, message: &str) -> anyhow::Result<String> {
        let index = TempIndex::new(self.root)?;
        let env = [("GIT_INDEX_FILE", index.0.as_path())];
        let mut cmd_env = env.to_vec();
        cmd_env.push(("GIT_WORK_TREE", dir));
        self.run(&["add", "--all", "--force"], b"", &cmd_env)
            .with_context(|| format!("adding {}", dir.display()))?;
        let tree = self.line(&["write-tree"], b"", &env)?;
        self.commit(branch, &tree, None, message)
    }

    /// Commits `content` at `path` on top of `branch`'s tip; returns the new commit's sha.
    pub fn commit_file(
        &self,
        branch: &str,
        path: &str,
        content: &[u8],
        message: &str,
    ) -> anyhow::Result<String> {
        let parent = self.resolve(&format!("refs/heads/{branch}"));
        let index = TempIndex::new(self.root)?;
        let env = [("GIT_INDEX_FILE", index.0.as_path())];
        if let Some(parent) = &parent {
            self.run(&["read-tree", parent], b"", &env)?;
        }
        let blob = self.line(&["hash-object", "-w", "--stdin"], content, &[])?;
        let info = format!("100644,{blob},{}", path.trim_start_matches('/'));
        self.run(&["update-index", "--add", "--cacheinfo", &info], b"", &env)?;
        let tree = self.line(&["write-tree"], b"", &env)?;
        self.commit(branch, &tree, parent.as_deref(), message)
    }

    fn commit(
        &self,
        branch: &str,
        tree: &str,
        parent: Option<&str>,
        message: &str,
    ) -> anyhow::Result<String> {
        let mut args = vec!["commit-tree", tree];
        if let Some(p) = parent {
            args.extend(["-p", p]);
        }
        let sha = self.line(&args, message.as_bytes(), &[])?;
        self.set_ref(
            &format!("refs/heads/{branch}"),
            &sha,
            Some(parent.unwrap_or(ZERO)),
        )?;
        Ok(sha)
    }

    /// Moves `name` to `new`; with `old`, only from there (the zero sha: only if `name`
    /// does not exist yet), atomically.
    pub fn set_ref(&self, name: &str, new: &str, old: Option<&str>) -> anyhow::Result<()> {
        let mut args = vec!["update-ref", "--end-of-options", name, new];
        args.extend(old);
        self.run(&args, b"", &[]).map(drop)
    }

    pub fn delete_ref(&self, name: &str) -> anyhow::Result<()> {
        self.run(&["update-ref", "-d", "--end-of-options", name], b"", &[])
            .map(drop)
    }
}

/// A private index file for one commit, removed afterwards.
struct TempIndex(PathBuf);

impl TempIndex {
    fn new(root: &Path) -> anyhow::Result<TempIndex> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let dir = root.join("tmp");
        std::fs::create_dir_all(&dir)?;
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        Ok(TempIndex(dir.join(format!("index-{n}"))))
    }
}

impl Drop for TempIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
