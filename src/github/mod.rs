//! The only door to GitHub. Its operations are the few agen needs; it has, by design, no
//! merge, approve, auto-merge or update-branch operation at all.

pub mod checks;
pub mod contents;
pub mod jwt;
pub mod pulls;
pub mod repo;
pub mod tokens;
pub mod transport;

use http::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::config::AppCredentials;
use crate::ids::{InstallationId, RepoId, RepoName};
use jwt::AppJwt;
use tokens::{InstallationToken, MintedToken, TokenCache, TokenScope};
use transport::{error_message, Transport};
pub use transport::{GitHubError, RetryPolicy};

const PAGE_SIZE: usize = 100;

pub struct GitHub {
    transport: Transport,
    jwt: AppJwt,
    tokens: TokenCache,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiAccount {
    pub login: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiInstallation {
    pub id: InstallationId,
    pub account: Option<ApiAccount>,
    #[serde(default)]
    pub repository_selection: String,
    #[serde(default)]
    pub suspended_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiRepository {
    pub id: RepoId,
    pub full_name: RepoName,
    #[serde(default)]
    pub private: bool,
}

impl GitHub {
    pub fn new(
        api_url: &str,
        app: &AppCredentials,
        retry: RetryPolicy,
    ) -> Result<GitHub, GitHubError> {
        Ok(GitHub {
            transport: Transport::new(api_url, retry)?,
            jwt: AppJwt::new(app.app_id, app.private_key.clone()),
            tokens: TokenCache::default(),
        })
    }

    /// Sends a call and decodes a 2xx JSON answer; any other status is an error.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        authorization: &str,
        body: Option<&Value>,
    ) -> Result<T, GitHubError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let (status, bytes) = self
            .transport
            .send(method, path, authorization, body)
            .await?;
        if !status.is_success() {
            return Err(GitHubError {
                status: Some(status.as_u16()),
                what: format!("{what} answered {}", status.as_u16()),
                message: error_message(status, &bytes),
            });
        }
        let bytes = if status == StatusCode::NO_CONTENT || bytes.is_empty() {
            bytes::Bytes::from_static(b"null")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|e| GitHubError {
            status: Some(status.as_u16()),
            what,
            message: format!("unexpected answer: {e}"),
        })
    }

    fn app_authorization(&self) -> Result<String, GitHubError> {
        let jwt = self.jwt.token().map_err(|e| GitHubError {
            status: None,
            what: "App JWT".into(),
            message: e.to_string(),
        })?;
        Ok(format!("Bearer {jwt}"))
    }

    /// A token for `scope`, from the cache or freshly minted.
    pub async fn token(&self, scope: &TokenScope) -> Result<InstallationToken, GitHubError> {
        if let Some(token) = self.tokens.get(scope) {
            return Ok(token);
        }
        let path = format!("/app/installations/{}/access_tokens", scope.installation);
        let minted: MintedToken = self
            .call(
                Method::POST,
                &path,
                &self.app_authorization()?,
                Some(&scope.body()),
            )
            .await?;
        Ok(self.tokens.put(scope.clone(), minted))
    }

    /// Every installation token this process holds (see [`TokenCache::values`]).
    pub fn minted_tokens(&self) -> Vec<InstallationToken> {
        self.tokens.values()
    }

    pub fn forget_tokens(&self, installation: InstallationId) {
        self.tokens.forget(installation);
    }

    /// Every installation of the App (`GET /app/installations`, all pages).
    pub async fn installations(&self) -> Result<Vec<ApiInstallation>, GitHubError> {
        let auth = self.app_authorization()?;
        self.all_pages("/app/installations", &auth, |page: Vec<ApiInstallation>| {
            page
        })
        .await
    }

    /// The repositories an installation grants (`GET /installation/repositories`, all pages).
    pub async fn installation_repositories(
        &self,
        installation: InstallationId,
    ) -> Result<Vec<ApiRepository>, GitHubError> {
        #[derive(Deserialize)]
        struct Page {
            repositories: Vec<ApiRepository>,
        }
        let scope = TokenScope {
            installation,
            repository: None,
            permissions: tokens::LISTING,
        };
        let auth = format!("token {}", self.token(&scope).await?.expose());
        self.all_pages("/installation/repositories", &auth, |page: Page| {
            page.repositories
        })
        .await
    }

    /// GETs `path` page by page (100 a page) until a short page; `items` takes the list out
    /// of each page's answer.
    async fn all_pages<P: DeserializeOwned, T>(
        &self,
        path: &str,
        authorization: &str,
        items: impl Fn(P) -> Vec<T>,
    ) -> Result<Vec<T>, GitHubError> {
        let mut all = Vec::new();
        for page in 1.. {
            let joiner = if path.contains('?') { '&' } else { '?' };
            let paged = format!("{path}{joiner}per_page={PAGE_SIZE}&page={page}");
            let batch = items(self.call(Method::GET, &paged, authorization, None).await?);
            let done = batch.len() < PAGE_SIZE;
            all.extend(batch);
            if done {
                break;
            }
        }
        Ok(all)
    }
}

/// The App itself, as `GET /app` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiApp {
    pub id: u64,
    pub slug: String,
}

impl GitHub {
    pub async fn app(&self) -> Result<ApiApp, GitHubError> {
        self.call(Method::GET, "/app", &self.app_authorization()?, None)
            .await
    }

    /// One installation (`GET /app/installations/{id}`).
    pub async fn installation(&self, id: InstallationId) -> Result<ApiInstallation, GitHubError> {
        let path = format!("/app/installations/{id}");
        self.call(Method::GET, &path, &self.app_authorization()?, None)
            .await
    }
}
