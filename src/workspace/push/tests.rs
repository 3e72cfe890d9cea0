use super::*;

#[test]
fn destination_guard_refuses_everything_outside_refs_heads_agen() {
    for bad in [
        "refs/heads/main",
        "main",
        "agen/x",
        "refs/heads/agen",
        "refs/heads/agen/",
        "refs/tags/agen/x",
        "refs/heads/agen/../main",
        "+refs/heads/agen/x",
        "refs/heads/agenx/y",
        "refs/heads/agen/x:refs/heads/main",
    ] {
        assert!(
            matches!(check_destination(bad), Err(WorkspaceError::Refused(_))),
            "{bad:?} allowed"
        );
    }
    check_destination("refs/heads/agen/issue-1-x").unwrap();
}
