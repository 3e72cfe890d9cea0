//! The `pre-receive` hook of every bare repository: refuses, as github.com refuses an App,
//! a push that touches the default branch (protected), a ref outside `refs/heads/*` and
//! `refs/tags/*`, or a workflow file without the `workflows` permission.
//!
//! The simulator tells it what it needs through the environment it gives
//! `git http-backend` (which passes it on): `SIM_DEFAULT_BRANCH`, `SIM_WORKFLOWS`
//! (`write` when the token holds it) and `SIM_REFUSALS`, a file in the git dir where the
//! hook appends one line per refusal; the simulator records each line as a violation.
//! A refusal fails the whole push: nothing is updated.

use std::path::Path;

const PRE_RECEIVE: &str = r#"#!/bin/sh
# Installed by agen's GitHub simulator (see src/sim/git/hook.rs).
zero=0000000000000000000000000000000000000000
refusals=${SIM_REFUSALS:-./sim-refusals-unknown}
refuse() {
    echo "$1" >> "$refusals"
    echo "error: $1" >&2
}
if [ -z "$SIM_DEFAULT_BRANCH" ]; then
    refuse "push without the simulator's context"
    exit 1
fi
while read -r old new ref; do
    case "$ref" in
    "refs/heads/$SIM_DEFAULT_BRANCH")
        refuse "GH006: Protected branch update failed for $ref."
        continue ;;
    refs/heads/* | refs/tags/*) ;;
    *)
        refuse "refusing to update $ref: only branches and tags can be pushed"
        continue ;;
    esac
    [ "$new" = "$zero" ] && continue
    [ "$SIM_WORKFLOWS" = write ] && continue
    git rev-list "$new" --not --all | while read -r commit; do
        git diff-tree -r --root --no-commit-id --name-only --diff-filter=d \
            --diff-merges=first-parent "$commit" -- .github/workflows |
        while read -r path; do
            refuse "refusing to allow a GitHub App to create or update workflow '$path' without 'workflows' permission"
        done
    done
done
if [ -s "$refusals" ]; then
    exit 1
fi
exit 0
"#;

/// Writes the hook into `hooks/pre-receive`, executable.
pub(crate) fn install(git_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let hooks = git_dir.join("hooks");
    std::fs::create_dir_all(&hooks)?;
    let path = hooks.join("pre-receive");
    std::fs::write(&path, PRE_RECEIVE)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
