//! The agents a server offers: `[agents.NAME]` tables in the `AGEN_CONFIG` file (a preset
//! such as `claude-code`, `codex` or `aider`, or a shell `command`), the `default_agent`, or
//! `AGEN_AGENT_COMMAND` as a one-agent shorthand. A repository picks among them in `.github/agen.yml`.
//!
//! ```toml
//! default_agent = "claude"
//! [agents.claude]
//! preset = "claude-code"
//! models = ["claude-sonnet-4-5"]      # the first is the one the preset runs with
//! env = { BASH_DEFAULT_TIMEOUT_MS = "300000" }
//! monthly_usd = 200                   # this agent's spend per month, all repositories together
//! [agents.script]
//! command = "./run-agent.sh"
//! ```

use std::collections::BTreeMap;

use super::{err, ConfigError, Source};
use crate::budget::MicroUsd;

/// An error at `path` inside the config file (`agents.claude.preset`).
fn at(path: String, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: Box::leak(path.into_boxed_str()),
        problem: problem.into(),
    }
}

/// The name `AGEN_AGENT_COMMAND` goes by.
pub const SHORTHAND_NAME: &str = "default";
/// The presets agen knows, by the name `preset =` takes.
pub const PRESETS: [&str; 3] = ["claude-code", "codex", "aider"];
/// Variables the gateway and agen set for every session: an agent's `env` cannot change them.
const RESERVED: [&str; 9] = [
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "OPENAI_BASE_URL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "PATH",
    "HOME",
];

/// A variable agen sets itself for every session (the gateway's, the proxy's, `PATH`, `HOME`,
/// `AGEN_*`) or a key (`*_API_KEY`): no configured environment may set it.
pub(super) fn reserved_variable(var: &str) -> bool {
    let upper = var.to_ascii_uppercase();
    upper.ends_with("_API_KEY") || upper.starts_with("AGEN_") || RESERVED.contains(&upper.as_str())
}

