//! The agent a job runs, as a session command: a configured `command` as it is, or a preset
//! turned into its CLI's headless invocation with the environment it needs.

use std::path::{Path, PathBuf};

use super::transcript::EventFormat;
use crate::config::{Agent, AgentKind, Agents, Preset};

/// Claude Code's print mode, the task file as its prompt, every tool allowed (the sandbox is
/// the boundary), events as JSON lines for the session log.
const CLAUDE_CODE: &str = "claude -p \"$(cat \"$AGEN_TASK_FILE\")\" --output-format stream-json \
                           --verbose --dangerously-skip-permissions";

/// What a round's agent session runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRun {
    pub name: String,
    /// Given to `sh -c`.
    pub command: String,
    /// Added to the session's environment.
    pub env: Vec<(String, String)>,
    /// The program a preset needs on the host, and how to install it.
    pub needs: Option<Preset>,
    /// The machine-readable events it prints, read into the session log's transcript.
    pub events: Option<EventFormat>,
}

/// The agent `picked` (or the server's default) as a session command with `model` (or its
/// first model); `None` when the server has no agent.
pub fn resolve(agents: &Agents, picked: Option<&str>, model: Option<&str>) -> Option<AgentRun> {
    let agent = agents.pick(picked)?;
    let model = model.or(agent.models.first().map(String::as_str));
    let mut run = match &agent.kind {
        AgentKind::Command(command) => AgentRun {
            name: agent.name.clone(),
            command: command.clone(),
            env: Vec::new(),
            needs: None,
            events: None,
        },
        AgentKind::Preset(Preset::ClaudeCode) => claude_code(agent, model),
        AgentKind::Preset(Preset::Codex) => codex(agent, model),
        AgentKind::Preset(Preset::Aider) => aider(agent, model),
    };
    if let Some(model) = model {
        run.env.push(("AGEN_MODEL".into(), model.to_string()));
    }
    run.env.extend(agent.env.iter().cloned());
    Some(run)
}

fn claude_code(agent: &Agent, model: Option<&str>) -> AgentRun {
    let mut env: Vec<(String, String)> = [
        // No traffic but the model calls: no telemetry, error reports, update checks.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        "DISABLE_TELEMETRY",
        "DISABLE_ERROR_REPORTING",
        "DISABLE_AUTOUPDATER",
        "DISABLE_BUG_COMMAND",
    ]
    .into_iter()
    .map(|k| (k.to_string(), "1".to_string()))
    .collect();
    let mut command = CLAUDE_CODE.to_string();
    if let Some(model) = model {
        command.push_str(" --model \"$AGEN_MODEL\"");
        // Its side calls (titles, subagents) stay on the models the gateway lets through: a
        // haiku among them if there is one, else the main model.
        let small = agent
            .models
            .iter()
            .find(|m| m.contains("haiku"))
            .map_or(model, String::as_str);
        for (key, value) in [
            ("ANTHROPIC_MODEL", model),
            ("ANTHROPIC_DEFAULT_SONNET_MODEL", model),
            ("ANTHROPIC_DEFAULT_OPUS_MODEL", model),
            ("ANTHROPIC_DEFAULT_HAIKU_MODEL", small),
            ("ANTHROPIC_SMALL_FAST_MODEL", small),
            ("CLAUDE_CODE_SUBAGENT_MODEL", model),
        ] {
            env.push((key.into(), value.into()));
        }
    }
    AgentRun {
        name: agent.name.clone(),
        command,
        env,
        needs: Some(Preset::ClaudeCode),
        events: Some(EventFormat::ClaudeCodeStreamJson),
    }
}

/// Codex's `config.toml`: the gateway as its model provider (Codex ignores `OPENAI_BASE_URL`),
/// with the session's `OPENAI_API_KEY` as the bearer token, over plain HTTP (no WebSocket);
/// no analytics, feedback, OpenTelemetry export or update checks; no hosted web search, no
/// plugins or connectors (their marketplace sync reaches github.com and chatgpt.com).
const CODEX_CONFIG: [&str; 20] = [
    "model_provider = \"agen\"",
    "check_for_update_on_startup = false",
    "web_search = \"disabled\"",
    "[model_providers.agen]",
    "name = \"agen model gateway\"",
    "base_url = \"$OPENAI_BASE_URL\"",
    "env_key = \"OPENAI_API_KEY\"",
    "wire_api = \"responses\"",
    "[analytics]",
    "enabled = false",
    "[feedback]",
    "enabled = false",
    "[otel]",
    "exporter = \"none\"",
    "trace_exporter = \"none\"",
    "metrics_exporter = \"none\"",
    "[features]",
    "plugins = false",
    "remote_plugin = false",
    "apps = false",
];

/// Codex's headless `exec`, the task file as its prompt, its own sandbox and approvals off
/// (agen's sandbox is the boundary), events as JSON lines for the session log; unknown config
/// keys are an error, so a Codex that renamed one fails loudly rather than phoning home.
const CODEX: &str = "codex exec --json --color never --strict-config --skip-git-repo-check \
                     --dangerously-bypass-approvals-and-sandbox";

