use super::*;

#[test]
fn only_the_smart_endpoints_are_git_calls() {
    let op = |m: &str, p: &str, q: Option<&str>| target(m, p, q).map(|t| t.endpoint.op());
    let refs = Some("service=git-upload-pack");
    assert_eq!(op("GET", "/o/r.git/info/refs", refs), Some("git/info-refs"));
    let push = target(
        "GET",
        "/o/r.git/info/refs",
        Some("service=git-receive-pack"),
    );
    assert!(push.is_some_and(|t| t.endpoint.service() == Service::Push && t.name == "r"));
    assert_eq!(
        op("POST", "/o/r.git/git-upload-pack", None),
        Some("git/upload-pack")
    );
    assert_eq!(
        op("POST", "/o/r.git/git-receive-pack", None),
        Some("git/receive-pack")
    );
    for (m, p, q) in [
        ("GET", "/o/r.git/info/refs", None),
        ("GET", "/o/r.git/git-upload-pack", None),
        ("POST", "/o/r.git/info/refs", refs),
        ("GET", "/repos/o/r", None),
        ("POST", "/o/a/b.git/git-receive-pack", None),
        ("POST", "//r.git/git-receive-pack", None),
    ] {
        assert!(target(m, p, q).is_none(), "{m} {p}");
    }
}
