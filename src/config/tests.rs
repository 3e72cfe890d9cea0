//! Configuration: defaults, and one clear line for each bad setting.
use super::*;
use crate::budget::MicroUsd;

const KEY: &str = include_str!("../../fixtures/demo-app-key.pem");

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("APP_ID", "42"),
        ("PRIVATE_KEY", KEY),
        ("WEBHOOK_SECRET", "new, old"),
    ]
}

fn load(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    let mut pairs = base();
    pairs.extend_from_slice(extra);
    Config::load(&Source::from_pairs(pairs))
}

#[test]
fn sandbox_settings_come_from_the_environment_alone() {
    let src = Source::from_pairs([
        ("AGEN_DATA_DIR", "/var/lib/agen"),
        ("DATABASE_URL", "sqlite:///var/lib/agen/agen.db?mode=rwc"),
        ("PRIVATE_KEY_PATH", "/etc/agen/key.pem"),
        ("AGEN_EGRESS_ALLOW", " crates.io, *.GitHub.com ,,"),
    ]);
    assert_eq!(
        src.sandbox_hidden_paths(),
        [
            "/var/lib/agen",
            "/var/lib/agen/agen.db",
            "/etc/agen/key.pem"
        ]
        .map(PathBuf::from)
    );
    assert_eq!(src.egress_allow(), ["crates.io", "*.github.com"]);
    assert!(Source::from_pairs([]).egress_allow().is_empty());
}

#[test]
fn private_egress_ranges_are_explicit_cidrs() {
    let src = Source::from_pairs([("AGEN_EGRESS_ALLOW_PRIVATE", " 10.1.2.0/24, fd00::/8 ,,")]);
    let ranges: Vec<String> = src
        .egress_allow_private()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(ranges, ["10.1.2.0/24", "fd00::/8"]);
    assert!(Source::from_pairs([])
        .egress_allow_private()
        .unwrap()
        .is_empty());
    let bad = Source::from_pairs([("AGEN_EGRESS_ALLOW_PRIVATE", "10.0.0.0/33")]);
    let e = bad.egress_allow_private().unwrap_err();
    assert!(e.to_string().contains("AGEN_EGRESS_ALLOW_PRIVATE"), "{e}");
}

#[test]
fn defaults_apply() {
    let c = load(&[]).unwrap();
    assert_eq!(c.app.app_id, 42);
    assert_eq!(c.webhook_secrets.0, vec![b"new".to_vec(), b"old".to_vec()]);
    assert_eq!(c.github_api_url, "https://api.github.com");
    assert_eq!(c.database_url, "sqlite://agen.db");
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(c.public_url, "http://127.0.0.1:3000");
    assert_eq!(c.webhook_max_bytes, 26 * 1024 * 1024);
    assert_eq!(c.min_permission, Permission::Write);
    assert_eq!(c.trigger_label, "agen");
    assert_eq!(c.jobs.agents, Agents::default());
    assert_eq!(c.jobs.max_rounds, 5);
    assert_eq!(c.jobs.job_time, std::time::Duration::from_secs(30 * 60));
    assert_eq!(c.jobs.lease, std::time::Duration::from_secs(60));
    assert_eq!(c.jobs.max_file_bytes, 5 << 20);
    assert!(c.jobs.workers >= 1);
    assert_eq!(c.serve.head_timeout, std::time::Duration::from_secs(10));
    assert_eq!(c.serve.body_timeout, std::time::Duration::from_secs(10));
    assert_eq!(c.serve.max_connections, 1024);
}

