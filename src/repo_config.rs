//! The repository's own settings, `.github/agen.yml` (read from the default branch only, so a
//! pull request cannot change what runs on itself). Pure: text in, settings or one error out.
//!
//! ```yaml
//! pipeline: [cargo test]   # shell commands run after each agent round (default: none)
//! max_rounds: 3            # agent rounds per job (default: the server's limit)
//! budget:
//!   job_minutes: 20        # wall clock per job (default: the server's limit)
//!   job_usd: 2.00          # model spend per job (default: the server's AGEN_JOB_MAX_USD)
//!   cpu_minutes: 30        # CPU time per job (default: the server's AGEN_JOB_CPU_MINUTES)
//! trigger_label: agen      # default: the server's
//! min_permission: write    # read|triage|write|maintain|admin (default: the server's)
//! egress: [crates.io]      # hosts the sandbox may reach, within the server's allowlist
//! setup: [npm ci]          # run once per job before the first round (default: none)
//! setup_egress: [registry.npmjs.org]  # hosts only setup may reach besides `egress`
//! cache: [~/.npm]          # kept between jobs; setup writes them, the rounds only read
//! agent: claude            # one of the server's agents (default: its default_agent)
//! model: claude-sonnet-4-5 # one of that agent's models (default: its first)
//! environment:             # the sessions' system (default: the server's AGEN_DEFAULT_IMAGE,
//!   image: ghcr.io/o/img:1 #   else the host's); or `devcontainer: true` (module `environment`)
//! ```
//!
//! A repository may lower what the server allows, never raise it, and every mistake is an
//! error naming the key, never a silent fix: the person who wrote the file learns why their
//! setting did not apply. Unknown keys are errors at every level. The keys are checked against
//! [`KEYS`] by hand rather than with serde's `deny_unknown_fields`, whose message (`unknown
//! field …, expected one of …`) cannot name the file or fit the issue comment it lands in.
//! An empty key (`max_rounds:` with no value) means the default.

use yaml_serde::{Mapping, Value};

use crate::budget::MicroUsd;
use crate::config::{Agents, Config};
use crate::markdown::code_span;
use crate::policy::Permission;

mod environment;
mod fields;
#[cfg(test)]
mod tests;

pub use environment::Environment;

use fields::{
    agent, caches, capped, capped_usd, check_model, commands, describe, hosts, label, model_name,
    must, one_line, permission, short, text,
};

pub const PATH: &str = ".github/agen.yml";
pub const MAX_FILE_BYTES: usize = 64 * 1024;
pub const MAX_PIPELINE_COMMANDS: usize = 20;
pub const MAX_EGRESS_HOSTS: usize = 50;
/// GitHub's own limit on a label's name.
pub const MAX_LABEL_CHARS: usize = 50;
pub const KEYS: [&str; 12] = [
    "pipeline",
    "setup",
    "setup_egress",
    "cache",
    "max_rounds",
    "budget",
    "trigger_label",
    "min_permission",
    "egress",
    "agent",
    "model",
    "environment",
];
pub const BUDGET_KEYS: [&str; 3] = ["job_minutes", "job_usd", "cpu_minutes"];
const PERMISSIONS: [Permission; 5] = [
    Permission::Read,
    Permission::Triage,
    Permission::Write,
    Permission::Maintain,
    Permission::Admin,
];

/// What this server allows every repository; the repository file can only narrow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCaps {
    pub max_rounds: u32,
    pub job_minutes: u32,
    /// Model spend per job (`AGEN_JOB_MAX_USD`).
    pub job_usd: MicroUsd,
    /// CPU per job (`AGEN_JOB_CPU_MINUTES`).
    pub cpu_minutes: u32,
    /// Host patterns (`AGEN_EGRESS_ALLOW` syntax) a repository may ask for.
    pub egress_allow: Vec<String>,
    pub trigger_label: String,
    pub min_permission: Permission,
    /// The agents a repository may pick, and the default one.
    pub agents: Agents,
}

impl ServerCaps {
    /// What `config` allows every repository's `.github/agen.yml`.
    pub fn of(config: &Config) -> ServerCaps {
        ServerCaps {
            max_rounds: config.jobs.max_rounds,
            job_minutes: config.jobs.job_time.as_secs().div_ceil(60) as u32,
            egress_allow: config.jobs.egress_allow.clone(),
            trigger_label: config.trigger_label.clone(),
            min_permission: config.min_permission,
            job_usd: config.models.job_max,
            cpu_minutes: config.jobs.job_cpu.as_secs().div_ceil(60) as u32,
            agents: config.jobs.agents.clone(),
        }
    }
}

/// The effective settings for one repository: its file applied within the server's caps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoConfig {
    pub pipeline: Vec<String>,
    /// Commands run once per job, before the first round, in sessions that may also reach
    /// [`RepoConfig::setup_egress`] (and not the model gateway).
    pub setup: Vec<String>,
    /// Hosts only the setup sessions may reach besides [`RepoConfig::egress`], all within
    /// [`ServerCaps::egress_allow`].
    pub setup_egress: Vec<String>,
    /// Directories under the session's home kept between jobs (`.npm` for `~/.npm`).
    pub cache: Vec<String>,
    pub max_rounds: u32,
    pub job_minutes: u32,
    pub job_usd: MicroUsd,
    pub cpu_minutes: u32,
    pub trigger_label: String,
    pub min_permission: Permission,
    /// The hosts this repository asked for (lowercase, each once), all within
    /// [`ServerCaps::egress_allow`].
    pub egress: Vec<String>,
    /// The agent the repository picked (`None`: the server's default).
    pub agent: Option<String>,
    /// The model it picked among that agent's (`None`: the agent's first).
    pub model: Option<String>,
    /// The system its sessions run on (`None`: the server's default).
    pub environment: Option<Environment>,
}

