//! Every real GitHub payload (octokit/webhooks examples in ../shared/github) reads without
//! error, and each kind agen acts on becomes the right typed event.

use std::path::{Path, PathBuf};

use agen::event::{Event, InstallationAction};
use serde_json::{json, Value};

fn shared_github() -> PathBuf {
    std::env::var_os("AGEN_SHARED_GITHUB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/github"))
}

/// (event folder, file name, body) of every example payload.
fn payloads() -> Vec<(String, String, Vec<u8>)> {
    let root = shared_github().join("webhook-payloads");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let dir = dir.unwrap().path();
        let event = dir.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            out.push((event.clone(), name, std::fs::read(&file).unwrap()));
        }
    }
    out.sort();
    out
}

/// App deliveries always carry `installation`; some upstream examples were captured from
/// repository webhooks and lack it.
fn as_app_delivery(body: &[u8]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    if v.get("installation").is_none() {
        v["installation"] = json!({ "id": 99, "node_id": "x" });
    }
    serde_json::to_vec(&v).unwrap()
}

fn kind(e: &Event) -> String {
    match e {
        Event::Installation(c) => format!("installation.{:?}", c.action),
        Event::InstallationRepositories(_) => "installation_repositories".into(),
        Event::IssueLabeled(_) => "issue_labeled".into(),
        Event::CommentCreated(_) => "comment_created".into(),
        Event::CheckRunRequested(c) => match c.action_identifier {
            Some(_) => "check_run_action".into(),
            None => "check_run_rerun".into(),
        },
        Event::Ignored { reason } => {
            assert!(!reason.starts_with("unreadable"), "{reason}");
            "ignored".into()
        }
    }
}

fn expected(event: &str, action: &str) -> &'static str {
    match (event, action) {
        ("installation", "created") => "installation.Created",
        ("installation", "deleted") => "installation.Deleted",
        ("installation", "suspend") => "installation.Suspend",
        ("installation", "unsuspend") => "installation.Unsuspend",
        ("installation", "new_permissions_accepted") => "installation.NewPermissionsAccepted",
        ("installation_repositories", _) => "installation_repositories",
        ("issues", "labeled") => "issue_labeled",
        ("issue_comment", "created") => "comment_created",
        ("check_run", "rerequested") => "check_run_rerun",
        ("check_run", "requested_action") => "check_run_action",
        _ => "ignored",
    }
}

#[test]
fn every_payload_becomes_the_right_event() {
    let all = payloads();
    assert!(all.len() >= 118, "found only {} payloads", all.len());
    for (event, file, body) in &all {
        let v: Value = serde_json::from_slice(body).unwrap();
        let action = v.get("action").and_then(Value::as_str).unwrap_or("");
        let got = kind(&Event::parse(event, &as_app_delivery(body)));
        assert_eq!(got, expected(event, action), "{event}/{file}");
    }
}

#[test]
fn acted_on_fields_are_read_from_real_payloads() {
    let dir = shared_github().join("webhook-payloads");
    let body =
        std::fs::read(dir.join("issue_comment/created.with-installation.payload.json")).unwrap();
    let raw: Value = serde_json::from_slice(&body).unwrap();
    let Event::CommentCreated(c) = Event::parse("issue_comment", &body) else {
        panic!("not a comment");
    };
    assert_eq!(c.comment.id.0, raw["comment"]["id"].as_u64().unwrap());
    assert_eq!(c.comment.body, raw["comment"]["body"].as_str().unwrap());
    assert_eq!(c.issue.number.0, raw["issue"]["number"].as_u64().unwrap());
    assert_eq!(
        c.origin.installation.0,
        raw["installation"]["id"].as_u64().unwrap()
    );
    assert_eq!(
        c.origin.repository.full_name.0,
        raw["repository"]["full_name"].as_str().unwrap()
    );
    assert_eq!(
        c.origin.sender.login.0,
        raw["sender"]["login"].as_str().unwrap()
    );

    let body = std::fs::read(dir.join("installation/suspend.payload.json")).unwrap();
    let Event::Installation(i) = Event::parse("installation", &body) else {
        panic!("not an installation event");
    };
    assert_eq!(i.action, InstallationAction::Suspend);
}

#[test]
fn payloads_without_installation_are_not_acted_on() {
    let dir = shared_github().join("webhook-payloads");
    let body = std::fs::read(dir.join("issues/labeled.payload.json")).unwrap();
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v.as_object_mut().unwrap().remove("installation");
    let e = Event::parse("issues", &serde_json::to_vec(&v).unwrap());
    assert!(matches!(e, Event::Ignored { .. }), "{e:?}");
}
