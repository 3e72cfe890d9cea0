use super::*;

#[test]
fn lock_excludes_a_second_holder_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l");
    let first = lock(&path, false).unwrap().expect("first lock");
    assert!(lock(&path, false).unwrap().is_none());
    drop(first);
    assert!(lock(&path, false).unwrap().is_some());
}

#[test]
fn remove_tree_removes_directories_without_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path().join("t");
    fs::create_dir_all(top.join("a/b")).unwrap();
    fs::write(top.join("a/b/f"), "x").unwrap();
    std::os::unix::fs::symlink("/etc", top.join("a/link")).unwrap();
    fs::set_permissions(top.join("a/b"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(top.join("a"), fs::Permissions::from_mode(0o500)).unwrap();
    remove_tree(&top).unwrap();
    assert!(!top.exists());
    assert!(Path::new("/etc").exists());
    remove_tree(&top).unwrap();
}