/// A shell variable name: letters, digits and `_`, not starting with a digit.
pub(super) fn variable_name(var: &str) -> bool {
    !var.is_empty()
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !var.starts_with(|c: char| c.is_ascii_digit())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// Anthropic's Claude Code CLI (`claude`), headless.
    ClaudeCode,
    /// OpenAI's Codex CLI (`codex exec`), headless.
    Codex,
    /// Aider (`aider --message-file`), headless.
    Aider,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::ClaudeCode => "claude-code",
            Preset::Codex => "codex",
            Preset::Aider => "aider",
        }
    }

    /// The program the preset runs, looked up in the session's PATH on the host.
    pub fn program(self) -> &'static str {
        match self {
            Preset::ClaudeCode => "claude",
            Preset::Codex => "codex",
            Preset::Aider => "aider",
        }
    }

    /// How the operator installs the program (the version agen is tested with).
    pub fn install_hint(self) -> &'static str {
        match self {
            Preset::ClaudeCode => "npm install -g @anthropic-ai/claude-code@2.1.332",
            Preset::Codex => "npm install -g @openai/codex@0.171.0",
            // In a virtual environment under /usr/local: sessions see /usr, not /root or /opt.
            Preset::Aider => {
                "python3 -m venv /usr/local/lib/aider && /usr/local/lib/aider/bin/pip install \
                 aider-chat==0.86.2 && ln -s /usr/local/lib/aider/bin/aider /usr/local/bin/aider"
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentKind {
    Preset(Preset),
    /// Run with `sh -c` in the worktree.
    Command(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    pub name: String,
    pub kind: AgentKind,
    /// Extra session environment, never one of the gateway's variables.
    pub env: Vec<(String, String)>,
    /// The models this agent may call (the first is the preset's); empty: any priced model.
    pub models: Vec<String>,
    /// `monthly_usd`: what this agent may spend per calendar month (UTC) across every
    /// repository; none by default.
    pub monthly: Option<MicroUsd>,
}

/// The server's agents and the one a repository gets when it names none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agents {
    pub agents: Vec<Agent>,
    pub default: Option<String>,
}

impl Agents {
    pub fn get(&self, name: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// The agent a repository runs: the one it names, else the server's default.
    pub fn pick(&self, name: Option<&str>) -> Option<&Agent> {
        self.get(name.or(self.default.as_deref())?)
    }

    pub fn names(&self) -> Vec<String> {
        self.agents.iter().map(|a| a.name.clone()).collect()
    }

    pub(super) fn load(src: &Source) -> Result<Agents, ConfigError> {
        let command = src.get("AGEN_AGENT_COMMAND");
        if src.agents.is_empty() {
            if let Some(name) = src.get("default_agent") {
                return Err(err(
                    "default_agent",
                    format!("names {name}, but AGEN_CONFIG has no [agents.{name}] table"),
                ));
            }
            let Some(command) = command else {
                return Ok(Agents::default());
            };
            return Ok(Agents {
                agents: vec![Agent {
                    name: SHORTHAND_NAME.into(),
                    kind: AgentKind::Command(command.to_string()),
                    env: Vec::new(),
                    models: Vec::new(),
                    monthly: None,
                }],
                default: Some(SHORTHAND_NAME.into()),
            });
        }
        if command.is_some() {
            return Err(err(
                "AGEN_AGENT_COMMAND",
                "cannot be set beside [agents] tables in AGEN_CONFIG; make it an agent there \
                 (`[agents.NAME]` with `command = \"...\"`)",
            ));
        }
        let agents = src
            .agents
            .iter()
            .map(|(name, value)| agent(name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let default = match src.get("default_agent") {
            Some(name) if agents.iter().any(|a| a.name == name) => name.to_string(),
            Some(name) => {
                return Err(err(
                    "default_agent",
                    format!(
                        "names {name}, which is not an agent in AGEN_CONFIG (its agents: {})",
                        agents
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            None if agents.len() == 1 => agents[0].name.clone(),
            None => {
                return Err(err(
                    "default_agent",
                    "is missing: with several [agents] tables, name the one repositories get \
                     when they pick none",
                ))
            }
        };
        Ok(Agents {
            agents,
            default: Some(default),
        })
    }
}

fn agent(name: &str, value: &toml::Value) -> Result<Agent, ConfigError> {
    let Some(table) = value.as_table() else {
        return Err(at(
            format!("agents.{name}"),
            format!("must be a table, like [agents.{name}]"),
        ));
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(at(
            format!("agents.{name}"),
            "an agent's name may hold only letters, digits, - and _",
        ));
    }
    let text = |field: &str| -> Result<Option<String>, ConfigError> {
        match table.get(field) {
            None => Ok(None),
            Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(at(
                format!("agents.{name}.{field}"),
                "must be a non-empty string",
            )),
        }
    };
    for field in table.keys() {
        if !["preset", "command", "env", "models", "monthly_usd"].contains(&field.as_str()) {
            return Err(at(
                format!("agents.{name}.{field}"),
                "is not a known key (known: preset, command, env, models, monthly_usd)",
            ));
        }
    }
    let kind = match (text("preset")?, text("command")?) {
        (Some(_), Some(_)) => {
            return Err(at(
                format!("agents.{name}"),
                "sets both preset and command; keep one",
            ))
        }
        (None, None) => {
            return Err(at(
                format!("agents.{name}"),
                format!(
                    "needs preset = \"{}\" or command = \"...\"",
                    PRESETS.join("\" | \"")
                ),
            ))
        }
        (Some(preset), None) => match preset.as_str() {
            "claude-code" => AgentKind::Preset(Preset::ClaudeCode),
            "codex" => AgentKind::Preset(Preset::Codex),
            "aider" => AgentKind::Preset(Preset::Aider),
            other => {
                return Err(at(
                    format!("agents.{name}.preset"),
                    format!(
                        "is {other}, which agen does not know (known presets: {})",
                        PRESETS.join(", ")
                    ),
                ))
            }
        },
        (None, Some(command)) => AgentKind::Command(command),
    };
    Ok(Agent {
        name: name.to_string(),
        kind,
        env: env(name, table.get("env"))?,
        models: models(name, table.get("models"))?,
        monthly: monthly(name, table.get("monthly_usd"))?,
    })
}

fn monthly(name: &str, value: Option<&toml::Value>) -> Result<Option<MicroUsd>, ConfigError> {
    let usd = match value {
        None => return Ok(None),
        Some(toml::Value::Integer(n)) => Some(*n as f64),
        Some(toml::Value::Float(f)) => Some(*f),
        Some(_) => None,
    };
    usd.filter(|d| d.is_finite() && *d >= 0.0 && *d <= 1e9)
        .map(|d| Some(MicroUsd::from_usd(d)))
        .ok_or_else(|| {
            at(
                format!("agents.{name}.monthly_usd"),
                "must be an amount of US dollars, such as 200 or 12.50",
            )
        })
}

fn env(name: &str, value: Option<&toml::Value>) -> Result<Vec<(String, String)>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(table) = value.as_table() else {
        return Err(at(
            format!("agents.{name}.env"),
            "must be a table, like env = { KEY = \"value\" }",
        ));
    };
    let mut out = BTreeMap::new();
    for (var, value) in table {
        if reserved_variable(var) {
            return Err(at(
                format!("agents.{name}.env"),
                format!(
                    "sets {var}, which agen sets itself for every session \
                     (the model gateway's and agen's variables, *_API_KEY); remove it"
                ),
            ));
        }
        let valid = variable_name(var);
        match value {
            toml::Value::String(s) if valid && !s.contains('\0') => {
                out.insert(var.clone(), s.clone());
            }
            _ => {
                return Err(at(
                    format!("agents.{name}.env.{var}"),
                    "must be a variable name with a string value",
                ))
            }
        }
    }
    Ok(out.into_iter().collect())
}

fn models(name: &str, value: Option<&toml::Value>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let models = value
        .as_array()
        .filter(|list| !list.is_empty())
        .map(|list| {
            list.iter()
                .map(|m| m.as_str().map(str::trim).filter(|m| !m.is_empty()))
                .collect::<Option<Vec<_>>>()
        });
    match models {
        Some(Some(list)) => {
            let mut seen = Vec::new();
            for m in list {
                if !seen.iter().any(|s: &String| s == m) {
                    seen.push(m.to_string());
                }
            }
            Ok(seen)
        }
        _ => Err(at(
            format!("agents.{name}.models"),
            "must be a non-empty list of model names, like [\"claude-sonnet-4-5\"]",
        )),
    }
}
