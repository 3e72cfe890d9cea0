//! Installation tokens, minted per use with the fewest permissions and, for repository
//! work, down-scoped to the one repository. Cached until five minutes before they expire.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::ids::{InstallationId, RepoId};

/// Refresh this long before GitHub's expiry so a token never dies mid-call.
const RENEW_BEFORE_SECS: i64 = 5 * 60;

/// A permission set, as GitHub names them: `(permission, level)`.
pub type Permissions = &'static [(&'static str, &'static str)];

/// Intake: read who may ask and the repository's `.github/agen.yml`, answer on the issue.
pub const INTAKE: Permissions = &[
    ("metadata", "read"),
    ("contents", "read"),
    ("issues", "write"),
];
/// A job: read and push code, open the pull request, report on the issue and in a check run.
pub const JOB: Permissions = &[
    ("metadata", "read"),
    ("contents", "write"),
    ("pull_requests", "write"),
    ("issues", "write"),
    ("checks", "write"),
];
/// Listing an installation's repositories needs nothing beyond metadata.
pub const LISTING: Permissions = &[("metadata", "read")];

/// Which token: an installation, optionally narrowed to one repository, with permissions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenScope {
    pub installation: InstallationId,
    pub repository: Option<RepoId>,
    pub permissions: Permissions,
}

impl TokenScope {
    pub fn body(&self) -> serde_json::Value {
        let permissions: serde_json::Map<String, serde_json::Value> = self
            .permissions
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        match self.repository {
            Some(repo) => json!({ "repository_ids": [repo.0], "permissions": permissions }),
            None => json!({ "permissions": permissions }),
        }
    }
}

/// A token's value; never printed.
#[derive(Clone)]
pub struct InstallationToken(String);

impl InstallationToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InstallationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallationToken(<redacted>)")
    }
}

#[derive(Deserialize)]
pub struct MintedToken {
    token: String,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<TokenScope, (InstallationToken, DateTime<Utc>)>>,
}

impl TokenCache {
    pub fn get(&self, scope: &TokenScope) -> Option<InstallationToken> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let (token, expires) = tokens.get(scope)?;
        let fresh = Utc::now().timestamp() < expires.timestamp() - RENEW_BEFORE_SECS;
        fresh.then(|| token.clone())
    }

    pub fn put(&self, scope: TokenScope, minted: MintedToken) -> InstallationToken {
        let token = InstallationToken(minted.token);
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(scope, (token.clone(), minted.expires_at));
        token
    }

    /// Every token value still cached: secrets that must never appear in anything agen
    /// publishes or logs.
    pub fn values(&self) -> Vec<InstallationToken> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.values().map(|(t, _)| t.clone()).collect()
    }

    /// Forgets every token of an installation (deleted, suspended, or a token refused).
    pub fn forget(&self, installation: InstallationId) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.retain(|scope, _| scope.installation != installation);
    }
}
