use super::*;

fn agents() -> Agents {
    Agents {
        agents: vec![
            Agent {
                name: "claude".into(),
                kind: AgentKind::Preset(Preset::ClaudeCode),
                env: vec![("BASH_DEFAULT_TIMEOUT_MS".into(), "1000".into())],
                models: vec!["claude-sonnet-4-5".into(), "claude-haiku-4-5".into()],
                monthly: None,
            },
            Agent {
                name: "script".into(),
                kind: AgentKind::Command("./go.sh".into()),
                env: Vec::new(),
                models: Vec::new(),
                monthly: None,
            },
        ],
        default: Some("script".into()),
    }
}

#[test]
fn the_default_agent_runs_its_command_as_it_is() {
    let run = resolve(&agents(), None, None).unwrap();
    assert_eq!(run.command, "./go.sh");
    assert!(run.env.is_empty());
    assert_eq!(run.needs, None);
    assert_eq!(run.events, None);
    assert_eq!(resolve(&Agents::default(), None, None), None);
}

#[test]
fn claude_code_runs_headless_on_the_picked_model() {
    let run = resolve(&agents(), Some("claude"), None).unwrap();
    assert!(run
        .command
        .starts_with("claude -p \"$(cat \"$AGEN_TASK_FILE\")\""));
    assert!(run.command.ends_with("--model \"$AGEN_MODEL\""));
    assert_eq!(run.events, Some(EventFormat::ClaudeCodeStreamJson));
    let env = |k: &str| {
        run.env
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(env("AGEN_MODEL"), Some("claude-sonnet-4-5"));
    assert_eq!(
        env("ANTHROPIC_DEFAULT_HAIKU_MODEL"),
        Some("claude-haiku-4-5")
    );
    assert_eq!(env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"), Some("1"));
    assert_eq!(env("BASH_DEFAULT_TIMEOUT_MS"), Some("1000"));
    let run = resolve(&agents(), Some("claude"), Some("claude-haiku-4-5")).unwrap();
    assert!(run
        .env
        .contains(&("AGEN_MODEL".into(), "claude-haiku-4-5".into())));
}

#[test]
fn codex_runs_exec_against_the_gateway() {
    let mut agents = agents();
    agents.agents.push(Agent {
        name: "codex".into(),
        kind: AgentKind::Preset(Preset::Codex),
        env: Vec::new(),
        models: vec!["gpt-5-codex".into()],
        monthly: None,
    });
    let run = resolve(&agents, Some("codex"), None).unwrap();
    assert_eq!(run.needs, Some(Preset::Codex));
    assert!(run.command.contains("codex exec --json"), "{}", run.command);
    assert!(run
        .command
        .contains("--dangerously-bypass-approvals-and-sandbox -m \"$AGEN_MODEL\" -- "));
    assert!(run.command.contains(r#""base_url = \"$OPENAI_BASE_URL\"""#));
    assert!(run
        .env
        .contains(&("AGEN_MODEL".into(), "gpt-5-codex".into())));
    // The config file the session writes is the one Codex reads, its lines intact.
    let dir = tempfile::tempdir().unwrap();
    let script = run.command.split(" && codex exec").next().unwrap();
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("{script} && cat \"$CODEX_HOME/config.toml\""),
        ])
        .env("HOME", dir.path())
        .env_remove("CODEX_HOME")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:3129/v1")
        .output()
        .unwrap();
    let written = String::from_utf8(out.stdout).unwrap();
    assert!(
        written.starts_with("model_provider = \"agen\"\n")
            && written.contains("\nbase_url = \"http://127.0.0.1:3129/v1\"\n")
            && written
                .ends_with("\n[features]\nplugins = false\nremote_plugin = false\napps = false\n"),
        "{written}"
    );
    assert!(dir.path().join(".codex/config.toml").is_file());
    let line = missing_program(&run, "/nonexistent").unwrap();
    assert!(
        line.contains("`codex`") && line.contains("@openai/codex@"),
        "{line}"
    );
}

#[test]
fn programs_are_found_in_the_path() {
    assert!(find_program("sh", "/nonexistent:/bin:/usr/bin").is_some());
    assert_eq!(find_program("no-such-agen-program", "/bin:/usr/bin"), None);
    let run = resolve(&agents(), Some("claude"), None).unwrap();
    let line = missing_program(&run, "/nonexistent").unwrap();
    assert!(
        line.contains("`claude`") && line.contains("npm install -g"),
        "{line}"
    );
}

#[test]
fn a_commands_program_is_looked_for_only_when_it_is_a_plain_name() {
    let run = |command: &str| AgentRun {
        name: "mine".into(),
        command: command.into(),
        env: Vec::new(),
        needs: None,
        events: None,
    };
    let path = "/bin:/usr/bin";
    let line = missing_program(&run("no-such-agen-cli --go"), path).unwrap();
    assert_eq!(
        line,
        "the agent `mine` runs the program `no-such-agen-cli`, which is not installed on \
         this agen server (sessions see the host's /usr, /bin and AGEN_SANDBOX_MOUNTS); ask \
         its operator to install it or to fix the agent's `command` in AGEN_CONFIG"
    );
    for there in [
        "sh -c 'x'",
        "./run-agent.sh",
        "scripts/agent",
        "cd sub && ./go",
        "FOO=1 agent",
        "$AGENT",
        "printf 'Hello\\n' > greeting.txt",
        "true",
        "",
    ] {
        assert_eq!(missing_program(&run(there), path), None, "{there}");
    }
}
