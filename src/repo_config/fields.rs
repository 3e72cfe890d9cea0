//! Each key's value: its type, its bounds and the server's cap, with the message that says
//! which of those it broke.

use yaml_serde::Value;

use super::{
    fail, RepoConfigError, ServerCaps, MAX_EGRESS_HOSTS, MAX_LABEL_CHARS, MAX_PIPELINE_COMMANDS,
    PERMISSIONS,
};
use crate::budget::MicroUsd;
use crate::config::Agents;
use crate::markdown::code_span;
pub(super) use crate::markdown::one_line;
use crate::policy::Permission;
use crate::sandbox::Allowlist;

/// A list of shell commands under `key` (`pipeline`, `setup`).
pub(super) fn commands(key: &str, value: &Value) -> Result<Vec<String>, RepoConfigError> {
    let what = "a list of shell commands (`- cargo test`)";
    let entries = list(key, what, value, MAX_PIPELINE_COMMANDS)?;
    let mut commands = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match text(entry) {
            Some(command) if !command.trim().is_empty() && !command.contains('\0') => {
                commands.push(command.to_string())
            }
            _ => {
                let found = describe(entry);
                let problem = format!("`{key}` entry {} must be a command, found {found}", i + 1);
                return fail(key, problem);
            }
        }
    }
    Ok(commands)
}

/// How many `cache` entries a repository may name.
const MAX_CACHES: usize = 10;

/// `cache`: directories under the session's home, each `~/…` (returned without the `~/`).
pub(super) fn caches(value: &Value) -> Result<Vec<String>, RepoConfigError> {
    let what = "a list of directories in the session's home (`- ~/.npm`)";
    let entries = list("cache", what, value, MAX_CACHES)?;
    let mut out: Vec<String> = Vec::new();
    for entry in entries {
        let path = text(entry).and_then(|t| t.strip_prefix("~/"));
        let valid = path.filter(|p| {
            !p.is_empty()
                && !p.contains('\0')
                && p.split('/')
                    .all(|part| !part.is_empty() && part != "." && part != "..")
        });
        let Some(path) = valid else {
            let problem = format!(
                "each `cache` entry must be a directory in the session's home like `~/.npm` \
                 (no `..`), found {}",
                describe(entry)
            );
            return fail("cache", problem);
        };
        if !out.iter().any(|p| p == path) {
            out.push(path.to_string());
        }
    }
    Ok(out)
}

/// A whole number of at least 1, at most the server's `cap`.
pub(super) fn capped(key: &str, value: &Value, cap: u32) -> Result<u32, RepoConfigError> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    match n {
        Some(n) if n > u64::from(cap) => fail(
            key,
            format!("`{key}` is {n}, above this server's limit of {cap}; set it to {cap} or less"),
        ),
        Some(n) if n >= 1 => Ok(n as u32),
        _ => must(key, "a whole number of at least 1", value),
    }
}

/// Dollars (`2`, `0.5`), more than 0 and at most `cap`.
pub(super) fn capped_usd(
    key: &str,
    value: &Value,
    cap: MicroUsd,
) -> Result<MicroUsd, RepoConfigError> {
    let usd = match value {
        Value::Number(n) => n.as_f64().filter(|d| d.is_finite() && *d > 0.0),
        _ => None,
    };
    match usd.map(MicroUsd::from_usd) {
        Some(asked) if asked > cap => fail(
            key,
            format!(
                "`{key}` is {asked}, above this server's limit of {cap} (AGEN_JOB_MAX_USD); set \
                 it to {} or less",
                cap.as_usd()
            ),
        ),
        Some(asked) => Ok(asked),
        None => must(key, "an amount of US dollars above 0, such as 2.50", value),
    }
}

pub(super) fn label(value: &Value) -> Result<String, RepoConfigError> {
    match text(value).map(str::trim) {
        Some(name)
            if !name.is_empty()
                && name.chars().count() <= MAX_LABEL_CHARS
                && !name.chars().any(char::is_control) =>
        {
            Ok(name.to_string())
        }
        _ => {
            let what = format!("a label name of 1 to {MAX_LABEL_CHARS} characters");
            must("trigger_label", &what, value)
        }
    }
}

/// One of the five role names, at least as strict as the server's.
pub(super) fn permission(value: &Value, caps: &ServerCaps) -> Result<Permission, RepoConfigError> {
    let names = |from: Permission| {
        let names: Vec<&str> = PERMISSIONS
            .iter()
            .filter(|p| **p >= from)
            .map(|p| p.as_str())
            .collect();
        names.join(", ")
    };
    let Some(wanted) = PERMISSIONS
        .into_iter()
        .find(|p| Some(p.as_str()) == text(value))
    else {
        let what = format!("one of {}", names(Permission::Read));
        return must("min_permission", &what, value);
    };
    let server = caps.min_permission;
    if wanted < server {
        let problem = format!(
            "`min_permission` is {wanted}, looser than this server's {server}; use one of {}",
            names(server)
        );
        return fail("min_permission", problem);
    }
    Ok(wanted)
}

