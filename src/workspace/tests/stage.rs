//! Staging, committing and pushing what the "agent" did to a prepared workspace.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use super::super::{AddedLine, AgenBranch, ChangeStatus, Identity, WorkspaceError};
use super::support::{git, Fixture};

fn bot() -> Identity {
    Identity::github_bot("agen", 4242)
}

#[test]
fn stage_describes_every_kind_of_change_and_the_added_lines() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    let w = ws.worktree();
    let lib = "fn one() {}\nfn inserted() {}\nfn two() {}\nfn three() {}\nfn four() {}\n";
    fs::write(w.join("src/lib.rs"), lib).unwrap();
    fs::create_dir(w.join("docs")).unwrap();
    fs::write(w.join("docs/new file.md"), "hello\nwörld\n").unwrap();
    fs::write(w.join("we\"ird\tname.txt"), "x\n").unwrap();
    fs::remove_file(w.join("README.md")).unwrap();
    fs::remove_file(w.join("old-name.txt")).unwrap();
    fs::write(
        w.join("new-name.txt"),
        "moved content\nline 2\nline 3\nline 4\n",
    )
    .unwrap();
    fs::write(w.join("bin.dat"), [0u8, 1, 2, 0, 255]).unwrap();
    symlink("src/lib.rs", w.join("ln2")).unwrap();
    fs::set_permissions(w.join("run.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    let changes = ws.stage().unwrap();

    let file = |p: &str| {
        changes
            .files
            .iter()
            .find(|f| f.path == p)
            .unwrap_or_else(|| panic!("{p}: {changes:#?}"))
    };
    assert_eq!(changes.files.len(), 8, "{changes:#?}");
    assert_eq!(file("src/lib.rs").status, ChangeStatus::Modified);
    assert_eq!(file("src/lib.rs").new_size, Some(lib.len() as u64));
    assert_eq!(file("docs/new file.md").status, ChangeStatus::Added);
    assert_eq!(file("README.md").status, ChangeStatus::Deleted);
    assert_eq!(file("README.md").new_size, None);
    let renamed = file("new-name.txt");
    assert_eq!(
        (renamed.status, renamed.old_path.as_deref()),
        (ChangeStatus::Renamed, Some("old-name.txt"))
    );
    let bin = file("bin.dat");
    assert!(bin.is_binary && !bin.is_symlink && bin.new_size == Some(5));
    let link = file("ln2");
    assert!(link.is_symlink && !link.is_binary && link.new_size == Some(10));
    assert!(!file("run.sh").is_executable && file("run.sh").status == ChangeStatus::Modified);
    assert!(!file("src/lib.rs").is_binary);
    assert!(changes.files.iter().all(|f| !f.path.starts_with(".git")));

    let line = |path: &str, line: u32, text: &str| AddedLine {
        path: path.into(),
        line,
        text: text.into(),
    };
    let mut lines = changes.added_lines.clone();
    lines.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    assert_eq!(
        lines,
        [
            line("docs/new file.md", 1, "hello"),
            line("docs/new file.md", 2, "wörld"),
            line("ln2", 1, "src/lib.rs"),
            line("new-name.txt", 4, "line 4"),
            line("src/lib.rs", 2, "fn inserted() {}"),
            line("src/lib.rs", 5, "fn four() {}"),
            line("we\"ird\tname.txt", 1, "x"),
        ]
    );
    assert!(
        changes.diffstat.contains("8 files changed"),
        "{}",
        changes.diffstat
    );
    assert!(!changes.is_empty() && changes.skipped_nested_repos.is_empty());
}

#[test]
fn nothing_changed_stages_nothing_and_cannot_be_committed() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    fs::write(ws.worktree().join("README.md"), "# demo\n").unwrap();
    let changes = ws.stage().unwrap();
    assert!(
        changes.is_empty() && changes.added_lines.is_empty(),
        "{changes:?}"
    );
    assert!(matches!(
        ws.commit("x", &bot()),
        Err(WorkspaceError::Refused(_))
    ));
}

#[test]
fn nested_repositories_are_left_out_of_the_commit() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    let w = ws.worktree();
    fs::create_dir(w.join("sub")).unwrap();
    git(&w.join("sub"), &["init", "-q"]);
    fs::write(w.join("sub/z"), "z\n").unwrap();
    git(&w.join("sub"), &["add", "z"]);
    git(&w.join("sub"), &["commit", "-q", "-m", "z"]);
    // A .git file pointing at another repository on the host: git would record its HEAD.
    fs::create_dir(w.join("leak")).unwrap();
    fs::write(
        w.join("leak/.git"),
        format!("gitdir: {}\n", f.source.display()),
    )
    .unwrap();
    fs::write(w.join("ok.txt"), "ok\n").unwrap();
    // A gitlink already in the index (no nested repository on disk) is dropped as well.
    fs::create_dir(w.join("gl")).unwrap();
    let cacheinfo = format!("160000,{},gl", f.base);
    let (git_dir, work) = (ws.git_dir.to_str().unwrap(), w.to_str().unwrap());
    git(
        f.tmp.path(),
        &[
            "--git-dir",
            git_dir,
            "--work-tree",
            work,
            "update-index",
            "--add",
            "--cacheinfo",
            &cacheinfo,
        ],
    );
    let changes = ws.stage().unwrap();
    assert_eq!(changes.skipped_nested_repos, ["gl", "leak", "sub"]);
    let paths: Vec<&str> = changes.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["ok.txt"]);
    let sha = ws.commit("ok", &bot()).unwrap();
    let tree = git(
        f.tmp.path(),
        &[
            "--git-dir",
            ws.git_dir.to_str().unwrap(),
            "ls-tree",
            "-r",
            "--name-only",
            &sha,
        ],
    );
    assert!(
        tree.contains("ok.txt") && !tree.contains("leak") && !tree.contains("sub"),
        "{tree}"
    );
    assert!(!git(
        f.tmp.path(),
        &[
            "--git-dir",
            ws.git_dir.to_str().unwrap(),
            "ls-tree",
            "-r",
            &sha
        ]
    )
    .contains("commit"));
}

