//! Does the credential fit the route? GitHub's answers: 401 for bad or missing
//! credentials, 404 for repositories the token does not cover (GitHub hides them), 403 for
//! a missing permission or the wrong kind of credential.

use super::auth::{satisfies, Credential};
use super::reply::Reply;
use super::routes::{Access, Matched};
use super::state::{MintedToken, State};

/// What a permitted call may touch.
#[derive(Default)]
pub(crate) struct Scope {
    pub repo: Option<u64>,
    pub token: Option<MintedToken>,
}

const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

pub(crate) fn check(st: &State, m: &Matched, cred: &Credential) -> Result<Scope, Reply> {
    match (m.route.access, cred) {
        (Access::Public, _) => Ok(Scope::default()),
        (_, Credential::Bad(status, message)) => Err(Reply::error(*status, message)),
        (Access::App, Credential::Jwt) => Ok(Scope::default()),
        (Access::App, _) => Err(Reply::error(401, "A JSON web token could not be decoded")),
        (_, Credential::Missing) => Err(Reply::error(401, "Requires authentication")),
        (_, Credential::Jwt) => Err(Reply::error(403, NOT_ACCESSIBLE)),
        (access, Credential::Token(token)) => token_scope(st, m, access, token),
    }
}

fn token_scope(
    st: &State,
    m: &Matched,
    access: Access,
    token: &MintedToken,
) -> Result<Scope, Reply> {
    let Some(inst) = st.installations.get(&token.installation_id) else {
        return Err(Reply::error(401, "Bad credentials"));
    };
    if token.expires_at <= st.now() {
        return Err(Reply::error(401, "Bad credentials"));
    }
    if inst.suspended_at.is_some() {
        return Err(Reply::error(403, "This installation has been suspended"));
    }
    let Access::Repo(permission, level) = access else {
        return Ok(Scope {
            repo: None,
            token: Some(token.clone()),
        });
    };
    let repo = st
        .repo_by_name(m.param("owner"), m.param("repo"))
        .filter(|id| covers(token, &inst.repos, *id))
        .ok_or_else(Reply::not_found)?;
    if !satisfies(token.permissions.get(permission), level) {
        return Err(Reply::error(403, NOT_ACCESSIBLE));
    }
    Ok(Scope {
        repo: Some(repo),
        token: Some(token.clone()),
    })
}

/// Whether the token reaches the repository now (an "all" token follows the installation).
pub(crate) fn covers(token: &MintedToken, installation_repos: &[u64], repo: u64) -> bool {
    installation_repos.contains(&repo)
        && (token.repository_selection == "all" || token.repository_ids.contains(&repo))
}
