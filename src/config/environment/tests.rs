use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<SessionEnvironment, ConfigError> {
    SessionEnvironment::load(&Source::from_pairs(pairs.iter().copied()))
}

#[test]
fn mounts_path_and_env_are_read() {
    // Not under /tmp or /work, where sessions have their own.
    let shown = Path::new("/usr/lib").canonicalize().unwrap();
    let mounts = shown.to_str().unwrap();
    let env = load(&[
        ("AGEN_DATA_DIR", "/nonexistent/agen-data"),
        ("AGEN_SANDBOX_MOUNTS", &format!("{mounts}, {mounts}")),
        ("AGEN_SANDBOX_PATH", "/opt/tool/bin, /root/.cargo/bin"),
        (
            "AGEN_SANDBOX_ENV",
            r"RUSTUP_HOME=/root/.rustup, FLAGS=a\,b=c , X=",
        ),
    ])
    .unwrap();
    assert_eq!(env.mounts, [shown]);
    assert_eq!(
        env.session_path("/usr/bin"),
        "/opt/tool/bin:/root/.cargo/bin:/usr/bin"
    );
    assert_eq!(
        env.env,
        [
            ("RUSTUP_HOME".into(), "/root/.rustup".into()),
            ("FLAGS".into(), "a,b=c".into()),
            ("X".into(), String::new()),
        ]
    );
    assert_eq!(load(&[]).unwrap(), SessionEnvironment::default());
}

#[test]
fn bad_mounts_are_one_line_errors() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    std::fs::create_dir(data.path().join("sub")).unwrap();
    let sub = format!("{data_dir}/sub");
    let parent = data.path().parent().unwrap().to_str().unwrap().to_string();
    for (mounts, says) in [
        (data_dir, "agen's data"),
        (sub.as_str(), "agen's data"),
        (parent.as_str(), "agen's data"),
        ("relative/dir", "not an absolute path"),
        ("/nonexistent/toolchain", "not a directory"),
        ("/etc/hostname", "not a directory"),
        ("/proc", "their own"),
        ("/", "agen's data"),
    ] {
        let e = load(&[("AGEN_DATA_DIR", data_dir), ("AGEN_SANDBOX_MOUNTS", mounts)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config: AGEN_SANDBOX_MOUNTS names"),
            "{mounts}: {e}"
        );
        assert!(e.contains(says) && !e.contains('\n'), "{mounts}: {e}");
    }
}

#[test]
fn env_may_not_set_what_agen_sets() {
    for entry in [
        "HTTPS_PROXY=x",
        "ANTHROPIC_BASE_URL=x",
        "AGEN_ROUND=1",
        "OPENAI_API_KEY=x",
        "PATH=/bin",
        "HOME=/",
    ] {
        let e = load(&[("AGEN_SANDBOX_ENV", entry)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("which agen sets itself"), "{entry}: {e}");
    }
    for entry in ["NOVALUE", "1X=y", "A B=c"] {
        let e = load(&[("AGEN_SANDBOX_ENV", entry)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not NAME=value"), "{entry}: {e}");
    }
    let e = load(&[("AGEN_SANDBOX_PATH", "bin")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("AGEN_SANDBOX_PATH names bin"), "{e}");
}
