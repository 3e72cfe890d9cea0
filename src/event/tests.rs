use super::*;

#[test]
fn unknown_events_and_actions_are_ignored_not_errors() {
    let e = Event::parse("issues", br#"{"action":"teleported"}"#);
    assert_eq!(
        e,
        Event::Ignored {
            reason: "agen does not act on issues.teleported".into()
        }
    );
    let e = Event::parse("star", br#"{"action":"created"}"#);
    assert!(matches!(e, Event::Ignored { .. }));
}

#[test]
fn acted_on_event_without_installation_is_ignored() {
    let body = br#"{"action":"created","issue":{"number":1},"comment":{"id":2,"body":"/agen","user":{"login":"a"}},"repository":{"id":3,"full_name":"o/r"},"sender":{"login":"a","type":"User"}}"#;
    assert!(matches!(
        Event::parse("issue_comment", body),
        Event::Ignored { .. }
    ));
}

#[test]
fn missing_required_field_is_reported_as_unreadable() {
    let body = br#"{"action":"created","installation":{"id":1},"repository":{"id":3,"full_name":"o/r"},"sender":{"login":"a"}}"#;
    match Event::parse("issue_comment", body) {
        Event::Ignored { reason } => assert!(
            reason.starts_with("unreadable issue_comment.created"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bots_are_recognised_by_type_or_login() {
    let bot = |login: &str, kind: &str| User {
        login: Login(login.into()),
        id: None,
        kind: kind.into(),
    };
    assert!(bot("agen[bot]", "Bot").is_bot());
    assert!(bot("renovate[bot]", "").is_bot());
    assert!(bot("someone", "Bot").is_bot());
    assert!(!bot("octocat", "User").is_bot());
}
