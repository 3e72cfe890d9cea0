//! Committing and pushing; the added-lines parser.

use std::fs;

use super::super::changes::parse_added_lines;
use super::super::{AddedLine, AgenBranch, Identity, WorkspaceError};
use super::support::{git, Fixture};

fn bot() -> Identity {
    Identity::github_bot("agen", 4242)
}

#[test]
fn commit_is_by_the_bot_on_the_base_and_push_lands_only_on_agen_branches() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    fs::write(ws.worktree().join("README.md"), "# changed\n").unwrap();
    ws.stage().unwrap();
    let message = "Fix the README\n\nCo-authored-by: Alice <alice@example.com>";
    let sha = ws.commit(message, &bot()).unwrap();
    let branch = AgenBranch::new("agen/issue-1-readme").unwrap();
    ws.push(&f.url, &f.token, &branch, &sha).unwrap();
    let src = &f.source;
    assert_eq!(
        git(src, &["rev-parse", "refs/heads/agen/issue-1-readme"]),
        sha
    );
    let show = |fmt: &str| git(src, &["log", "-1", &format!("--format={fmt}"), &sha]);
    assert_eq!(
        show("%an <%ae>"),
        "agen[bot] <4242+agen[bot]@users.noreply.github.com>"
    );
    assert_eq!(
        show("%cn <%ce>"),
        "agen[bot] <4242+agen[bot]@users.noreply.github.com>"
    );
    assert_eq!(show("%P"), f.base);
    assert_eq!(show("%B"), message);

    // The guard refuses anything outside refs/heads/agen/, and main does not move.
    for dest in [
        "refs/heads/main",
        "refs/tags/v1",
        "refs/heads/agen/../main",
        "+refs/heads/agen/y",
    ] {
        let err = ws.push_to(&f.url, &f.token, dest, &sha, false).unwrap_err();
        assert!(matches!(err, WorkspaceError::Refused(_)), "{dest}: {err}");
    }
    assert_eq!(git(src, &["rev-parse", "refs/heads/main"]), f.base);
    assert!(git(src, &["tag"]).is_empty());

    // No force: a branch that moved elsewhere is not overwritten.
    fs::write(ws.worktree().join("README.md"), "# other\n").unwrap();
    ws.stage().unwrap();
    let other = ws.commit("other", &bot()).unwrap();
    assert!(ws.push(&f.url, &f.token, &branch, &other).is_err());
    assert_eq!(
        git(src, &["rev-parse", "refs/heads/agen/issue-1-readme"]),
        sha
    );
    // A job run again replaces its own branch, and only on purpose.
    ws.push_replacing(&f.url, &f.token, &branch, &other)
        .unwrap();
    assert_eq!(
        git(src, &["rev-parse", "refs/heads/agen/issue-1-readme"]),
        other
    );
    assert_eq!(
        f.ws.remote_agen_branches(&f.url, &f.token).unwrap(),
        ["agen/issue-1-readme"]
    );
    assert!(ws
        .commit(
            "x",
            &Identity {
                name: "a\nb".into(),
                email: "e".into()
            }
        )
        .is_err());
}

#[test]
fn added_lines_parser_handles_quotes_deletions_and_plus_lines() {
    let patch = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,0 +2,2 @@\n++++ not a header\n+b\n\
diff --git \"a/t\\tq\\\"\\303\\251\" \"b/t\\tq\\\"\\303\\251\"\n--- \"a/t\\tq\\\"\\303\\251\"\n+++ \"b/t\\tq\\\"\\303\\251\"\n@@ -3 +3 @@\n-old\n+new\n\\ No newline at end of file\n\
diff --git a/gone b/gone\n--- a/gone\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n";
    let line = |path: &str, line: u32, text: &str| AddedLine {
        path: path.into(),
        line,
        text: text.into(),
    };
    assert_eq!(
        parse_added_lines(patch),
        [
            line("x", 2, "+++ not a header"),
            line("x", 3, "b"),
            line("t\tq\"é", 3, "new")
        ]
    );
}