/// Writes an executable script that creates `marker` when run.
fn evil_script(path: &Path, marker: &Path) {
    fs::write(
        path,
        format!("#!/bin/sh\ntouch '{}'\ncat\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn hooks_fsmonitor_and_filters_planted_in_the_worktree_never_run() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    let w = ws.worktree();
    let marker = f.tmp.path().join("pwned");
    let hooks = w.join(".git/hooks");
    fs::create_dir_all(&hooks).unwrap();
    for hook in [
        "pre-commit",
        "prepare-commit-msg",
        "commit-msg",
        "post-commit",
        "pre-push",
        "post-index-change",
        "reference-transaction",
        "post-checkout",
        "pre-auto-gc",
    ] {
        evil_script(&hooks.join(hook), &marker);
    }
    let script = w.join(".git/evil.sh");
    evil_script(&script, &marker);
    let s = script.display();
    let mut config = fs::read_to_string(w.join(".git/config")).unwrap();
    config.push_str(&format!(
        "[core]\n\tfsmonitor = {s}\n\thooksPath = {}\n\tpager = {s}\n\
         [filter \"evil\"]\n\tclean = {s}\n\tsmudge = {s}\n[diff \"evil\"]\n\ttextconv = {s}\n",
        hooks.display()
    ));
    fs::write(w.join(".git/config"), config).unwrap();
    fs::write(w.join(".gitattributes"), "* filter=evil diff=evil\n").unwrap();
    fs::write(w.join("README.md"), "# changed\n").unwrap();

    let changes = ws.stage().unwrap();
    assert!(changes.added_lines.iter().any(|l| l.text == "# changed"));
    let sha = ws.commit("change", &bot()).unwrap();
    ws.push(&f.url, &f.token, &AgenBranch::new("agen/x").unwrap(), &sha)
        .unwrap();
    assert!(!marker.exists(), "a planted script ran");

    // Control: the same plants do run when git uses the worktree's own repository.
    git(w, &["add", "-A"]);
    assert!(marker.exists(), "the control should have run the plants");
}

#[test]
fn added_lines_of_huge_files_are_left_out_and_flagged() {
    let f = Fixture::new();
    let ws = f.prepare(1);
    let line = "x".repeat(99) + "\n";
    let huge = line.repeat((super::super::MAX_LINES_BYTES / 100 + 1) as usize);
    fs::write(ws.worktree().join("huge.txt"), &huge).unwrap();
    fs::write(ws.worktree().join("small.txt"), "secret = 1\n").unwrap();
    let changes = ws.stage().unwrap();
    let flagged: Vec<(&str, bool)> = changes
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.lines_omitted))
        .collect();
    assert_eq!(flagged, [("huge.txt", true), ("small.txt", false)]);
    assert_eq!(changes.files[0].new_size, Some(huge.len() as u64));
    let paths: Vec<&str> = changes
        .added_lines
        .iter()
        .map(|l| l.path.as_str())
        .collect();
    assert_eq!(paths, ["small.txt"]);
}

#[test]
fn what_setup_wrote_is_staged_only_where_the_agent_changed_it_after() {
    let f = Fixture::new();
    let mut ws = f.prepare(1);
    let w = ws.worktree().to_path_buf();
    let readme = fs::read_to_string(w.join("README.md")).unwrap();
    // Setup: installs dependencies, rewrites a tracked file, writes two more.
    fs::create_dir(w.join("deps")).unwrap();
    fs::write(w.join("deps/lib.txt"), "installed\n").unwrap();
    fs::write(w.join("README.md"), "regenerated by setup\n").unwrap();
    fs::write(w.join("generated.txt"), "by setup\n").unwrap();
    fs::write(w.join("scratch.txt"), "by setup\n").unwrap();
    ws.mark_setup().unwrap();
    // The agent: changes one file of its own, one setup wrote, and deletes another.
    fs::write(w.join("src/lib.rs"), "fn agent() {}\n").unwrap();
    fs::write(w.join("generated.txt"), "by setup, then the agent\n").unwrap();
    fs::remove_file(w.join("scratch.txt")).unwrap();
    let changes = ws.stage().unwrap();

    let mut paths: Vec<&str> = changes.files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["generated.txt", "src/lib.rs"], "{changes:#?}");
    assert!(!changes.diffstat.contains("deps/"), "{}", changes.diffstat);
    let sha = ws.commit("agent's work", &bot()).unwrap();
    let show = |path: &str| git(&ws.git_dir, &["show", &format!("{sha}:{path}")]);
    assert_eq!(
        show("README.md").trim_end(),
        readme.trim_end(),
        "setup's rewrite is not committed"
    );
    assert_eq!(show("generated.txt").trim_end(), "by setup, then the agent");
    let tree = git(&ws.git_dir, &["ls-tree", "-r", "--name-only", &sha]);
    assert!(
        !tree.contains("deps/") && !tree.contains("scratch.txt"),
        "{tree}"
    );
    // The worktree keeps what setup wrote.
    assert_eq!(
        fs::read_to_string(w.join("README.md")).unwrap(),
        "regenerated by setup\n"
    );
}
