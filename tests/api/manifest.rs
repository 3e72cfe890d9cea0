//! The App manifest asks for exactly the least privilege agen needs.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    url: String,
    description: String,
    public: bool,
    hook_attributes: HookAttributes,
    redirect_url: String,
    default_events: Vec<String>,
    default_permissions: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HookAttributes {
    url: String,
    active: bool,
}

#[test]
fn manifest_is_least_privilege() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/app-manifest.yml")).unwrap();
    let m: Manifest = yaml_serde::from_str(&text).unwrap();
    assert_eq!(m.name, "agen");
    assert!(m.url.starts_with("https://"));
    assert!(!m.description.trim().is_empty());
    assert!(!m.public);
    assert!(m.hook_attributes.active);
    assert!(m.hook_attributes.url.ends_with("/webhook"));
    assert!(m.redirect_url.starts_with("https://"));
    let permissions: Vec<(&str, &str)> = m
        .default_permissions
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        permissions,
        vec![
            ("checks", "write"),
            ("contents", "write"),
            ("issues", "write"),
            ("metadata", "read"),
            ("pull_requests", "write"),
        ]
    );
    let mut events = m.default_events.clone();
    events.sort();
    assert_eq!(
        events,
        [
            "check_run",
            "issue_comment",
            "issues",
            "pull_request",
            "pull_request_review_comment"
        ]
    );
}
