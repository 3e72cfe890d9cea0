//! Credentials: App JWTs (RS256, GitHub's claim rules) and installation tokens.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;

use super::record::AuthKind;
use super::routes::Level;
use super::state::{MintedToken, State};
use super::SimConfig;

/// A credential as presented, before the route decides whether it fits.
pub(crate) enum Credential {
    Missing,
    /// A JWT that passed every check.
    Jwt,
    /// A known installation token (maybe expired or of a suspended installation: the route
    /// check decides).
    Token(MintedToken),
    /// Rejected outright, with GitHub's status and message.
    Bad(u16, String),
}

impl Credential {
    pub fn kind(&self) -> AuthKind {
        match self {
            Credential::Missing => AuthKind::None,
            Credential::Jwt => AuthKind::Jwt,
            Credential::Token(t) => AuthKind::Installation {
                installation_id: t.installation_id,
                repository_ids: t.repository_ids.clone(),
                permissions: t.permissions.clone(),
            },
            Credential::Bad(..) => AuthKind::Invalid,
        }
    }
}

/// Reads an `Authorization` header: `Bearer X` or `token X`; three dot-separated parts make
/// a JWT, anything else is looked up as an installation token.
pub(crate) fn credential(st: &State, cfg: &SimConfig, header: Option<&str>) -> Credential {
    let Some(header) = header else {
        return Credential::Missing;
    };
    let (scheme, value) = header.trim().split_once(' ').unwrap_or((header, ""));
    let value = value.trim();
    if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")) {
        return Credential::Bad(401, "Bad credentials".into());
    }
    if value.split('.').count() == 3 {
        return match verify_jwt(st, cfg, value) {
            Ok(()) => Credential::Jwt,
            Err(message) => Credential::Bad(401, message),
        };
    }
    match st.tokens.iter().find(|t| t.token == value) {
        Some(t) => Credential::Token(t.clone()),
        None => Credential::Bad(401, "Bad credentials".into()),
    }
}

/// The installation token in a `Bearer`/`token` header (anything but a JWT), for the record.
pub(crate) fn presented_token(header: Option<&str>) -> Option<String> {
    let (scheme, value) = header?.trim().split_once(' ')?;
    let value = value.trim();
    let bearer = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token");
    (bearer && value.split('.').count() != 3).then(|| value.to_string())
}

#[derive(Deserialize)]
struct Claims {
    iat: Option<Value>,
    exp: Option<Value>,
    iss: Option<Value>,
}

/// GitHub's rules: RS256 by the App key, `iss` the App id (number or string), `exp` in the
/// future and at most 10 minutes after `iat`, `iat` at most 60 s in the future.
fn verify_jwt(st: &State, cfg: &SimConfig, token: &str) -> Result<(), String> {
    let undecodable = || "A JSON web token could not be decoded".to_string();
    let key =
        DecodingKey::from_rsa_pem(cfg.public_key_pem.as_bytes()).map_err(|_| undecodable())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| undecodable())?
        .claims;
    let now = st.now().timestamp();
    let int = |v: &Option<Value>| v.as_ref().and_then(Value::as_i64);
    let Some(iat) = int(&claims.iat) else {
        return Err("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued".into());
    };
    let Some(exp) = int(&claims.exp) else {
        return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires".into());
    };
    let iss = match &claims.iss {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    if iss != Some(cfg.app_id) {
        return Err("'Issuer' claim ('iss') must be an Integer".into());
    }
    if iat > now + 60 {
        return Err("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued".into());
    }
    if exp <= now {
        return Err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires".into());
    }
    if exp.saturating_sub(iat) > 600 {
        return Err("'Expiration time' claim ('exp') is too far in the future".into());
    }
    Ok(())
}

/// Whether `held` (e.g. "write") satisfies `needed`.
pub(crate) fn satisfies(held: Option<&String>, needed: Level) -> bool {
    held.and_then(|h| Level::parse(h))
        .is_some_and(|h| h >= needed)
}

/// `ghs_` and 36 random alphanumerics, like GitHub's installation tokens.
pub(crate) fn new_token() -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(36)
        .map(char::from)
        .collect();
    format!("ghs_{tail}")
}
