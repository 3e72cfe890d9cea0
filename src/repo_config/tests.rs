use super::*;
use crate::budget::MicroUsd;

fn caps() -> ServerCaps {
    ServerCaps {
        max_rounds: 5,
        job_minutes: 30,
        egress_allow: [
            "crates.io",
            "*.crates.io",
            "static.rust-lang.org",
            "*.npmjs.org",
        ]
        .map(String::from)
        .to_vec(),
        trigger_label: "agen".into(),
        min_permission: Permission::Write,
        job_usd: MicroUsd::from_usd(5.0),
        cpu_minutes: 60,
        agents: crate::config::Agents::default(),
    }
}

#[test]
fn absent_empty_and_null_mean_the_servers_defaults() {
    let defaults = RepoConfig::defaults(&caps());
    assert_eq!(
        defaults,
        RepoConfig {
            pipeline: vec![],
            setup: vec![],
            setup_egress: vec![],
            cache: vec![],
            max_rounds: 5,
            job_minutes: 30,
            job_usd: MicroUsd::from_usd(5.0),
            cpu_minutes: 60,
            trigger_label: "agen".into(),
            min_permission: Permission::Write,
            egress: vec![],
            agent: None,
            model: None,
            environment: None,
        }
    );
    for text in [
        "",
        "  \n\n",
        "# only a comment\n",
        "---\n",
        "max_rounds:\nbudget:\n",
        "budget: {}",
    ] {
        assert_eq!(
            RepoConfig::parse(text, &caps()),
            Ok(defaults.clone()),
            "{text:?}"
        );
    }
}

#[test]
fn every_key_lowers_or_narrows() {
    let text = "\
pipeline:
  - cargo fmt --check
  - |
    cargo build
    cargo test
max_rounds: 2
budget:
  job_minutes: 15
trigger_label: \" bot-work \"
min_permission: maintain
egress:
  - crates.io
  - Index.Crates.io
  - index.crates.io
  - \"*.npmjs.org\"
  - \"*.registry.npmjs.org\"
setup: [npm ci]
setup_egress: [registry.npmjs.org, crates.io]
cache: [~/.npm, ~/.cargo/registry, ~/.npm]
";
    assert_eq!(
        RepoConfig::parse(text, &caps()),
        Ok(RepoConfig {
            pipeline: vec![
                "cargo fmt --check".into(),
                "cargo build\ncargo test\n".into()
            ],
            setup: vec!["npm ci".into()],
            setup_egress: vec!["registry.npmjs.org".into(), "crates.io".into()],
            cache: vec![".npm".into(), ".cargo/registry".into()],
            max_rounds: 2,
            job_minutes: 15,
            job_usd: MicroUsd::from_usd(5.0),
            cpu_minutes: 60,
            trigger_label: "bot-work".into(),
            min_permission: Permission::Maintain,
            egress: [
                "crates.io",
                "index.crates.io",
                "*.npmjs.org",
                "*.registry.npmjs.org"
            ]
            .map(String::from)
            .to_vec(),
            agent: None,
            model: None,
            environment: None,
        })
    );
    // The server's own values are accepted as they are.
    let same = "max_rounds: 5\nbudget: {job_minutes: 30}\nmin_permission: write\npipeline: []";
    assert_eq!(
        RepoConfig::parse(same, &caps()),
        Ok(RepoConfig::defaults(&caps()))
    );
}