fn codex(agent: &Agent, model: Option<&str>) -> AgentRun {
    // The config goes where Codex looks (`$CODEX_HOME`, else `~/.codex`; HOME is writable),
    // written by the session itself so the gateway's URL is the session's own.
    let lines: Vec<String> = CODEX_CONFIG
        .iter()
        .map(|line| format!("\"{}\"", line.replace('"', "\\\"")))
        .collect();
    let mut command = format!(
        "export CODEX_HOME=\"${{CODEX_HOME:-$HOME/.codex}}\" && mkdir -p \"$CODEX_HOME\" && \
         printf '%s\\n' {} > \"$CODEX_HOME/config.toml\" && {CODEX}",
        lines.join(" ")
    );
    if model.is_some() {
        command.push_str(" -m \"$AGEN_MODEL\"");
    }
    command.push_str(" -- \"$(cat \"$AGEN_TASK_FILE\")\" </dev/null");
    AgentRun {
        name: agent.name.clone(),
        command,
        env: Vec::new(),
        needs: Some(Preset::Codex),
        events: Some(EventFormat::CodexJson),
    }
}

/// Aider's flags: the task file as its one message, every question answered yes (the
/// sandbox is the boundary), no commits of its own (agen commits) and no `.gitignore` edit;
/// plain output; no update checks, analytics, release notes, URL fetching or browser; its
/// history files in the session's home, not the worktree.
const AIDER: &str = "aider --message-file \"$AGEN_TASK_FILE\" --yes-always --no-auto-commits \
                     --no-dirty-commits --no-gitignore --no-pretty --no-fancy-input --no-stream \
                     --no-check-update --no-analytics --no-show-release-notes --no-detect-urls \
                     --disable-playwright --no-show-model-warnings \
                     --chat-history-file \"$HOME/.aider/chat.md\" \
                     --input-history-file \"$HOME/.aider/input.txt\"";

/// Aider's repository map cache, which it writes in the worktree's top directory.
const AIDER_TAGS_CACHE: &str = ".aider.tags.cache.v4";

fn aider(agent: &Agent, model: Option<&str>) -> AgentRun {
    // Aider downloads a model price list at start unless its cache holds one: an entry of
    // agen's own stops that (litellm's bundled list answers instead), and
    // LITELLM_LOCAL_MODEL_COST_MAP keeps litellm from fetching its own.
    let mut command = format!(
        "mkdir -p \"$HOME/.aider/caches\" && \
         echo '{{\"agen\": {{}}}}' > \"$HOME/.aider/caches/model_prices_and_context_window.json\" && \
         {{ [ -e {AIDER_TAGS_CACHE} ] && had_cache=1; {AIDER}"
    );
    if let Some(model) = model {
        // litellm picks the provider from the prefix; agen's gateway speaks both.
        let provider = if model.starts_with("claude") {
            "anthropic"
        } else {
            "openai"
        };
        for flag in ["--model", "--weak-model", "--editor-model"] {
            command.push_str(&format!(" {flag} \"{provider}/$AGEN_MODEL\""));
        }
    }
    // What it left in the worktree that is not the change: its map cache, unless it was there.
    command.push_str(&format!(
        "; status=$?; [ -n \"$had_cache\" ] || rm -rf {AIDER_TAGS_CACHE}; exit $status; }}"
    ));
    AgentRun {
        name: agent.name.clone(),
        command,
        // litellm, aider's client, reads the gateway's OPENAI_BASE_URL / ANTHROPIC_BASE_URL
        // and keys itself.
        env: vec![("LITELLM_LOCAL_MODEL_COST_MAP".into(), "True".into())],
        needs: Some(Preset::Aider),
        events: None,
    }
}

/// `program` in one of `path`'s directories (`a:b:c`), as an executable file.
pub fn find_program(program: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Words `sh` knows itself: a command starting with one runs no program of that name.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "!", "{", "[", "[[", "alias", "break", "case", "cd", "command", "continue", "echo",
    "eval", "exec", "exit", "export", "false", "for", "getopts", "hash", "if", "kill", "local",
    "printf", "pwd", "read", "readonly", "return", "set", "shift", "source", "test", "time",
    "times", "trap", "true", "type", "ulimit", "umask", "unset", "until", "wait", "while",
];

/// The program a shell command starts with, when that is a plain name `sh` looks up in PATH
/// (not a path, a variable, an assignment, a keyword or a builtin).
fn command_program(command: &str) -> Option<&str> {
    let first = command.split_whitespace().next()?;
    let plain = first
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    (plain && !SHELL_WORDS.contains(&first)).then_some(first)
}

/// The line on the issue when the agent's program is not installed on the host (looked up in
/// the session's `path`): a preset's CLI, with its install line, or the program a configured
/// command starts with. `None` when it is there, or when the command's program is not a plain
/// name (a script in the repository, say).
pub fn missing_program(run: &AgentRun, path: &str) -> Option<String> {
    match run.needs {
        Some(preset) => find_program(preset.program(), path).is_none().then(|| {
            format!(
                "the agent `{}` (preset `{}`) needs the program `{}`, which is not installed on \
                 this agen server; ask its operator to install it (`{}`)",
                run.name,
                preset.name(),
                preset.program(),
                preset.install_hint()
            )
        }),
        None => {
            let program = command_program(&run.command)?;
            find_program(program, path).is_none().then(|| {
                format!(
                    "the agent `{}` runs the program `{program}`, which is not installed on this \
                     agen server (sessions see the host's /usr, /bin and AGEN_SANDBOX_MOUNTS); ask \
                     its operator to install it or to fix the agent's `command` in AGEN_CONFIG",
                    run.name
                )
            })
        }
    }
}

#[cfg(test)]
mod tests;
