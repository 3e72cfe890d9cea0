//! Observing what agen did to the simulated GitHub: the recorded calls, writes and
//! violations, and the comments, labels, pulls, check runs and tokens it left. Setting the
//! scene is [`super::arrange`]; a git-backed repository's commits are read in `git/read.rs`.

use serde_json::Value;

use super::record::Recorded;
use super::state::{MintedToken, SimComment};
use super::Simulator;

impl Simulator {
    /// Every call, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared().lock().records.clone()
    }

    /// Non-GET calls as `"METHOD /path"` (no query), in order; a fetch's
    /// `POST …/git-upload-pack` reads, so it is not one, a push's `git-receive-pack` is.
    pub fn writes(&self) -> Vec<String> {
        let st = self.shared().lock();
        st.records
            .iter()
            .filter(|r| r.method != "GET" && r.operation.as_deref() != Some("git/upload-pack"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Comments on an issue or pull request, oldest first.
    pub fn comments(&self, full_name: &str, issue: u64) -> Vec<SimComment> {
        let st = self.shared().lock();
        let Some(repo) = st.repo_by_full_name(full_name) else {
            return Vec::new();
        };
        st.comments
            .values()
            .filter(|c| c.repo_id == repo && c.issue == issue)
            .map(|c| SimComment {
                id: c.id,
                body: c.body.clone(),
                user_login: c.user_login.clone(),
            })
            .collect()
    }

    /// Reaction contents on a comment, in order, e.g. `["eyes"]`.
    pub fn reactions(&self, full_name: &str, comment_id: u64) -> Vec<String> {
        let st = self.shared().lock();
        let repo = st.repo_by_full_name(full_name);
        st.comments
            .get(&comment_id)
            .filter(|c| Some(c.repo_id) == repo)
            .map(|c| c.reactions.iter().map(|r| r.content.clone()).collect())
            .unwrap_or_default()
    }

    /// Labels on an issue or pull request.
    pub fn labels(&self, full_name: &str, issue: u64) -> Vec<String> {
        self.read_repo(full_name, |r| {
            r.issues.get(&issue).map(|i| i.labels.clone())
        })
        .flatten()
        .unwrap_or_default()
    }

    /// Pull requests as the API returns them, by number.
    pub fn pulls(&self, full_name: &str) -> Vec<Value> {
        self.read_repo(full_name, |r| r.pulls.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Check runs as the API returns them, oldest first.
    pub fn check_runs(&self, full_name: &str) -> Vec<Value> {
        self.read_repo(full_name, |r| r.check_runs.values().cloned().collect())
            .unwrap_or_default()
    }

    /// A ref's sha, e.g. `refs/heads/agen/issue-1-x`.
    pub fn git_ref(&self, full_name: &str, name: &str) -> Option<String> {
        self.read_repo(full_name, |r| r.refs.get(name).cloned())
            .flatten()
    }

    /// Every installation token minted, in order.
    pub fn tokens(&self) -> Vec<MintedToken> {
        self.shared().lock().tokens.clone()
    }

    /// Calls that break agen's promises; tests assert this is empty.
    pub fn violations(&self) -> Vec<String> {
        self.shared().lock().violations.clone()
    }

    fn read_repo<T>(&self, full_name: &str, f: impl FnOnce(&super::state::Repo) -> T) -> Option<T> {
        let st = self.shared().lock();
        let id = st.repo_by_full_name(full_name)?;
        st.repos.get(&id).map(f)
    }
}
