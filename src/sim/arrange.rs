//! Arranging the simulated GitHub before (or during) a test: installations, repositories,
//! roles, issues, comments, files, pull requests, refs, faults and the clock. What agen did
//! is read back in [`super::observe`]; git-backed repositories are written in `git/write.rs`.

use serde_json::Value;

use super::git;
use super::record::Fault;
use super::shapes::fake_sha;
use super::state::{Comment, Installation, Issue, Repo};
use super::Simulator;

impl Simulator {
    /// An installation on `account_login` (`"Organization"` or `"User"`), with no repositories.
    pub fn add_installation(&self, id: u64, account_login: &str, account_type: &str) {
        let mut st = self.shared().lock();
        let created_at = st.now();
        st.installations.insert(
            id,
            Installation {
                id,
                account_login: account_login.to_string(),
                account_type: account_type.to_string(),
                suspended_at: None,
                repos: Vec::new(),
                created_at,
            },
        );
    }

    pub fn suspend_installation(&self, id: u64) {
        let mut st = self.shared().lock();
        let now = st.now();
        if let Some(i) = st.installations.get_mut(&id) {
            i.suspended_at = Some(now);
        }
    }

    /// Uninstalls: the installation is gone and its tokens stop working.
    pub fn remove_installation(&self, id: u64) {
        self.shared().lock().installations.remove(&id);
    }

    /// A repository `owner/name` in the installation, default branch `main` (with a
    /// commit); returns its id.
    pub fn add_repo(&self, installation_id: u64, full_name: &str, private: bool) -> u64 {
        let mut st = self.shared().lock();
        let id = st.id();
        let (owner, name) = full_name.split_once('/').unwrap_or((full_name, full_name));
        let mut repo = Repo {
            id,
            installation_id,
            owner: owner.to_string(),
            name: name.to_string(),
            private,
            default_branch: "main".to_string(),
            ..Repo::default()
        };
        repo.refs.insert(
            "refs/heads/main".to_string(),
            fake_sha(&format!("{full_name}@main")),
        );
        st.repos.insert(id, repo);
        if let Some(i) = st.installations.get_mut(&installation_id) {
            i.repos.push(id);
        }
        id
    }

    /// Gives `login` a role (admin|maintain|write|triage|read) on the repository.
    pub fn set_permission(&self, full_name: &str, login: &str, role: &str) {
        self.with_repo(full_name, |r| {
            r.roles.insert(login.to_string(), role.to_string());
        });
    }

    /// An open issue. The simulator serves no issue endpoint, so `_author` is only for the
    /// test's readability (webhook payloads carry the author).
    pub fn add_issue(&self, full_name: &str, number: u64, title: &str, body: &str, _author: &str) {
        self.with_repo(full_name, |r| {
            r.issues.insert(
                number,
                Issue {
                    title: title.to_string(),
                    body: body.to_string(),
                    labels: Vec::new(),
                },
            );
        });
    }

    /// A comment a person wrote on an issue (the one a webhook then reports); returns its id.
    /// Panics when the repository or issue was not seeded: that is a broken test.
    pub fn add_comment(&self, full_name: &str, issue: u64, body: &str, author: &str) -> u64 {
        let mut st = self.shared().lock();
        let repo_id = st
            .repo_by_full_name(full_name)
            .unwrap_or_else(|| panic!("add_comment: no repository {full_name}"));
        assert!(
            st.repos[&repo_id].issues.contains_key(&issue),
            "add_comment: no issue {full_name}#{issue}"
        );
        let now = st.now();
        let id = st.id();
        st.comments.insert(
            id,
            Comment {
                id,
                repo_id,
                issue,
                body: body.to_string(),
                user_login: author.to_string(),
                created_at: now,
                updated_at: now,
                reactions: Vec::new(),
            },
        );
        id
    }

    /// A file on the default branch, served by `repos/get-content`; on a git-backed
    /// repository, a new commit on the default branch. Panics when git fails: the test's
    /// setup is broken.
    pub fn put_file(&self, full_name: &str, path: &str, content: &[u8]) {
        let root = self.shared().git_root.clone();
        self.with_repo(full_name, |r| {
            if r.git_dir.is_none() {
                r.files.insert(path.to_string(), content.to_vec());
            } else if let Err(e) = git::put_file(&root, r, path, content) {
                panic!("put_file {full_name} {path}: {e:#}");
            }
        });
    }

    /// A pull request `author` opened from `head` into `base` (both branches of this
    /// repository); returns its number, shared with issues as on GitHub.
    pub fn add_pull(
        &self,
        full_name: &str,
        head: &str,
        base: &str,
        title: &str,
        author: &str,
    ) -> u64 {
        let base_url = self.api_url();
        let mut st = self.shared().lock();
        let id = st.id();
        let repo_id = st
            .repo_by_full_name(full_name)
            .unwrap_or_else(|| panic!("add_pull: no repository {full_name}"));
        let repo = st.repos.get_mut(&repo_id).expect("repository");
        let number = repo.next_number();
        let user = super::shapes::user(&base_url, author, None);
        let repo_json = super::shapes::repo(&base_url, repo, "User");
        let side = |branch: &str| {
            let sha = repo.refs.get(&format!("refs/heads/{branch}")).cloned();
            serde_json::json!({ "ref": branch, "sha": sha, "user": user, "repo": repo_json })
        };
        let pull = serde_json::json!({
            "id": id, "number": number, "state": "open", "title": title, "body": "",
            "html_url": format!("{}/{full_name}/pull/{number}", super::shapes::WEB),
            "user": user, "draft": false, "head": side(head), "base": side(base),
            "requested_reviewers": [], "requested_teams": [], "labels": [],
        });
        repo.issues.insert(
            number,
            Issue {
                title: title.to_string(),
                body: String::new(),
                labels: Vec::new(),
            },
        );
        repo.pulls.insert(number, pull);
        number
    }

    /// What `GET /repos/{o}/{r}/rules/branches/{branch}` answers (default `[]`).
    pub fn set_branch_rules(&self, full_name: &str, branch: &str, rules: Value) {
        self.with_repo(full_name, |r| {
            r.branch_rules.insert(branch.to_string(), rules);
        });
    }

    /// Sets a ref such as `refs/heads/agen/issue-1` (e.g. after a push). On a git-backed
    /// repository the ref is set in git, so `sha` must be one of its commits (else this
    /// panics: the test's setup is broken).
    pub fn set_ref(&self, full_name: &str, name: &str, sha: &str) {
        let root = self.shared().git_root.clone();
        self.with_repo(full_name, |r| {
            if r.git_dir.is_none() {
                r.refs.insert(name.to_string(), sha.to_string());
            } else if let Err(e) = git::write_ref(&root, r, name, Some(sha), false) {
                panic!("set_ref {full_name} {name}: {e:#}");
            }
        });
    }

    /// The next matching calls answer with this fault.
    pub fn inject(&self, fault: Fault) {
        self.shared().lock().faults.push(fault);
    }

    /// Moves simulated time forward (token and JWT expiry).
    pub fn advance_clock(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.shared().lock().advance(by);
    }

    fn with_repo(&self, full_name: &str, f: impl FnOnce(&mut Repo)) {
        let mut st = self.shared().lock();
        if let Some(repo) = st
            .repo_by_full_name(full_name)
            .and_then(|id| st.repos.get_mut(&id))
        {
            f(repo);
        }
    }
}