#[test]
fn each_bad_setting_is_named() {
    let cases: &[(&[(&'static str, &'static str)], &str)] = &[
        (&[("APP_ID", "abc")], "APP_ID"),
        (&[("PRIVATE_KEY", "not a key")], "PRIVATE_KEY"),
        (&[("WEBHOOK_SECRET", " , ")], "WEBHOOK_SECRET"),
        (&[("AGEN_LISTEN", "localhost")], "AGEN_LISTEN"),
        (&[("GITHUB_API_URL", "api.github.com")], "GITHUB_API_URL"),
        (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
        (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (&[("AGEN_MAX_CONNECTIONS", "0")], "AGEN_MAX_CONNECTIONS"),
        (
            &[("AGEN_HEAD_TIMEOUT_SECONDS", "0")],
            "AGEN_HEAD_TIMEOUT_SECONDS",
        ),
        (
            &[("AGEN_BODY_TIMEOUT_SECONDS", "soon")],
            "AGEN_BODY_TIMEOUT_SECONDS",
        ),
        (
            &[("AGEN_WEBHOOK_MAX_BYTES", "12")],
            "AGEN_WEBHOOK_MAX_BYTES",
        ),
        (&[("AGEN_MIN_PERMISSION", "read")], "AGEN_MIN_PERMISSION"),
        (&[("AGEN_WORKERS", "300")], "AGEN_WORKERS"),
        (&[("AGEN_MAX_ROUNDS", "many")], "AGEN_MAX_ROUNDS"),
        (&[("AGEN_JOB_MINUTES", "-5")], "AGEN_JOB_MINUTES"),
        (&[("AGEN_JOB_MINUTES", "soon")], "AGEN_JOB_MINUTES"),
        (&[("AGEN_JOB_LEASE_SECONDS", "0")], "AGEN_JOB_LEASE_SECONDS"),
        (
            &[("AGEN_MAX_FILE_BYTES", "999999999999")],
            "AGEN_MAX_FILE_BYTES",
        ),
    ];
    for (extra, key) in cases {
        let e = load(extra).unwrap_err();
        assert_eq!(e.key, *key);
        let line = e.to_string();
        assert!(line.starts_with(&format!("config: {key} ")), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }
}

#[test]
fn missing_required_settings_are_named() {
    for key in ["APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"] {
        let pairs: Vec<_> = base().into_iter().filter(|(k, _)| *k != key).collect();
        let e = Config::load(&Source::from_pairs(pairs)).unwrap_err();
        assert_eq!(e.key, key);
        assert!(e.to_string().contains("is missing"));
    }
}

#[test]
fn escaped_newlines_in_private_key_are_accepted() {
    let escaped = KEY.replace('\n', "\\n");
    let pairs = vec![
        ("APP_ID", "1"),
        ("PRIVATE_KEY", escaped.as_str()),
        ("WEBHOOK_SECRET", "s"),
    ];
    assert!(Config::load(&Source::from_pairs(pairs)).is_ok());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let c = load(&[]).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("new") && !shown.contains("old"), "{shown}");
    assert!(!shown.contains("PRIVATE KEY"));
}

#[test]
fn providers_budgets_and_prices_come_from_the_environment_and_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agen.toml");
    std::fs::write(
        &path,
        "ANTHROPIC_API_KEY = \"sk-ant-secret\"\nAGEN_JOB_MAX_USD = 2.5\n\
         AGEN_REPO_MONTHLY_USD = 40\n[prices.\"my-model\"]\ninput = 1\noutput = 2\n",
    )
    .unwrap();
    let file = read_toml(path.to_str().unwrap()).unwrap();
    let config = Config::load(&file_under_base(file)).unwrap();
    let models = &config.models;
    let anthropic = models.anthropic.as_ref().unwrap();
    assert_eq!(anthropic.base_url, "https://api.anthropic.com");
    assert!(models.openai.is_none(), "no key, no provider");
    assert_eq!(models.job_max, crate::budget::MicroUsd(2_500_000));
    assert_eq!(
        models.repo_monthly,
        Some(crate::budget::MicroUsd(40_000_000))
    );
    assert_eq!(models.installation_monthly, None);
    assert_eq!(models.prices.get("my-model").unwrap().output, 2.0);
    assert!(
        models.prices.get("claude-sonnet-4-5").is_some(),
        "built-in prices stay"
    );
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("sk-ant-secret"),
        "a key in Debug output: {shown}"
    );

    let defaults = load(&[]).unwrap();
    assert_eq!(defaults.models.job_max, crate::budget::MicroUsd(5_000_000));
    assert_eq!(defaults.jobs.job_cpu, std::time::Duration::from_secs(3600));
}

