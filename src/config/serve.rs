//! What the HTTP edge holds for a client: how long it may take to send a request's head and
//! body, and how many connections may be open at once.

use std::time::Duration;

use super::{err, ConfigError, Source};

#[derive(Clone, Debug)]
pub struct ServeLimits {
    /// `AGEN_HEAD_TIMEOUT_SECONDS`: a request's whole head must arrive within this, counted
    /// from when the server starts reading it (default 10; fractions allowed).
    pub head_timeout: Duration,
    /// `AGEN_BODY_TIMEOUT_SECONDS`: a request's whole body must arrive within this, counted
    /// from the end of its head (default 10: GitHub sends a delivery within its own 10 s).
    pub body_timeout: Duration,
    /// `AGEN_MAX_CONNECTIONS`: connections open at once (default 1024). At the cap the
    /// oldest idle one (keep-alive, or still sending its head) is closed to admit a new one.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

impl ServeLimits {
    pub fn load(src: &Source) -> Result<ServeLimits, ConfigError> {
        let default = ServeLimits::default();
        Ok(ServeLimits {
            head_timeout: seconds(src, "AGEN_HEAD_TIMEOUT_SECONDS", default.head_timeout)?,
            body_timeout: seconds(src, "AGEN_BODY_TIMEOUT_SECONDS", default.body_timeout)?,
            max_connections: match src.get("AGEN_MAX_CONNECTIONS") {
                None => default.max_connections,
                Some(v) => v
                    .parse()
                    .ok()
                    .filter(|n| (2..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        err(
                            "AGEN_MAX_CONNECTIONS",
                            "must be a whole number from 2 to 1000000",
                        )
                    })?,
            },
        })
    }
}

fn seconds(src: &Source, key: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let Some(raw) = src.get(key) else {
        return Ok(default);
    };
    raw.parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| err(key, "must be a number of seconds above 0 and at most 3600"))
}
