use super::*;
use crate::ids::{InstallationId, RepoId, RepoName};

#[test]
fn github_answers_map_to_roles_and_unknown_denies() {
    let cases = [
        ("admin", Some("admin"), Permission::Admin),
        ("write", Some("maintain"), Permission::Maintain),
        ("write", Some("write"), Permission::Write),
        ("read", Some("triage"), Permission::Triage),
        ("read", Some("read"), Permission::Read),
        ("none", None, Permission::None),
        ("write", Some("custom-deployer"), Permission::Write),
        ("weird", Some("custom"), Permission::None),
        ("", None, Permission::None),
    ];
    for (permission, role, want) in cases {
        assert_eq!(
            Permission::from_github(permission, role),
            want,
            "{permission} {role:?}"
        );
    }
}

#[test]
fn write_and_admin_pass_read_and_none_do_not() {
    let needed = Permission::Write;
    for (has, allowed) in [
        (Permission::Admin, true),
        (Permission::Maintain, true),
        (Permission::Write, true),
        (Permission::Triage, false),
        (Permission::Read, false),
        (Permission::None, false),
    ] {
        let v = permission_verdict(needed, &PermissionLookup::Known(has));
        assert_eq!(v == Verdict::Allow, allowed, "{has}");
        if !allowed {
            assert_eq!(v, Verdict::Refuse(Refusal::NeedsPermission { needed, has }));
        }
    }
}

#[test]
fn permission_lookup_failure_denies() {
    let v = permission_verdict(
        Permission::Write,
        &PermissionLookup::Unknown("GitHub answered 502".into()),
    );
    assert!(matches!(
        v,
        Verdict::Refuse(Refusal::PermissionUnknown { .. })
    ));
}

fn installation(suspended: bool, removed: bool) -> InstallationGrant {
    InstallationGrant {
        id: InstallationId(1),
        account: "acme".into(),
        repository_selection: "selected".into(),
        suspended,
        removed,
    }
}

fn repo(installation: u64) -> RepositoryGrant {
    RepositoryGrant {
        id: RepoId(7),
        installation_id: InstallationId(installation),
        full_name: RepoName("acme/app".into()),
        private: true,
    }
}

#[test]
fn grants_fail_closed() {
    let active = installation(false, false);
    assert_eq!(grant_verdict(Some(&active), Some(&repo(1))), Verdict::Allow);
    assert!(matches!(
        grant_verdict(None, Some(&repo(1))),
        Verdict::Ignore(_)
    ));
    assert!(matches!(
        grant_verdict(Some(&active), None),
        Verdict::Ignore(_)
    ));
    assert!(matches!(
        grant_verdict(Some(&active), Some(&repo(2))),
        Verdict::Ignore(_)
    ));
    assert!(matches!(
        grant_verdict(Some(&installation(true, false)), Some(&repo(1))),
        Verdict::Ignore(_)
    ));
    assert!(matches!(
        grant_verdict(Some(&installation(false, true)), Some(&repo(1))),
        Verdict::Ignore(_)
    ));
}

#[test]
fn bots_are_ignored() {
    assert!(matches!(sender_verdict(true), Verdict::Ignore(_)));
    assert_eq!(sender_verdict(false), Verdict::Allow);
}
