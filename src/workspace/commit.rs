//! The commit of what [`JobWorkspace::stage`] staged, by plumbing (`write-tree`,
//! `commit-tree`): no hook can run, no commit template or signing config applies, and the
//! message is taken verbatim.

use super::job::JobWorkspace;
use super::{check_sha, WorkspaceError};

/// Author and committer of agen's commits: the App's bot user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    /// The identity GitHub shows as the App's bot: `<slug>[bot]`,
    /// `<bot user id>+<slug>[bot]@users.noreply.github.com`.
    pub fn github_bot(slug: &str, bot_user_id: u64) -> Identity {
        Identity {
            name: format!("{slug}[bot]"),
            email: format!("{bot_user_id}+{slug}[bot]@users.noreply.github.com"),
        }
    }

    fn check(&self) -> Result<(), WorkspaceError> {
        let bad = |s: &str| s.trim().is_empty() || s.contains(['<', '>', '\n', '\r', '\0']);
        if bad(&self.name) || bad(&self.email) {
            return Err(WorkspaceError::Invalid {
                what: "identity",
                detail: format!("{:?} <{:?}>", self.name, self.email),
            });
        }
        Ok(())
    }
}

impl JobWorkspace {
    /// Commits the staged tree with the base commit as its only parent, by `author` (also
    /// the committer). Returns the new commit's sha. Refuses when nothing is staged. The
    /// workspace's HEAD stays at the base, so a later `stage` still describes everything
    /// changed since the base.
    pub fn commit(&self, message: &str, author: &Identity) -> Result<String, WorkspaceError> {
        author.check()?;
        let tree = self.one_line(self.trusted().arg("write-tree").run()?)?;
        let base_tree = self.one_line(
            self.trusted()
                .args(["rev-parse", "--verify", "--quiet"])
                .arg(format!("{}^{{tree}}", self.base_sha))
                .run()?,
        )?;
        if tree == base_tree {
            return Err(WorkspaceError::Refused("nothing staged to commit".into()));
        }
        let mut message = message.trim_end().to_string();
        message.push('\n');
        let sha = self.one_line(
            self.trusted()
                .env("GIT_AUTHOR_NAME", &author.name)
                .env("GIT_AUTHOR_EMAIL", &author.email)
                .env("GIT_COMMITTER_NAME", &author.name)
                .env("GIT_COMMITTER_EMAIL", &author.email)
                .args(["commit-tree", &tree, "-p", &self.base_sha, "-F", "-"])
                .stdin(message.into_bytes())
                .run()?,
        )?;
        check_sha(&sha)?;
        Ok(sha)
    }

    fn one_line(&self, out: Vec<u8>) -> Result<String, WorkspaceError> {
        String::from_utf8(out)
            .map(|s| s.trim().to_string())
            .map_err(|_| WorkspaceError::Refused("git printed something that is not UTF-8".into()))
    }
}
