use super::*;

#[test]
fn agen_branch_accepts_only_agen_ref_names() {
    for ok in [
        "agen/x",
        "agen/issue-12-fix-the-bug",
        "agen/a/b.c_d-2",
        "agen/v1.2",
    ] {
        assert_eq!(AgenBranch::new(ok).unwrap().as_str(), ok);
    }
    for bad in [
        "main",
        "refs/heads/main",
        "refs/heads/agen/x",
        "agen/../main",
        "agen/",
        "agen",
        "agen//x",
        "agen/x/",
        "agen/x.lock",
        "agen/.x",
        "agen/x.",
        "agen/X",
        "agen/a b",
        "agen/a:b",
        "agen/+x",
        "agen/x*",
        "agen/@{x}",
        "agen/a~1",
        "agen/é",
        "Agen/x",
        "-agen/x",
        "agen/a\\b",
    ] {
        assert!(AgenBranch::new(bad).is_err(), "{bad:?} accepted");
    }
    assert!(AgenBranch::new(&format!("agen/{}", "a".repeat(MAX_LEN))).is_err());
    assert_eq!(
        AgenBranch::new("agen/x").unwrap().refname(),
        "refs/heads/agen/x"
    );
}

#[test]
fn branch_for_issue_slugs_the_title() {
    let cases = [
        (7, "Fix the bug", "agen/issue-7-fix-the-bug"),
        (
            7,
            "  --Crash: on `ünïcode` input!! ",
            "agen/issue-7-crash-on-n-code-input",
        ),
        (8, "", "agen/issue-8"),
        (8, "!!!", "agen/issue-8"),
        (9, "Release v2.0 / docs", "agen/issue-9-release-v2-0-docs"),
        (
            1,
            "a very long title that goes on and on beyond forty characters",
            "agen/issue-1-a-very-long-title-that-goes-on-and-on-be",
        ),
        (
            2,
            "abcdefghij abcdefghij abcdefghij abcdef xyz",
            "agen/issue-2-abcdefghij-abcdefghij-abcdefghij-abcdef",
        ),
    ];
    for (n, title, want) in cases {
        assert_eq!(branch_for_issue(n, title, &[]).as_str(), want, "{title:?}");
    }
}

#[test]
fn branch_for_issue_never_reuses_a_taken_name() {
    let t = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let b = |taken: &[&str]| branch_for_issue(5, "Fix", &t(taken)).as_str().to_string();
    assert_eq!(b(&[]), "agen/issue-5-fix");
    assert_eq!(b(&["agen/issue-5-fix"]), "agen/issue-5-fix-2");
    assert_eq!(b(&["refs/heads/agen/issue-5-fix"]), "agen/issue-5-fix-2");
    assert_eq!(
        b(&["agen/issue-5-fix", "agen/issue-5-fix-2"]),
        "agen/issue-5-fix-3"
    );
    // A gap (deleted -2) is not filled.
    assert_eq!(
        b(&["agen/issue-5-fix", "agen/issue-5-fix-3"]),
        "agen/issue-5-fix-4"
    );
    // Other issues and other titles do not count.
    assert_eq!(
        b(&[
            "agen/issue-55-fix",
            "agen/issue-5-fixed",
            "agen/issue-5-fix-x",
            "agen/issue-5-fix-1"
        ]),
        "agen/issue-5-fix"
    );
    assert_eq!(b(&["agen/issue-5-fix-2"]), "agen/issue-5-fix-3");
}
