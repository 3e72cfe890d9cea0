//! Who may fetch or push, as github.com decides for Apps: HTTP Basic with an installation
//! token as the password (the username is not checked; agen sends `x-access-token`).
//!
//! - no credentials: 401 with `WWW-Authenticate: Basic realm="GitHub"` (a public
//!   repository may be fetched anonymously);
//! - an unknown, expired or revoked token, or one not covering the repository: 404
//!   `Repository not found.` on a private repository (GitHub hides it); on a public one an
//!   unknown token is 401 and a token of another repository may fetch but not push;
//! - a token without `contents: read` (fetch) or `contents: write` (push): 403
//!   `Permission to owner/repo.git denied to slug[bot].`

use base64::Engine;

use crate::sim::access::covers;
use crate::sim::auth::satisfies;
use crate::sim::record::AuthKind;
use crate::sim::reply::Reply;
use crate::sim::routes::Level;
use crate::sim::state::{MintedToken, Repo, State};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Fetch,
    Push,
}

/// What a permitted call may do beyond the service itself.
pub(crate) struct Grant {
    /// The token holds `workflows: write`.
    pub workflows: bool,
}

/// The credential as recorded, and the decision.
pub(crate) struct Decision {
    pub auth: AuthKind,
    pub token: Option<String>,
    pub outcome: Result<Grant, Reply>,
}

fn text(status: u16, message: String) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        content_type: "text/plain; charset=utf-8",
        body: format!("{message}\n").into_bytes(),
    }
}

fn challenge() -> Reply {
    text(401, "Authentication required.".into())
        .header("WWW-Authenticate", r#"Basic realm="GitHub""#.into())
}

fn not_found() -> Reply {
    text(404, "Repository not found.".into())
}

/// The password of a `Basic` `Authorization` header.
fn basic_password(header: Option<&str>) -> Option<String> {
    let (scheme, value) = header?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':').map(|(_, p)| p.to_string())
}

/// Decides a call on `repo` (`None`: no such git-backed repository).
pub(crate) fn decide(
    st: &State,
    bot: &str,
    repo: Option<&Repo>,
    authorization: Option<&str>,
    service: Service,
) -> Decision {
    let Some(password) = basic_password(authorization) else {
        let anonymous_read = repo.is_some_and(|r| !r.private) && service == Service::Fetch;
        let outcome = match repo {
            _ if anonymous_read => Ok(Grant { workflows: false }),
            _ => Err(challenge()),
        };
        let auth = match authorization {
            None => AuthKind::None,
            Some(_) => AuthKind::Invalid,
        };
        return Decision {
            auth,
            token: None,
            outcome,
        };
    };
    let live = st.tokens.iter().find(|t| t.token == password).filter(|t| {
        t.expires_at > st.now()
            && st
                .installations
                .get(&t.installation_id)
                .is_some_and(|i| i.suspended_at.is_none())
    });
    let Some(token) = live else {
        let outcome = match repo {
            Some(r) if !r.private => Err(text(
                401,
                "Invalid username or token. Password authentication is not supported for Git operations.".into(),
            )),
            _ => Err(not_found()),
        };
        return Decision {
            auth: AuthKind::Invalid,
            token: Some(password),
            outcome,
        };
    };
    let outcome = match repo {
        None => Err(not_found()),
        Some(r) => permit(st, bot, r, token, service),
    };
    Decision {
        auth: AuthKind::Installation {
            installation_id: token.installation_id,
            repository_ids: token.repository_ids.clone(),
            permissions: token.permissions.clone(),
        },
        token: Some(password),
        outcome,
    }
}

fn permit(
    st: &State,
    bot: &str,
    repo: &Repo,
    token: &MintedToken,
    service: Service,
) -> Result<Grant, Reply> {
    let installation_repos = st
        .installations
        .get(&token.installation_id)
        .map_or(&[][..], |i| i.repos.as_slice());
    let covered = covers(token, installation_repos, repo.id);
    if !covered && repo.private {
        return Err(not_found());
    }
    let needed = match service {
        Service::Fetch => Level::Read,
        Service::Push => Level::Write,
    };
    let allowed = match service {
        Service::Fetch if !repo.private => true,
        _ => covered && satisfies(token.permissions.get("contents"), needed),
    };
    if !allowed {
        let message = format!("Permission to {}.git denied to {bot}.", repo.full_name());
        return Err(text(403, message));
    }
    Ok(Grant {
        workflows: satisfies(token.permissions.get("workflows"), Level::Write),
    })
}