#[test]
fn every_mistake_names_the_key_and_the_fix() {
    let known = "known keys: pipeline, setup, setup_egress, cache, max_rounds, budget, trigger_label, min_permission, egress, agent, model, environment";
    let many: String = (0..21).map(|i| format!("- cmd {i}\n")).collect();
    let cases: Vec<(String, &str, String)> = vec![
        (
            "pipline: [cargo test]".into(),
            "pipline",
            format!("unknown key `pipline` ({known})"),
        ),
        (
            "<<: {max_rounds: 1}".into(),
            "<<",
            format!("unknown key `<<` ({known})"),
        ),
        ("1: x".into(), "1", format!("unknown key `1` ({known})")),
        (
            "budget:\n  minutes: 5".into(),
            "budget.minutes",
            "unknown key `budget.minutes` (known keys under `budget`: job_minutes, job_usd, cpu_minutes)".into(),
        ),
        (
            "max_rounds: 10".into(),
            "max_rounds",
            "`max_rounds` is 10, above this server's limit of 5; set it to 5 or less".into(),
        ),
        ("max_rounds: 0".into(), "max_rounds", rounds("`0`")),
        ("max_rounds: -1".into(), "max_rounds", rounds("`-1`")),
        ("max_rounds: 2.5".into(), "max_rounds", rounds("`2.5`")),
        (
            "max_rounds: three".into(),
            "max_rounds",
            rounds("the text `three`"),
        ),
        (
            "max_rounds: \"3\"".into(),
            "max_rounds",
            rounds("the text `3`"),
        ),
        ("max_rounds: [3]".into(), "max_rounds", rounds("a list")),
        (
            "max_rounds: !int 3".into(),
            "max_rounds",
            rounds("a value tagged `!int`"),
        ),
        (
            "budget:\n  job_minutes: 90".into(),
            "budget.job_minutes",
            "`budget.job_minutes` is 90, above this server's limit of 30; set it to 30 or less"
                .into(),
        ),
        (
            "budget: {job_minutes: false}".into(),
            "budget.job_minutes",
            "`budget.job_minutes` must be a whole number of at least 1, found `false`".into(),
        ),
        (
            "budget: 20".into(),
            "budget",
            "`budget` must be a mapping like `job_minutes: 20`, found `20`".into(),
        ),
        (
            "pipeline: cargo test".into(),
            "pipeline",
            "`pipeline` must be a list of shell commands (`- cargo test`), found the text \
             `cargo test`"
                .into(),
        ),
        (
            "pipeline:\n  - cargo test\n  - ''".into(),
            "pipeline",
            entry(2, "an empty string"),
        ),
        (
            "pipeline:\n  - run: x".into(),
            "pipeline",
            entry(1, "a mapping"),
        ),
        ("pipeline:\n  -".into(), "pipeline", entry(1, "nothing")),
        ("pipeline:\n  - 42".into(), "pipeline", entry(1, "`42`")),
        (
            format!("pipeline:\n{many}"),
            "pipeline",
            "`pipeline` has 21 entries, above the limit of 20".into(),
        ),
        (
            "trigger_label: ''".into(),
            "trigger_label",
            label("an empty string"),
        ),
        (
            "trigger_label: [a]".into(),
            "trigger_label",
            label("a list"),
        ),
        (
            format!("trigger_label: {}", "x".repeat(51)),
            "trigger_label",
            label(&format!("the text `{}…`", "x".repeat(40))),
        ),
        (
            "min_permission: owner".into(),
            "min_permission",
            "`min_permission` must be one of read, triage, write, maintain, admin, found the \
             text `owner`"
                .into(),
        ),
        (
            "min_permission: read".into(),
            "min_permission",
            "`min_permission` is read, looser than this server's write; use one of write, \
             maintain, admin"
                .into(),
        ),
        (
            "egress: crates.io".into(),
            "egress",
            "`egress` must be a list of host names (`- crates.io`), found the text `crates.io`"
                .into(),
        ),
        (
            "egress: [evil.com]".into(),
            "egress",
            not_allowed("evil.com"),
        ),
        (
            "setup_egress: [evil.com]".into(),
            "setup_egress",
            "`setup_egress` host `evil.com` is not in this server's allowlist; remove it or ask \
             the server's operator to allow it"
                .into(),
        ),
        (
            "cache: [~/../etc]".into(),
            "cache",
            "each `cache` entry must be a directory in the session's home like `~/.npm` (no \
             `..`), found the text `~/../etc`"
                .into(),
        ),
        (
            "cache: [/var/cache]".into(),
            "cache",
            "each `cache` entry must be a directory in the session's home like `~/.npm` (no \
             `..`), found the text `/var/cache`"
                .into(),
        ),
        (
            "setup: [npm ci, 3]".into(),
            "setup",
            "`setup` entry 2 must be a command, found `3`".into(),
        ),
        (
            "egress: [evil.crates.io.evil.com]".into(),
            "egress",
            not_allowed("evil.crates.io.evil.com"),
        ),
        (
            "egress: ['*.rust-lang.org']".into(),
            "egress",
            not_allowed("*.rust-lang.org"),
        ),
        (
            "egress: [npmjs.org]".into(),
            "egress",
            not_allowed("npmjs.org"),
        ),
        (
            "egress: ['crates.io:443']".into(),
            "egress",
            not_allowed("crates.io:443"),
        ),
        (
            "egress: ['crates.io:0']".into(),
            "egress",
            host("the text `crates.io:0`"),
        ),
        (
            "egress: ['https://crates.io']".into(),
            "egress",
            host("the text `https://crates.io`"),
        ),
        ("egress: ['*']".into(), "egress", host("the text `*`")),
        ("egress: ['a..b']".into(), "egress", host("the text `a..b`")),
        (
            "egress: ['-a.com']".into(),
            "egress",
            host("the text `-a.com`"),
        ),
        ("egress: [1]".into(), "egress", host("`1`")),
        (
            format!("egress:\n{}", "- crates.io\n".repeat(51)),
            "egress",
            "`egress` has 51 entries, above the limit of 50".into(),
        ),
    ];
    for (text, key, want) in cases {
        let err = RepoConfig::parse(&text, &caps()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(".github/agen.yml: {want}"),
            "{text}"
        );
        assert_eq!(err.key.as_deref(), Some(key), "{text}");
    }
}

