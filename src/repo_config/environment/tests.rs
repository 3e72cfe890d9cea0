use super::*;

fn parse(yaml: &str) -> Result<Option<Environment>, RepoConfigError> {
    environment(&yaml_serde::from_str(yaml).unwrap())
}

#[test]
fn an_image_or_the_devcontainer() {
    assert_eq!(
        parse("{ image: 127.0.0.1:5000/test/busybox:1 }").unwrap(),
        Some(Environment::Image("127.0.0.1:5000/test/busybox:1".into()))
    );
    assert_eq!(
        parse("{ devcontainer: true }").unwrap(),
        Some(Environment::Devcontainer)
    );
    assert_eq!(parse("{ devcontainer: false }").unwrap(), None);
    for (yaml, problem) in [
        ("{ image: a, devcontainer: true }", "keep one"),
        (
            "{ image: 3 }",
            "`environment.image` must be an image reference",
        ),
        ("{ image: '' }", "must be an image reference"),
        ("{ devcontainer: yes please }", "`true` or `false`"),
        ("{ dockerfile: x }", "unknown key `environment.dockerfile`"),
        ("ghcr.io/x", "must be a mapping"),
    ] {
        let err = parse(yaml).unwrap_err().to_string();
        assert!(err.contains(problem), "{yaml}: {err}");
    }
}
