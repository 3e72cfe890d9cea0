//! The model providers agen holds keys for, what their models cost, and the spend caps: the
//! gateway's settings. The keys go by the names their users already use.

use super::{err, parse_url, ConfigError, Source};
use crate::budget::{MicroUsd, PriceTable};

/// One provider's endpoint and the key agen adds to every call (never shown in Debug).
#[derive(Clone)]
pub struct Upstream {
    /// Without a trailing slash; OpenAI's carries `/v1` as its SDK's does.
    pub base_url: String,
    pub key: String,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({}, key <redacted>)", self.base_url)
    }
}

#[derive(Clone, Debug)]
pub struct ModelSettings {
    /// `ANTHROPIC_API_KEY` (and `ANTHROPIC_BASE_URL`, default the public API).
    pub anthropic: Option<Upstream>,
    /// `OPENAI_API_KEY` (and `OPENAI_BASE_URL`, default the public API).
    pub openai: Option<Upstream>,
    /// The built-in prices with the config file's `[prices."MODEL"]` over them.
    pub prices: PriceTable,
    /// `AGEN_JOB_MAX_USD`: the most one job may spend (default $5); a repository may set less.
    pub job_max: MicroUsd,
    /// `AGEN_REPO_MONTHLY_USD`: a repository's spend per calendar month (UTC); none by default.
    pub repo_monthly: Option<MicroUsd>,
    /// `AGEN_INSTALLATION_MONTHLY_USD`: an installation's spend per month; none by default.
    pub installation_monthly: Option<MicroUsd>,
}

impl ModelSettings {
    pub fn load(src: &Source) -> Result<ModelSettings, ConfigError> {
        let upstream = |key: &'static str, url: &'static str, default: &str| {
            let key = src.get(key).map(str::to_string);
            let base_url = parse_url(src, url, default)?;
            Ok::<_, ConfigError>(key.map(|key| Upstream { base_url, key }))
        };
        Ok(ModelSettings {
            anthropic: upstream(
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_BASE_URL",
                "https://api.anthropic.com",
            )?,
            openai: upstream(
                "OPENAI_API_KEY",
                "OPENAI_BASE_URL",
                "https://api.openai.com/v1",
            )?,
            prices: PriceTable::with_overrides(&src.prices)
                .map_err(|e| err("AGEN_CONFIG", e.to_string()))?,
            job_max: usd(src, "AGEN_JOB_MAX_USD")?.unwrap_or(MicroUsd::from_usd(5.0)),
            repo_monthly: usd(src, "AGEN_REPO_MONTHLY_USD")?,
            installation_monthly: usd(src, "AGEN_INSTALLATION_MONTHLY_USD")?,
        })
    }
}

/// Dollars, such as `2` or `0.50`.
fn usd(src: &Source, key: &'static str) -> Result<Option<MicroUsd>, ConfigError> {
    let Some(raw) = src.get(key) else {
        return Ok(None);
    };
    raw.trim_start_matches('$')
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0 && *d <= 1e9)
        .map(|d| Some(MicroUsd::from_usd(d)))
        .ok_or_else(|| err(key, "must be an amount of US dollars, such as 5 or 0.50"))
}
