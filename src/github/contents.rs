//! Reading a repository: its settings, a branch head, one file.

use base64::Engine;
use http::Method;
use serde::Deserialize;

use super::repo::RepoClient;
use super::GitHubError;

/// What `GET /repos/{o}/{r}` says that a job needs.
#[derive(Debug, Clone, Deserialize)]
pub struct RepoInfo {
    pub default_branch: String,
    /// `https://…/owner/repo.git`, without credentials.
    pub clone_url: String,
}

impl RepoClient<'_> {
    pub async fn info(&self) -> Result<RepoInfo, GitHubError> {
        self.call(Method::GET, self.repo().api_path(), None).await
    }

    /// The commit a branch points at (`GET /repos/{o}/{r}/git/ref/heads/{branch}`).
    pub async fn branch_head(&self, branch: &str) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct Ref {
            object: Object,
        }
        #[derive(Deserialize)]
        struct Object {
            sha: String,
        }
        let path = format!("{}/git/ref/heads/{branch}", self.repo().api_path());
        let r: Ref = self.call(Method::GET, path, None).await?;
        Ok(r.object.sha)
    }

    /// Whether a rule on `branch` requires a pull request before merging
    /// (`GET /repos/{o}/{r}/rules/branches/{branch}`).
    pub async fn requires_pull_request(&self, branch: &str) -> Result<bool, GitHubError> {
        #[derive(Deserialize)]
        struct Rule {
            #[serde(rename = "type")]
            kind: String,
        }
        let path = format!("{}/rules/branches/{branch}", self.repo().api_path());
        let rules: Vec<Rule> = self.call(Method::GET, path, None).await?;
        Ok(rules.iter().any(|r| r.kind == "pull_request"))
    }

    /// A file's bytes at `git_ref` (the default branch when `None`), or `None` when there is
    /// no such file.
    pub async fn file(
        &self,
        path: &str,
        git_ref: Option<&str>,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            content: String,
            #[serde(default)]
            encoding: String,
        }
        let mut url = format!("{}/contents/{path}", self.repo().api_path());
        if let Some(git_ref) = git_ref {
            url.push_str(&format!("?ref={git_ref}"));
        }
        let file: File = match self.call(Method::GET, url, None).await {
            Ok(f) => f,
            Err(e) if e.status == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        if file.encoding != "base64" {
            return Err(GitHubError {
                status: None,
                what: format!("GET contents/{path}"),
                message: format!("unexpected encoding {:?}", file.encoding),
            });
        }
        let compact: String = file.content.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map(Some)
            .map_err(|e| GitHubError {
                status: None,
                what: format!("GET contents/{path}"),
                message: format!("content is not base64: {e}"),
            })
    }
}
