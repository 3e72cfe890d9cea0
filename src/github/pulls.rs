//! Pull requests: find, open, ask for review. Deliberately no merge, approve, auto-merge or
//! update-branch: agen never merges.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::repo::RepoClient;
use super::GitHubError;
use crate::ids::Login;

#[derive(Debug, Clone, Deserialize)]
pub struct ApiPull {
    pub number: u64,
    pub html_url: String,
    pub head: ApiBranch,
    pub base: ApiBranch,
    pub user: Option<super::repo::ApiUser>,
    #[serde(default)]
    pub draft: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiBranch {
    #[serde(rename = "ref")]
    pub branch: String,
    pub sha: String,
    /// The repository the branch lives in (`None` when a fork was deleted).
    pub repo: Option<ApiBranchRepo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiBranchRepo {
    pub full_name: String,
}

/// What agen asks GitHub to open.
pub struct NewPull<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub head: &'a str,
    pub base: &'a str,
    pub draft: bool,
}

impl RepoClient<'_> {
    /// Every pull request (open and closed), all pages.
    pub async fn pulls(&self, head: Option<&str>) -> Result<Vec<ApiPull>, GitHubError> {
        let owner = self
            .repo()
            .0
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut path = format!("{}/pulls?state=all", self.repo().api_path());
        if let Some(branch) = head {
            path.push_str(&format!("&head={owner}:{branch}"));
        }
        self.all_pages(&path, |page: Vec<ApiPull>| page).await
    }

    pub async fn create_pull(&self, new: &NewPull<'_>) -> Result<ApiPull, GitHubError> {
        let body = json!({
            "title": new.title, "body": new.body, "head": new.head, "base": new.base,
            "draft": new.draft, "maintainer_can_modify": true,
        });
        let path = format!("{}/pulls", self.repo().api_path());
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn request_review(&self, number: u64, reviewer: &Login) -> Result<(), GitHubError> {
        let path = format!(
            "{}/pulls/{number}/requested_reviewers",
            self.repo().api_path()
        );
        let _: serde_json::Value = self
            .call(Method::POST, path, Some(json!({ "reviewers": [reviewer] })))
            .await?;
        Ok(())
    }
}
