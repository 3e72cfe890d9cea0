use super::*;

fn binary(path: &str, size: u64) -> ChangedFile {
    ChangedFile {
        path: path.into(),
        old_path: None,
        status: ChangeStatus::Added,
        new_size: Some(size),
        is_symlink: false,
        is_executable: false,
        is_binary: true,
        lines_omitted: false,
    }
}

fn changes(files: Vec<ChangedFile>) -> Changes {
    Changes {
        files,
        ..Changes::default()
    }
}

#[test]
fn a_key_inside_a_binary_file_is_found() {
    let work = tempfile::tempdir().unwrap();
    let mut bytes = vec![0u8, 1, 2, 0];
    bytes.extend_from_slice(b"\nAKIAIOSFODNN7EXAMPLE\n");
    std::fs::write(work.path().join("blob.bin"), &bytes).unwrap();
    let found = refusals(
        work.path(),
        &changes(vec![binary("blob.bin", bytes.len() as u64)]),
        1 << 20,
        &[],
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("`blob.bin` line 2"), "{found:?}");
    assert!(!found[0].contains("AKIA"), "{found:?}");
}

#[test]
fn a_binary_file_behind_a_link_is_not_followed_and_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.bin"), b"\0data").unwrap();
    std::os::unix::fs::symlink(outside.path(), work.path().join("dir")).unwrap();
    let found = refusals(
        work.path(),
        &changes(vec![binary("dir/x.bin", 5)]),
        1 << 20,
        &[],
    );
    assert_eq!(found, ["`dir/x.bin` could not be read to scan it"]);
}

#[test]
fn a_file_too_large_to_scan_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let mut big = binary("big.txt", MAX_LINES_BYTES + 1);
    big.is_binary = false;
    big.lines_omitted = true;
    let found = refusals(work.path(), &changes(vec![big]), 100 << 20, &[]);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("too large to scan"), "{found:?}");
}

#[test]
fn a_clean_binary_file_passes() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("logo.png"), b"\x89PNG\0\0\0").unwrap();
    let found = refusals(
        work.path(),
        &changes(vec![binary("logo.png", 7)]),
        1 << 20,
        &[],
    );
    assert!(found.is_empty(), "{found:?}");
}
