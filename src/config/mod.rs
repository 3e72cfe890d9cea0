//! Typed configuration, read once at start from the environment (Probot-compatible names) and
//! optionally a TOML file carrying the same keys. Every problem names the setting and says
//! what is expected, in one line.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use jsonwebtoken::EncodingKey;

use crate::policy::Permission;

mod agents;
mod environment;
mod job_settings;
mod models;
mod serve;
pub use agents::{Agent, AgentKind, Agents, Preset, PRESETS};
pub use environment::SessionEnvironment;
pub use job_settings::JobSettings;
pub use models::{ModelSettings, Upstream};
pub use serve::ServeLimits;

/// 26 MiB: the most GitHub itself sends (it caps payloads at 25 MB).
const DEFAULT_WEBHOOK_MAX_BYTES: usize = 26 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("config: {key} {problem}")]
pub struct ConfigError {
    pub key: &'static str,
    pub problem: String,
}

fn err(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        problem: problem.into(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// What `agen serve` needs to talk to GitHub as the App.
#[derive(Clone)]
pub struct AppCredentials {
    pub app_id: u64,
    pub private_key: EncodingKey,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// Webhook secrets; several may be active while one is rotated out.
#[derive(Clone)]
pub struct WebhookSecrets(pub Vec<Vec<u8>>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets({} active, <redacted>)", self.0.len())
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub app: AppCredentials,
    pub webhook_secrets: WebhookSecrets,
    pub github_api_url: String,
    pub database_url: String,
    pub listen: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub webhook_max_bytes: usize,
    pub serve: ServeLimits,
    pub trigger_label: String,
    pub min_permission: Permission,
    pub jobs: JobSettings,
    pub models: ModelSettings,
}

/// The raw key/value source: the environment over an optional TOML file. The file's tables,
/// `[prices]` (see [`ModelSettings`]) and `[agents]` (see [`Agents`]), are kept as they are.
pub struct Source {
    values: BTreeMap<String, String>,
    prices: toml::Table,
    agents: toml::Table,
}

impl Source {
    /// Reads the TOML file named by `AGEN_CONFIG` (if set), then lets the environment override it.
    pub fn from_env() -> Result<Source, ConfigError> {
        let mut file = FileValues::default();
        if let Ok(path) = std::env::var("AGEN_CONFIG") {
            file = read_toml(&path)?;
        }
        let mut values = file.values;
        values.extend(std::env::vars());
        Ok(Source {
            values,
            prices: file.prices,
            agents: file.agents,
        })
    }

    /// The TOML file's text as `AGEN_CONFIG` would hold it, over `pairs` (for tests).
    pub fn from_toml<'a>(
        text: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Source, ConfigError> {
        let file = parse_toml(text, "the config")?;
        let mut values = file.values;
        values.extend(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        Ok(Source {
            values,
            prices: file.prices,
            agents: file.agents,
        })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Source {
        Source {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            prices: toml::Table::new(),
            agents: toml::Table::new(),
        }
    }

    /// `AGEN_DATA_DIR` alone, for commands that need nothing else (`agen sandbox run`).
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.get("AGEN_DATA_DIR").unwrap_or("agen-data"))
    }

    /// Files a sandboxed command must never see, wherever they lie: the data dir, the SQLite
    /// database, the App's private key file and the config file.
    pub fn sandbox_hidden_paths(&self) -> Vec<PathBuf> {
        let database = self
            .get("DATABASE_URL")
            .unwrap_or("sqlite://agen.db")
            .strip_prefix("sqlite:")
            .map(|rest| rest.trim_start_matches("//"))
            .map(|path| path.split('?').next().unwrap_or(path).to_string());
        [
            Some(self.data_dir().to_string_lossy().into_owned()),
            database,
            self.get("PRIVATE_KEY_PATH").map(str::to_string),
            self.get("AGEN_CONFIG").map(str::to_string),
        ]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .collect()
    }

    /// `AGEN_EGRESS_ALLOW`: the hosts sandboxed commands may reach through the egress proxy,
    /// comma-separated (`example.com`, or `*.example.com` for its subdomains, an IP address,
    /// each optionally with `:port`). Empty by default.
    pub fn egress_allow(&self) -> Vec<String> {
        self.get("AGEN_EGRESS_ALLOW")
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect()
    }

    /// `AGEN_EGRESS_ALLOW_PRIVATE`: address ranges (CIDR, comma-separated) outside the public
    /// internet the egress proxy may still connect to, e.g. `10.1.2.0/24`. Empty by default:
    /// an allowed name resolving to a loopback, private, link-local or other non-public
    /// address is refused.
    pub fn egress_allow_private(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        const KEY: &str = "AGEN_EGRESS_ALLOW_PRIVATE";
        self.get(KEY)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|range| {
                range.parse::<ipnet::IpNet>().map_err(|_| {
                    err(
                        KEY,
                        format!(
                            "`{range}` is not an address range like `10.1.2.0/24` or `fd00::/8`"
                        ),
                    )
                })
            })
            .collect()
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, key: &'static str, expected: &str) -> Result<&str, ConfigError> {
        self.get(key)
            .ok_or_else(|| err(key, format!("is missing: set it to {expected}")))
    }
}

#[derive(Default)]
struct FileValues {
    values: BTreeMap<String, String>,
    prices: toml::Table,
    agents: toml::Table,
}

fn read_toml(path: &str) -> Result<FileValues, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        err(
            "AGEN_CONFIG",
            format!("names {path}, which cannot be read: {e}"),
        )
    })?;
    parse_toml(&text, path)
}

