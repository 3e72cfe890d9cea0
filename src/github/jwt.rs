//! The App's JSON Web Token: RS256, `iat` a minute in the past (clock drift), `exp` within
//! GitHub's ten-minute limit, `iss` the App id. Reused until a minute before it expires.

use std::sync::Mutex;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

const BACKDATE_SECS: i64 = 60;
const LIFETIME_SECS: i64 = 9 * 60;
const RENEW_BEFORE_SECS: i64 = 60;

#[derive(Serialize)]
struct Claims {
    iat: i64,
    exp: i64,
    iss: String,
}

pub struct AppJwt {
    app_id: u64,
    key: EncodingKey,
    cached: Mutex<Option<(String, i64)>>,
}

impl AppJwt {
    pub fn new(app_id: u64, key: EncodingKey) -> AppJwt {
        AppJwt {
            app_id,
            key,
            cached: Mutex::new(None),
        }
    }

    pub fn token(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((jwt, exp)) = cached.as_ref() {
            if now < exp - RENEW_BEFORE_SECS {
                return Ok(jwt.clone());
            }
        }
        let claims = Claims {
            iat: now - BACKDATE_SECS,
            exp: now + LIFETIME_SECS,
            iss: self.app_id.to_string(),
        };
        let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)?;
        *cached = Some((jwt.clone(), claims.exp));
        Ok(jwt)
    }
}

#[cfg(test)]
mod tests;