fn rounds(found: &str) -> String {
    format!("`max_rounds` must be a whole number of at least 1, found {found}")
}
fn entry(n: usize, found: &str) -> String {
    format!("`pipeline` entry {n} must be a command, found {found}")
}
fn label(found: &str) -> String {
    format!("`trigger_label` must be a label name of 1 to 50 characters, found {found}")
}
fn host(found: &str) -> String {
    format!("each `egress` entry must be a host name like `crates.io`, `*.example.com` or `example.com:8443`, found {found}")
}
fn not_allowed(host: &str) -> String {
    format!(
        "`egress` host `{host}` is not in this server's allowlist; remove it or ask the \
         server's operator to allow it"
    )
}

#[test]
fn file_level_mistakes_have_no_key() {
    let cases = [
        (
            "- a\n- b".to_string(),
            "expected keys such as `max_rounds: 3`, found a list",
        ),
        (
            "just text".into(),
            "expected keys such as `max_rounds: 3`, found the text `just text`",
        ),
        (
            "#".repeat(64 * 1024 + 1),
            "the file is 65537 bytes, above the limit of 65536 bytes; shorten it",
        ),
        (
            "max_rounds: [1\n".into(),
            "invalid YAML at line 2, column 1: did not find expected ',' or ']', while parsing \
             a flow sequence at line 1 column 13",
        ),
        (
            "max_rounds: 1\nmax_rounds: 2\n".into(),
            "invalid YAML at line 1, column 1: key `max_rounds` appears twice",
        ),
        (
            "budget:\n  job_minutes: 1\n  job_minutes: 2\n".into(),
            "invalid YAML at line 2, column 3: budget: key `job_minutes` appears twice",
        ),
        (
            "a: 1\n---\nb: 2\n".into(),
            "invalid YAML: the file holds more than one document (`---`); keep one",
        ),
        (
            "\tmax_rounds: 1".into(),
            "invalid YAML at line 1, column 1: found character that cannot start any token, \
             while scanning for the next token",
        ),
        (
            "trigger_label: 'unterminated".into(),
            "invalid YAML at line 1, column 29: found unexpected end of stream, while scanning \
             a quoted scalar at line 1 column 16",
        ),
        (
            "max_rounds: &x [*x]".into(),
            "invalid YAML at line 1, column 13: recursion limit exceeded",
        ),
    ];
    for (text, want) in cases {
        let err = RepoConfig::parse(&text, &caps()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(".github/agen.yml: {want}"),
            "{text}"
        );
        assert_eq!(err.key, None);
    }
}

#[test]
fn quoted_values_stay_inert_markdown() {
    let err = RepoConfig::parse("\"@octocat `x`\": 1", &caps()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(".github/agen.yml: unknown key `` @octocat `x` ``"),
        "{err}"
    );
}

