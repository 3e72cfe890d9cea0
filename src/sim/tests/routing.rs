//! Path matching: multi-segment parameters, percent-decoding, no partial matches.

use crate::sim::routes::find;

fn params(method: &str, path: &str) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    find(method, path).map(|m| (m.route.op, m.params))
}

#[test]
fn multi_segment_parameters_take_slashes() {
    let (op, p) = params("GET", "/repos/o/r/branches/agen/issue-1/protection").unwrap();
    assert_eq!(op, "repos/get-branch-protection");
    assert_eq!(p[2], ("branch", "agen/issue-1".to_string()));
    let (_, p) = params("GET", "/repos/o/r/rules/branches/a%2Fb").unwrap();
    assert_eq!(p[2], ("branch", "a/b".to_string()));
    let (op, p) = params("GET", "/repos/o/r/contents/.github/agen.yml").unwrap();
    assert_eq!(
        (op, p[2].1.as_str()),
        ("repos/get-content", ".github/agen.yml")
    );
    let (op, p) = params("DELETE", "/repos/o/r/git/refs/heads/agen/x").unwrap();
    assert_eq!((op, p[2].1.as_str()), ("git/delete-ref", "heads/agen/x"));
}

#[test]
fn near_misses_do_not_match() {
    for (method, path) in [
        ("GET", "/repos/o/r/issues/1"),
        ("GET", "/repos/o/r/"),
        ("GET", "/repos/o"),
        ("GET", "/repos//r"),
        ("POST", "/repos/o/r"),
        ("GET", "/repos/o/r/contents/"),
        ("GET", "/app/installations/1/extra"),
    ] {
        assert!(find(method, path).is_none(), "{method} {path}");
    }
}

#[test]
fn comments_routes_are_told_apart() {
    let op = |m, p| find(m, p).map(|m| m.route.op);
    assert_eq!(
        op("POST", "/repos/o/r/issues/3/comments"),
        Some("issues/create-comment")
    );
    assert_eq!(
        op("GET", "/repos/o/r/issues/3/comments"),
        Some("issues/list-comments")
    );
    assert_eq!(
        op("PATCH", "/repos/o/r/issues/comments/9"),
        Some("issues/update-comment")
    );
    assert_eq!(
        op("POST", "/repos/o/r/issues/comments/9/reactions"),
        Some("reactions/create-for-issue-comment")
    );
}