fn parse_toml(text: &str, path: &str) -> Result<FileValues, ConfigError> {
    let mut table: toml::Table = text.parse().map_err(|e| {
        err(
            "AGEN_CONFIG",
            format!("names {path}, which is not valid TOML: {e}"),
        )
    })?;
    let prices = match table.remove("prices") {
        None => toml::Table::new(),
        Some(toml::Value::Table(prices)) => prices,
        Some(_) => {
            return Err(err(
                "AGEN_CONFIG",
                format!("[prices] in {path} must be a table of models, like [prices.\"my-model\"]"),
            ))
        }
    };
    let agents = match table.remove("agents") {
        None => toml::Table::new(),
        Some(toml::Value::Table(agents)) => agents,
        Some(_) => {
            return Err(err(
                "agents",
                format!("in {path} must be a table of agents, like [agents.claude]"),
            ))
        }
    };
    let values = table
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, s)),
            toml::Value::Integer(i) => Ok((k, i.to_string())),
            toml::Value::Float(f) => Ok((k, f.to_string())),
            toml::Value::Boolean(b) => Ok((k, b.to_string())),
            _ => Err(err(
                "AGEN_CONFIG",
                format!("key {k} in {path} must be a string, integer, number or boolean"),
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(FileValues {
        values,
        prices,
        agents,
    })
}

impl Config {
    pub fn load(src: &Source) -> Result<Config, ConfigError> {
        let app_id = src
            .required("APP_ID", "your GitHub App's numeric id")?
            .parse::<u64>()
            .map_err(|_| {
                err(
                    "APP_ID",
                    "must be a number (the App's id from its settings page)",
                )
            })?;
        let private_key = load_private_key(src)?;
        let webhook_secrets = parse_secrets(src.required(
            "WEBHOOK_SECRET",
            "the App's webhook secret (comma separated while rotating)",
        )?)?;
        let listen: SocketAddr = src
            .get("AGEN_LISTEN")
            .unwrap_or("127.0.0.1:3000")
            .parse()
            .map_err(|_| {
                err(
                    "AGEN_LISTEN",
                    "must be an address and port, like 127.0.0.1:3000",
                )
            })?;
        let github_api_url = parse_url(src, "GITHUB_API_URL", "https://api.github.com")?;
        let public_url = match src.get("AGEN_PUBLIC_URL") {
            Some(_) => parse_url(src, "AGEN_PUBLIC_URL", "")?,
            None => format!("http://{listen}"),
        };
        let database_url = src
            .get("DATABASE_URL")
            .unwrap_or("sqlite://agen.db")
            .to_string();
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(err(
                "DATABASE_URL",
                "must start with sqlite:// or postgres://",
            ));
        }
        let log_format = match src.get("LOG_FORMAT").unwrap_or("pretty") {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            _ => return Err(err("LOG_FORMAT", "must be pretty or json")),
        };
        let webhook_max_bytes = match src.get("AGEN_WEBHOOK_MAX_BYTES") {
            None => DEFAULT_WEBHOOK_MAX_BYTES,
            Some(v) => v.parse().ok().filter(|n| *n >= 1024).ok_or_else(|| {
                err(
                    "AGEN_WEBHOOK_MAX_BYTES",
                    "must be a byte count of at least 1024",
                )
            })?,
        };
        let min_permission = match src.get("AGEN_MIN_PERMISSION") {
            None => Permission::Write,
            Some(v) => Permission::parse(v)
                .filter(|p| *p >= Permission::Triage)
                .ok_or_else(|| {
                    err(
                        "AGEN_MIN_PERMISSION",
                        "must be one of triage, write, maintain, admin",
                    )
                })?,
        };
        Ok(Config {
            app: AppCredentials {
                app_id,
                private_key,
            },
            webhook_secrets,
            github_api_url,
            database_url,
            listen,
            public_url,
            data_dir: PathBuf::from(src.get("AGEN_DATA_DIR").unwrap_or("agen-data")),
            log_format,
            webhook_max_bytes,
            serve: ServeLimits::load(src)?,
            trigger_label: src.get("AGEN_TRIGGER_LABEL").unwrap_or("agen").to_string(),
            min_permission,
            jobs: JobSettings::load(src)?,
            models: ModelSettings::load(src)?,
        })
    }
}

fn load_private_key(src: &Source) -> Result<EncodingKey, ConfigError> {
    let (key, pem) =
        match (src.get("PRIVATE_KEY"), src.get("PRIVATE_KEY_PATH")) {
            // Probot accepts the PEM with literal "\n" escapes, as it comes out of a .env file.
            (Some(pem), _) => ("PRIVATE_KEY", pem.replace("\\n", "\n")),
            (None, Some(path)) => (
                "PRIVATE_KEY_PATH",
                std::fs::read_to_string(path).map_err(|e| {
                    err(
                        "PRIVATE_KEY_PATH",
                        format!("names {path}, which cannot be read: {e}"),
                    )
                })?,
            ),
            (None, None) => return Err(err(
                "PRIVATE_KEY",
                "is missing: set PRIVATE_KEY to the App's PEM key or PRIVATE_KEY_PATH to its file",
            )),
        };
    EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| {
        err(
            key,
            "is not an RSA private key in PEM form (download one from the App's settings page)",
        )
    })
}

fn parse_secrets(raw: &str) -> Result<WebhookSecrets, ConfigError> {
    let secrets: Vec<Vec<u8>> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect();
    if secrets.is_empty() {
        return Err(err("WEBHOOK_SECRET", "has no secret between its commas"));
    }
    Ok(WebhookSecrets(secrets))
}

fn parse_url(src: &Source, key: &'static str, default: &str) -> Result<String, ConfigError> {
    let url = src.get(key).unwrap_or(default).trim_end_matches('/');
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.to_string())
    } else {
        Err(err(key, "must be an http:// or https:// URL"))
    }
}

#[cfg(test)]
mod tests;