#[test]
fn bad_budget_and_price_settings_say_which_and_how() {
    for (pairs, message) in [
        (
            vec![("AGEN_JOB_MAX_USD", "five")],
            "config: AGEN_JOB_MAX_USD must be an amount of US dollars, such as 5 or 0.50",
        ),
        (
            vec![
                ("OPENAI_API_KEY", "k"),
                ("OPENAI_BASE_URL", "api.openai.com"),
            ],
            "config: OPENAI_BASE_URL must be an http:// or https:// URL",
        ),
        (
            vec![("AGEN_JOB_CPU_MINUTES", "0")],
            "config: AGEN_JOB_CPU_MINUTES must be a number of minutes above 0 and at most 1440",
        ),
    ] {
        assert_eq!(load(&pairs).unwrap_err().to_string(), message);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agen.toml");
    std::fs::write(&path, "prices = 3\n").unwrap();
    let Err(err) = read_toml(path.to_str().unwrap()) else {
        panic!("prices = 3 is read")
    };
    let err = err.to_string();
    assert!(
        err.contains("[prices]") && err.contains("must be a table of models"),
        "{err}"
    );
    std::fs::write(&path, "[prices.m]\noutput = 1\n").unwrap();
    let file = read_toml(path.to_str().unwrap()).unwrap();
    let err = Config::load(&file_under_base(file)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config: AGEN_CONFIG prices.\"m\": input is missing"
    );
}

/// What `Source::from_env` makes of a config file, with the base settings in the environment.
fn file_under_base(file: FileValues) -> Source {
    let mut values = file.values;
    values.extend(
        base()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Source {
        values,
        prices: file.prices,
        agents: file.agents,
    }
}

fn agents_from(toml: &str, extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
    let mut pairs = base();
    pairs.extend_from_slice(extra);
    Config::load(&Source::from_toml(toml, pairs)?)
}

#[test]
fn named_agents_come_from_the_config_file() {
    let c = agents_from(
        "default_agent = \"claude\"\n\
         [agents.claude]\npreset = \"claude-code\"\n\
         models = [\"claude-sonnet-4-5\", \"claude-haiku-4-5\"]\n\
         env = { BASH_DEFAULT_TIMEOUT_MS = \"300000\" }\nmonthly_usd = 12.5\n\
         [agents.script]\ncommand = \"./agent.sh\"\n[agents.aider]\npreset = \"aider\"\n\
         monthly_usd = 200\n",
        &[],
    )
    .unwrap();
    let agents = &c.jobs.agents;
    assert_eq!(agents.default.as_deref(), Some("claude"));
    assert_eq!(agents.names(), ["aider", "claude", "script"]);
    let claude = agents.pick(None).unwrap();
    assert_eq!(claude.kind, AgentKind::Preset(Preset::ClaudeCode));
    assert_eq!(claude.models, ["claude-sonnet-4-5", "claude-haiku-4-5"]);
    assert_eq!(claude.monthly, Some(MicroUsd::from_usd(12.5)));
    let aider = agents.get("aider").unwrap();
    assert_eq!(aider.kind, AgentKind::Preset(Preset::Aider));
    assert_eq!(aider.monthly, Some(MicroUsd::from_usd(200.0)));
    assert_eq!(agents.get("script").unwrap().monthly, None);
    assert_eq!(
        claude.env,
        [("BASH_DEFAULT_TIMEOUT_MS".to_string(), "300000".to_string())]
    );
    assert_eq!(
        agents.get("script").unwrap().kind,
        AgentKind::Command("./agent.sh".into())
    );

    // One agent is the default by itself; AGEN_AGENT_COMMAND is the one agent `default`.
    let c = agents_from("[agents.x]\ncommand = \"true\"\n", &[]).unwrap();
    assert_eq!(c.jobs.agents.default.as_deref(), Some("x"));
    let c = load(&[("AGEN_AGENT_COMMAND", "./go.sh")]).unwrap();
    let only = c.jobs.agents.pick(None).unwrap();
    assert_eq!(
        (only.name.as_str(), &only.kind),
        ("default", &AgentKind::Command("./go.sh".into()))
    );
}

#[test]
fn each_bad_agent_setting_is_named() {
    for (toml, extra, message) in [
        (
            "[agents.a]\npreset = \"cursor\"\n",
            &[][..],
            "config: agents.a.preset is cursor, which agen does not know (known presets: claude-code, codex, aider)",
        ),
        (
            "[agents.a]\npreset = \"claude-code\"\nenv = { ANTHROPIC_BASE_URL = \"http://x\" }\n",
            &[],
            "config: agents.a.env sets ANTHROPIC_BASE_URL, which agen sets itself for every session (the model gateway's and agen's variables, *_API_KEY); remove it",
        ),
        (
            "[agents.a]\ncommand = \"x\"\nenv = { MY_API_KEY = \"k\" }\n",
            &[],
            "config: agents.a.env sets MY_API_KEY, which agen sets itself for every session (the model gateway's and agen's variables, *_API_KEY); remove it",
        ),
        (
            "[agents.a]\ncommand = \"x\"\nmodels = []\n",
            &[],
            "config: agents.a.models must be a non-empty list of model names, like [\"claude-sonnet-4-5\"]",
        ),
        (
            "[agents.a]\nmodels = [\"m\"]\n",
            &[],
            "config: agents.a needs preset = \"claude-code\" | \"codex\" | \"aider\" or command = \"...\"",
        ),
        (
            "[agents.a]\ncommand = \"x\"\npreset = \"claude-code\"\n",
            &[],
            "config: agents.a sets both preset and command; keep one",
        ),
        (
            "[agents.a]\ncommand = \"x\"\nmodel = \"m\"\n",
            &[],
            "config: agents.a.model is not a known key (known: preset, command, env, models, monthly_usd)",
        ),
        (
            "[agents.a]\ncommand = \"x\"\nmonthly_usd = \"lots\"\n",
            &[],
            "config: agents.a.monthly_usd must be an amount of US dollars, such as 200 or 12.50",
        ),
        (
            "[agents.a]\ncommand = \"x\"\nmonthly_usd = -1\n",
            &[],
            "config: agents.a.monthly_usd must be an amount of US dollars, such as 200 or 12.50",
        ),
        (
            "[agents.a]\ncommand = \"x\"\n[agents.b]\ncommand = \"y\"\n",
            &[],
            "config: default_agent is missing: with several [agents] tables, name the one repositories get when they pick none",
        ),
        (
            "default_agent = \"c\"\n[agents.a]\ncommand = \"x\"\n",
            &[],
            "config: default_agent names c, which is not an agent in AGEN_CONFIG (its agents: a)",
        ),
        (
            "default_agent = \"c\"\n",
            &[],
            "config: default_agent names c, but AGEN_CONFIG has no [agents.c] table",
        ),
        (
            "[agents.a]\ncommand = \"x\"\n",
            &[("AGEN_AGENT_COMMAND", "y")],
            "config: AGEN_AGENT_COMMAND cannot be set beside [agents] tables in AGEN_CONFIG; make it an agent there (`[agents.NAME]` with `command = \"...\"`)",
        ),
        (
            "agents = 3\n",
            &[],
            "config: agents in the config must be a table of agents, like [agents.claude]",
        ),
    ] {
        assert_eq!(
            agents_from(toml, extra).unwrap_err().to_string(),
            message,
            "{toml}"
        );
    }
}

#[test]
fn image_registries_and_the_default_image() {
    let c = load(&[]).unwrap();
    assert!(c.jobs.image_registries.is_empty());
    assert_eq!(c.jobs.default_image, None);
    let c = load(&[
        ("AGEN_IMAGE_REGISTRIES", "ghcr.io, 127.0.0.1:5000"),
        ("AGEN_DEFAULT_IMAGE", "ghcr.io/org/toolchain:1"),
    ])
    .unwrap();
    assert!(c.jobs.image_registries.allows("127.0.0.1:5000"));
    assert_eq!(
        c.jobs.default_image.as_deref(),
        Some("ghcr.io/org/toolchain:1")
    );
    let e = load(&[("AGEN_DEFAULT_IMAGE", "ghcr.io/org/toolchain:1")]).unwrap_err();
    assert_eq!(e.key, "AGEN_DEFAULT_IMAGE");
    assert!(
        e.to_string()
            .contains("the registry ghcr.io, which this agen server does not pull from"),
        "{e}"
    );
    let e = load(&[("AGEN_IMAGE_REGISTRIES", "https://ghcr.io")]).unwrap_err();
    assert_eq!(e.key, "AGEN_IMAGE_REGISTRIES");
}
