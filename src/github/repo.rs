//! Calls about one repository, made with a token down-scoped to that repository.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::tokens::{InstallationToken, Permissions, TokenScope};
use super::{GitHub, GitHubError};
use crate::ids::{CommentId, InstallationId, IssueNumber, Login, RepoId, RepoName};
use crate::policy::Permission;

pub struct RepoClient<'a> {
    github: &'a GitHub,
    token: InstallationToken,
    authorization: String,
    repo: RepoName,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiComment {
    pub id: CommentId,
    #[serde(default)]
    pub body: String,
    pub user: Option<ApiUser>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiUser {
    pub login: Login,
}

/// GitHub reactions agen uses.
#[derive(Debug, Clone, Copy)]
pub enum Reaction {
    Eyes,
}

impl Reaction {
    fn content(self) -> &'static str {
        match self {
            Reaction::Eyes => "eyes",
        }
    }
}

impl GitHub {
    /// A client for one repository, holding a token for only that repository.
    pub async fn repo(
        &self,
        installation: InstallationId,
        repo_id: RepoId,
        repo: RepoName,
        permissions: Permissions,
    ) -> Result<RepoClient<'_>, GitHubError> {
        let scope = TokenScope {
            installation,
            repository: Some(repo_id),
            permissions,
        };
        let token = self.token(&scope).await?;
        Ok(RepoClient {
            github: self,
            authorization: format!("token {}", token.expose()),
            token,
            repo,
        })
    }
}

impl RepoClient<'_> {
    /// The token itself, for git over HTTP (which agen runs outside any sandbox).
    pub fn token(&self) -> &InstallationToken {
        &self.token
    }

    pub fn repo(&self) -> &RepoName {
        &self.repo
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        body: Option<serde_json::Value>,
    ) -> Result<T, GitHubError> {
        self.github
            .call(method, &path, &self.authorization, body.as_ref())
            .await
    }

    /// `GET /repos/{o}/{r}/collaborators/{user}/permission`.
    pub async fn permission_of(&self, user: &Login) -> Result<Permission, GitHubError> {
        #[derive(Deserialize)]
        struct Answer {
            permission: String,
            role_name: Option<String>,
        }
        let a: Answer = self
            .call(
                Method::GET,
                format!("{}/collaborators/{}/permission", self.repo.api_path(), user),
                None,
            )
            .await?;
        Ok(Permission::from_github(
            &a.permission,
            a.role_name.as_deref(),
        ))
    }

    pub async fn create_comment(
        &self,
        issue: IssueNumber,
        body: &str,
    ) -> Result<ApiComment, GitHubError> {
        self.call(
            Method::POST,
            format!("{}/issues/{issue}/comments", self.repo.api_path()),
            Some(json!({ "body": body })),
        )
        .await
    }

    pub async fn update_comment(
        &self,
        comment: CommentId,
        body: &str,
    ) -> Result<ApiComment, GitHubError> {
        self.call(
            Method::PATCH,
            format!("{}/issues/comments/{comment}", self.repo.api_path()),
            Some(json!({ "body": body })),
        )
        .await
    }

    /// Every comment on an issue, oldest first (all pages).
    pub async fn comments(&self, issue: IssueNumber) -> Result<Vec<ApiComment>, GitHubError> {
        let path = format!("{}/issues/{issue}/comments", self.repo.api_path());
        self.all_pages(&path, |page: Vec<ApiComment>| page).await
    }

    /// GETs every page of `path` with this client's token.
    pub(super) async fn all_pages<P: serde::de::DeserializeOwned, T>(
        &self,
        path: &str,
        items: impl Fn(P) -> Vec<T>,
    ) -> Result<Vec<T>, GitHubError> {
        self.github
            .all_pages(path, &self.authorization, items)
            .await
    }

    /// Idempotent on GitHub: the same reaction twice answers 200 with the existing one.
    pub async fn react(&self, comment: CommentId, reaction: Reaction) -> Result<(), GitHubError> {
        let _: serde_json::Value = self
            .call(
                Method::POST,
                format!(
                    "{}/issues/comments/{comment}/reactions",
                    self.repo.api_path()
                ),
                Some(json!({ "content": reaction.content() })),
            )
            .await?;
        Ok(())
    }
}