/// Hosts under `key` (`egress`, `setup_egress`), each within the server's allowlist.
pub(super) fn hosts(
    key: &str,
    value: &Value,
    caps: &ServerCaps,
) -> Result<Vec<String>, RepoConfigError> {
    let entries = list(
        key,
        "a list of host names (`- crates.io`)",
        value,
        MAX_EGRESS_HOSTS,
    )?;
    let allow = Allowlist::new(caps.egress_allow.iter().cloned());
    let mut hosts: Vec<String> = Vec::new();
    for entry in entries {
        let host = text(entry).map(str::to_ascii_lowercase);
        let Some(host) = host.filter(|h| is_host_pattern(h)) else {
            let what = "a host name like `crates.io`, `*.example.com` or `example.com:8443`";
            let problem = format!(
                "each `{key}` entry must be {what}, found {}",
                describe(entry)
            );
            return fail(key, problem);
        };
        // The server's list must cover the whole pattern, port included: `*.example.com`
        // covers `a.example.com` and `*.a.example.com` alike, `example.com` only itself, and
        // `example.com:8443` only `example.com:8443`.
        if !allow.covers(&host) {
            let problem = format!(
                "`{key}` host {} is not in this server's allowlist; remove it or ask the \
                 server's operator to allow it",
                code_span(&host)
            );
            return fail(key, problem);
        }
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// The entries of a list of at most `limit`.
fn list<'a>(
    key: &str,
    what: &str,
    value: &'a Value,
    limit: usize,
) -> Result<&'a [Value], RepoConfigError> {
    match value {
        Value::Sequence(entries) if entries.len() > limit => fail(
            key,
            format!(
                "`{key}` has {} entries, above the limit of {limit}",
                entries.len()
            ),
        ),
        Value::Sequence(entries) => Ok(entries),
        _ => must(key, what, value),
    }
}

/// A plain string; a tagged one (`!foo bar`) is not.
pub(super) fn text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

pub(super) fn must<T>(key: &str, what: &str, found: &Value) -> Result<T, RepoConfigError> {
    fail(
        key,
        format!("`{key}` must be {what}, found {}", describe(found)),
    )
}

/// `example.com` or `*.example.com`: DNS labels of letters, digits and inner hyphens.
/// `name`, `*.name`, either with `:port`.
fn is_host_pattern(entry: &str) -> bool {
    let host = match entry.split_once(':') {
        Some((host, port))
            if port.parse::<u16>().is_ok_and(|p| p != 0) && !port.starts_with('+') =>
        {
            host
        }
        Some(_) => return false,
        None => entry,
    };
    let name = host.strip_prefix("*.").unwrap_or(host);
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// What the file holds where a value was expected, for "found …".
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => code_span(&b.to_string()),
        Value::Number(n) => code_span(&n.to_string()),
        Value::String(s) if s.trim().is_empty() => "an empty string".into(),
        Value::String(s) => format!("the text {}", code_span(&short(s))),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", code_span(&t.tag.to_string())),
    }
}

/// At most 40 characters of a value quoted back, so a long one cannot flood the comment.
pub(super) fn short(text: &str) -> String {
    let text = one_line(text);
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// `agent:`: one of the server's agents.
pub(super) fn agent(value: &Value, agents: &Agents) -> Result<String, RepoConfigError> {
    let known = || {
        let names = agents.names();
        if names.is_empty() {
            "this server has no agents".to_string()
        } else {
            format!("this server's agents: {}", names.join(", "))
        }
    };
    match text(value) {
        Some(name) if agents.get(name).is_some() => Ok(name.to_string()),
        Some(name) => fail(
            "agent",
            format!(
                "`agent` is {}, which this server does not offer ({})",
                code_span(&short(name)),
                known()
            ),
        ),
        None => must("agent", "the name of one of the server's agents", value),
    }
}

/// `model:`, checked against the agent once the whole file is read.
pub(super) fn model_name(value: &Value) -> Result<String, RepoConfigError> {
    match text(value) {
        Some(name) if !name.trim().is_empty() => Ok(name.trim().to_string()),
        _ => must("model", "a model name such as `claude-sonnet-4-5`", value),
    }
}

/// The model must be one the agent (the picked one, else the server's default) names.
pub(super) fn check_model(
    model: &str,
    agent: Option<&str>,
    agents: &Agents,
) -> Result<(), RepoConfigError> {
    let Some(chosen) = agents.pick(agent) else {
        return fail(
            "model",
            "`model` is set, but this server has no agent to run it".to_string(),
        );
    };
    if chosen.models.iter().any(|m| m == model) {
        return Ok(());
    }
    let shown = code_span(&short(model));
    let problem = if chosen.models.is_empty() {
        format!(
            "`model` is {shown}, but the agent `{}` names no models to pick from; remove `model`",
            chosen.name
        )
    } else {
        format!(
            "`model` is {shown}, which the agent `{}` does not offer (its models: {})",
            chosen.name,
            chosen.models.join(", ")
        )
    };
    fail("model", problem)
}
