use super::*;

#[test]
fn devcontainer_json_with_comments_and_trailing_commas() {
    let text = r#"{
  // the image
  "image": "ghcr.io/o/dev:1", /* inline */
  "name": "a // not a comment, \" still",
  "features": { "x": {}, },
}"#;
    let value: serde_json::Value = serde_json::from_str(&plain_json(text)).unwrap();
    assert_eq!(value["image"], "ghcr.io/o/dev:1");
    assert_eq!(value["name"], "a // not a comment, \" still");
}

#[test]
fn a_server_mount_needs_its_mount_point_inside_a_directory_the_image_has() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("root/.cargo")).unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    let mounts = |paths: &[&str]| -> Vec<std::path::PathBuf> {
        paths.iter().map(std::path::PathBuf::from).collect()
    };
    // Under a top-level directory the image lacks, the session makes the way itself.
    assert_eq!(
        unmountable(&mounts(&["/opt/tool", "/root/.cargo"]), root.path()),
        None
    );
    let problem = unmountable(&mounts(&["/root/.cargo", "/root/.rustup"]), root.path()).unwrap();
    assert_eq!(
        problem,
        "AGEN_SANDBOX_MOUNTS shows `/root/.rustup` in every session, but there is no such \
         directory to mount it on"
    );
}
