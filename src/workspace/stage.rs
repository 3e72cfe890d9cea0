//! Staging the agent's work in agen's index.
//!
//! Nested repositories (a directory below the top holding a `.git` directory, file or link)
//! are kept out: git would record them as gitlinks, and to do so it reads the nested
//! repository's HEAD — which a `.git` *file* (`gitdir: /any/path`) can point at any
//! repository on the host, leaking its commit id into this one; one without commits makes
//! `git add` fail outright. They are found before git walks the tree and excluded by
//! literal pathspecs, so git never looks inside them.
//!
//! What the job's setup steps wrote ([`JobWorkspace::mark_setup`]) is kept out too: a path
//! goes into the change only if it differs from what setup left, so installed dependencies or
//! a regenerated lock file reach the commit only when the agent changed them.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::changes::{ChangeStatus, ChangedFile, Changes, GITLINK, MAX_LINES_BYTES};
use super::job::JobWorkspace;
use super::WorkspaceError;

impl JobWorkspace {
    /// Stages every change in the worktree against the base commit (new, changed, deleted
    /// files; never a `.git` entry, never a nested repository) and describes the result.
    pub fn stage(&self) -> Result<Changes, WorkspaceError> {
        let nested = self.add_all()?;
        if let Some(setup) = &self.setup_tree {
            self.unstage_setup_only(setup)?;
        }
        let mut skipped: Vec<String> = nested
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        let files = self.drop_gitlinks(self.raw_diff()?, &mut skipped)?;
        let mut files: Vec<ChangedFile> = files.into_iter().map(|(f, _)| f).collect();
        self.mark_binary(&mut files)?;
        let mut large = Vec::new();
        for file in &mut files {
            if file.new_size.is_some_and(|size| size > MAX_LINES_BYTES) {
                file.lines_omitted = true;
                large.push(file.path.as_str());
            }
        }
        let lines = ["-U0", "--no-color", "--no-ext-diff", "--no-textconv"];
        let diff = self.diff_except(&lines, &large)?;
        let diffstat = self.diff(&["--stat=120", "--no-color"])?;
        skipped.sort();
        Ok(Changes {
            added_lines: super::changes::parse_added_lines(&diff),
            files,
            diffstat: String::from_utf8_lossy(&diffstat).into_owned(),
            skipped_nested_repos: skipped,
        })
    }

    /// Records what the worktree holds now (after the job's setup steps) as the baseline the
    /// agent's change is taken against; see the module's doc.
    pub fn mark_setup(&mut self) -> Result<(), WorkspaceError> {
        self.add_all()?;
        let tree = self.trusted().args(["write-tree"]).run()?;
        self.setup_tree = Some(String::from_utf8_lossy(&tree).trim().to_string());
        Ok(())
    }

    /// `git add --all` of the worktree in agen's index, nested repositories excluded; which
    /// those were.
    fn add_all(&self) -> Result<Vec<Vec<u8>>, WorkspaceError> {
        let mut nested = Vec::new();
        find_nested_repos(&self.work, &mut Vec::new(), &mut nested)
            .map_err(|e| WorkspaceError::io(format!("walking {}", self.work.display()), e))?;
        let mut pathspecs = b":/\0".to_vec();
        for path in &nested {
            pathspecs.extend_from_slice(b":(exclude,literal)");
            pathspecs.extend_from_slice(path);
            pathspecs.push(0);
        }
        self.trusted()
            .args([
                "add",
                "--all",
                "--pathspec-file-nul",
                "--pathspec-from-file=-",
            ])
            .stdin(pathspecs)
            .run()?;
        Ok(nested)
    }

    /// Puts back the base's entry (or none) for every staged path that is as setup left it.
    fn unstage_setup_only(&self, setup: &str) -> Result<(), WorkspaceError> {
        let changed = |since: &str| -> Result<Vec<Vec<u8>>, WorkspaceError> {
            let out = self
                .trusted()
                .args([
                    "diff-index",
                    "--cached",
                    "--name-only",
                    "-z",
                    "--no-renames",
                ])
                .arg(since)
                .args(["--", ":/"])
                .run()?;
            Ok(out
                .split(|&b| b == 0)
                .filter(|p| !p.is_empty())
                .map(<[u8]>::to_vec)
                .collect())
        };
        let by_agent = changed(setup)?;
        let mut paths = Vec::new();
        for path in changed(&self.base_sha)? {
            if !by_agent.contains(&path) {
                paths.extend_from_slice(&path);
                paths.push(0);
            }
        }
        if paths.is_empty() {
            return Ok(());
        }
        self.reset_to_base(paths)
    }

    /// Second line of defence: any new or changed gitlink still staged goes back to what
    /// the base had.
    fn drop_gitlinks(
        &self,
        files: Vec<(ChangedFile, String)>,
        skipped: &mut Vec<String>,
    ) -> Result<Vec<(ChangedFile, String)>, WorkspaceError> {
        let (links, files): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(f, mode)| mode == GITLINK && f.status != ChangeStatus::Deleted);
        if links.is_empty() {
            return Ok(files);
        }
        let mut paths = Vec::new();
        for (file, _) in links {
            paths.extend_from_slice(file.path.as_bytes());
            paths.push(0);
            skipped.push(file.path);
        }
        self.reset_to_base(paths)?;
        Ok(files)
    }

    /// Puts back the base's index entry (or none) for each of `paths` (NUL-separated).
    fn reset_to_base(&self, paths: Vec<u8>) -> Result<(), WorkspaceError> {
        self.trusted()
            .arg("--literal-pathspecs")
            .args([
                "reset",
                "--quiet",
                "--pathspec-file-nul",
                "--pathspec-from-file=-",
            ])
            .arg(&self.base_sha)
            .stdin(paths)
            .run()?;
        Ok(())
    }
}

/// Adds to `out` the path (relative to the top, as bytes) of every directory below `dir`
/// that has a `.git` entry. Symbolic links are not followed; the top's own `.git` is the
/// agent's repository and is skipped (git never adds it).
fn find_nested_repos(dir: &Path, rel: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !entry.file_type()?.is_dir() || (rel.is_empty() && name == ".git") {
            continue;
        }
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        let path = entry.path();
        if fs::symlink_metadata(path.join(".git")).is_ok() {
            out.push(rel.clone());
        } else {
            find_nested_repos(&path, rel, out)?;
        }
        rel.truncate(len);
    }
    Ok(())
}