#[test]
fn budget_money_and_cpu_within_the_servers_caps() {
    let config =
        RepoConfig::parse("budget:\n  job_usd: 2.5\n  cpu_minutes: 10\n", &caps()).unwrap();
    assert_eq!(config.job_usd, MicroUsd(2_500_000));
    assert_eq!(config.cpu_minutes, 10);
    let err = RepoConfig::parse("budget:\n  job_usd: 7\n", &caps()).unwrap_err();
    assert_eq!(
        err.to_string(),
        ".github/agen.yml: `budget.job_usd` is $7.00, above this server's limit of $5.00 \
         (AGEN_JOB_MAX_USD); set it to 5 or less"
    );
    let err = RepoConfig::parse("budget:\n  job_usd: free\n", &caps()).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("budget.job_usd"));
    let err = RepoConfig::parse("budget:\n  cpu_minutes: 61\n", &caps()).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("budget.cpu_minutes"));
}

fn with_agents() -> ServerCaps {
    use crate::config::{Agent, AgentKind, Agents, Preset};
    ServerCaps {
        agents: Agents {
            agents: vec![
                Agent {
                    name: "claude".into(),
                    kind: AgentKind::Preset(Preset::ClaudeCode),
                    env: vec![],
                    models: vec!["claude-sonnet-4-5".into(), "claude-haiku-4-5".into()],
                    monthly: None,
                },
                Agent {
                    name: "script".into(),
                    kind: AgentKind::Command("./go.sh".into()),
                    env: vec![],
                    models: vec![],
                    monthly: None,
                },
            ],
            default: Some("claude".into()),
        },
        ..caps()
    }
}

#[test]
fn agent_and_model_are_picked_among_the_servers() {
    let c = RepoConfig::parse("agent: claude\nmodel: claude-haiku-4-5\n", &with_agents()).unwrap();
    assert_eq!(
        (c.agent.as_deref(), c.model.as_deref()),
        (Some("claude"), Some("claude-haiku-4-5"))
    );
    // The model is checked against the server's default agent when `agent` is not set.
    let c = RepoConfig::parse("model: claude-sonnet-4-5\n", &with_agents()).unwrap();
    assert_eq!(c.model.as_deref(), Some("claude-sonnet-4-5"));
    for (text, key, problem) in [
        (
            "agent: codex\n",
            "agent",
            "`agent` is `codex`, which this server does not offer (this server's agents: claude, script)",
        ),
        (
            "model: gpt-5\n",
            "model",
            "`model` is `gpt-5`, which the agent `claude` does not offer (its models: claude-sonnet-4-5, claude-haiku-4-5)",
        ),
        (
            "model: claude-sonnet-4-5\nagent: script\n",
            "model",
            "`model` is `claude-sonnet-4-5`, but the agent `script` names no models to pick from; remove `model`",
        ),
        ("agent: [a]\n", "agent", "`agent` must be the name of one of the server's agents, found a list"),
    ] {
        let err = RepoConfig::parse(text, &with_agents()).unwrap_err();
        assert_eq!(err.key.as_deref(), Some(key), "{text}");
        assert_eq!(err.problem, problem, "{text}");
    }
    let err = RepoConfig::parse("agent: claude\n", &caps()).unwrap_err();
    assert_eq!(
        err.problem,
        "`agent` is `claude`, which this server does not offer (this server has no agents)"
    );
}

#[test]
fn the_servers_caps_come_from_its_configuration() {
    let toml = "AGEN_MAX_ROUNDS = 3\nAGEN_JOB_MINUTES = 2.5\nAGEN_EGRESS_ALLOW = \"crates.io\"\n\
                AGEN_TRIGGER_LABEL = \"bot\"\n[agents.x]\ncommand = \"true\"\n";
    let pairs = [
        ("APP_ID", "42"),
        (
            "PRIVATE_KEY",
            include_str!("../../fixtures/demo-app-key.pem"),
        ),
        ("WEBHOOK_SECRET", "s"),
    ];
    let config = Config::load(&crate::config::Source::from_toml(toml, pairs).unwrap()).unwrap();
    let caps = ServerCaps::of(&config);
    assert_eq!(caps.max_rounds, 3);
    assert_eq!(caps.job_minutes, 3, "whole minutes, rounded up");
    assert_eq!(caps.egress_allow, ["crates.io"]);
    assert_eq!(caps.trigger_label, "bot");
    assert_eq!(caps.agents, config.jobs.agents);
    assert_eq!(caps.agents.names(), ["x"]);
}
