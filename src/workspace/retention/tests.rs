use super::super::tests::support::Fixture;
use crate::ids::RepoId;

#[test]
fn forget_removes_the_mirror_and_the_spare() {
    let f = Fixture::new();
    drop(f.prepare(1));
    f.ws.wait_for_spares();
    let repo = f.ws.mirrored();
    assert_eq!(repo.len(), 1);
    let root = f.ws.root().to_path_buf();
    assert!(root.join(format!("mirrors/{}.git", repo[0])).is_dir());
    f.ws.forget(repo[0]).unwrap();
    assert!(f.ws.mirrored().is_empty());
    assert!(!root.join(format!("mirrors/{}.git", repo[0])).exists());
    assert!(!root.join(format!("spares/{}", repo[0])).exists());
    f.ws.forget(RepoId(424242)).unwrap();
}
