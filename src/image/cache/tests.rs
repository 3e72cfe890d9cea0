use super::*;

#[test]
fn an_entry_appears_whole_and_partial_ones_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let digest = format!("sha256:{}", "b".repeat(64));
    assert_eq!(cache.get(&digest).unwrap(), None);
    let partial = cache.partial().unwrap();
    fs::write(partial.rootfs().join("marker"), "x").unwrap();
    fs::create_dir(partial.blobs()).unwrap();
    let config = ImageConfig {
        env: vec![("PATH".into(), "/bin".into())],
        working_dir: Some("/work".into()),
    };
    let unpacked = cache.commit(partial, &digest, &config).unwrap();
    assert_eq!(unpacked.config, config);
    assert!(unpacked.rootfs.join("marker").is_file());
    assert!(!unpacked.rootfs.parent().unwrap().join("blobs").exists());
    assert_eq!(cache.get(&digest).unwrap(), Some(unpacked));

    // A build interrupted (a crash) leaves a partial directory: swept at the next open.
    let left = cache.partial().unwrap();
    let left_dir = left.dir.clone();
    std::mem::forget(left);
    assert!(left_dir.exists());
    Cache::open(dir.path()).unwrap();
    assert!(!left_dir.exists());
    assert!(cache.get("../etc").is_err());
}