/// One line of Markdown for the issue: the file, the key, what is wrong, what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{PATH}: {problem}")]
pub struct RepoConfigError {
    /// The key at fault (`budget.job_minutes`); `None` when the file as a whole is.
    pub key: Option<String>,
    pub problem: String,
}

fn fail<T>(key: &str, problem: String) -> Result<T, RepoConfigError> {
    Err(RepoConfigError {
        key: Some(key.to_string()),
        problem,
    })
}

fn fail_file<T>(problem: String) -> Result<T, RepoConfigError> {
    Err(RepoConfigError { key: None, problem })
}

impl RepoConfig {
    /// The settings of a repository without `.github/agen.yml`.
    pub fn defaults(caps: &ServerCaps) -> RepoConfig {
        RepoConfig {
            pipeline: Vec::new(),
            setup: Vec::new(),
            setup_egress: Vec::new(),
            cache: Vec::new(),
            max_rounds: caps.max_rounds,
            job_minutes: caps.job_minutes,
            job_usd: caps.job_usd,
            cpu_minutes: caps.cpu_minutes,
            trigger_label: caps.trigger_label.clone(),
            min_permission: caps.min_permission,
            egress: Vec::new(),
            agent: None,
            model: None,
            environment: None,
        }
    }

    pub fn parse(text: &str, caps: &ServerCaps) -> Result<RepoConfig, RepoConfigError> {
        if text.len() > MAX_FILE_BYTES {
            return fail_file(format!(
                "the file is {} bytes, above the limit of {MAX_FILE_BYTES} bytes; shorten it",
                text.len()
            ));
        }
        let mut config = RepoConfig::defaults(caps);
        if text.trim().is_empty() {
            return Ok(config);
        }
        let value: Value = yaml_serde::from_str(text).or_else(|e| fail_file(yaml_problem(&e)))?;
        let map = match value {
            Value::Null => return Ok(config),
            Value::Mapping(map) => map,
            other => {
                return fail_file(format!(
                    "expected keys such as `max_rounds: 3`, found {}",
                    describe(&other)
                ))
            }
        };
        for (key, value) in known_keys(&map, &KEYS, None)? {
            if value.is_null() {
                continue;
            }
            match key {
                "pipeline" => config.pipeline = commands(key, value)?,
                "setup" => config.setup = commands(key, value)?,
                "setup_egress" => config.setup_egress = hosts(key, value, caps)?,
                "cache" => config.cache = caches(value)?,
                "max_rounds" => config.max_rounds = capped(key, value, caps.max_rounds)?,
                "budget" => {
                    let Value::Mapping(budget) = value else {
                        return must(key, "a mapping like `job_minutes: 20`", value);
                    };
                    for (key, value) in known_keys(budget, &BUDGET_KEYS, Some("budget"))? {
                        match key {
                            _ if value.is_null() => {}
                            "job_minutes" => {
                                config.job_minutes =
                                    capped("budget.job_minutes", value, caps.job_minutes)?
                            }
                            "job_usd" => {
                                config.job_usd = capped_usd("budget.job_usd", value, caps.job_usd)?
                            }
                            "cpu_minutes" => {
                                config.cpu_minutes =
                                    capped("budget.cpu_minutes", value, caps.cpu_minutes)?
                            }
                            _ => unreachable!("known_keys yields only BUDGET_KEYS"),
                        }
                    }
                }
                "trigger_label" => config.trigger_label = label(value)?,
                "min_permission" => config.min_permission = permission(value, caps)?,
                "egress" => config.egress = hosts(key, value, caps)?,
                "agent" => config.agent = Some(agent(value, &caps.agents)?),
                "model" => config.model = Some(model_name(value)?),
                "environment" => config.environment = environment::environment(value)?,
                _ => unreachable!("known_keys yields only KEYS"),
            }
        }
        if let Some(model) = &config.model {
            check_model(model, config.agent.as_deref(), &caps.agents)?;
        }
        Ok(config)
    }
}

/// A YAML error with its place first (when the parser knows it) and its words made plainer.
fn yaml_problem(e: &yaml_serde::Error) -> String {
    let text = one_line(&e.to_string());
    let Some(at) = e.location() else {
        if text.contains("more than one document") {
            return "invalid YAML: the file holds more than one document (`---`); keep one".into();
        }
        return format!("invalid YAML: {text}");
    };
    let (line, column) = (at.line(), at.column());
    let text = text.replacen(&format!(" at line {line} column {column}"), "", 1);
    let text = match text.split_once("duplicate entry with key ") {
        Some((path, key)) => format!(
            "{path}key {} appears twice",
            code_span(key.trim_matches('"'))
        ),
        None => text,
    };
    format!("invalid YAML at line {line}, column {column}: {text}")
}

/// The mapping's entries with their keys, failing on the first key not in `known`.
fn known_keys<'a>(
    map: &'a Mapping,
    known: &[&'static str],
    within: Option<&str>,
) -> Result<Vec<(&'static str, &'a Value)>, RepoConfigError> {
    map.iter()
        .map(
            |(key, value)| match text(key).and_then(|k| known.iter().find(|known| **known == k)) {
                Some(known) => Ok((*known, value)),
                None => {
                    let name = match key {
                        Value::String(s) => short(s),
                        other => short(&yaml_serde::to_string(other).unwrap_or_default()),
                    };
                    let (shown, under) = match within {
                        Some(parent) => (format!("{parent}.{name}"), format!(" under `{parent}`")),
                        None => (name, String::new()),
                    };
                    fail(
                        &shown,
                        format!(
                            "unknown key {} (known keys{under}: {})",
                            code_span(&shown),
                            known.join(", ")
                        ),
                    )
                }
            },
        )
        .collect()
}
