use super::*;
use std::os::unix::fs::MetadataExt;

struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }

    fn add(mut self, path: &str, kind: EntryType, mode: u32, data: &[u8], link: &str) -> Self {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        if !link.is_empty() {
            header.set_link_name(link).unwrap();
        }
        // set_path refuses `..`: write the name as a layer from anywhere could.
        let name = &mut header.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_cksum();
        self.0.append(&header, data).unwrap();
        self
    }

    fn file(self, path: &str, mode: u32, data: &str) -> Self {
        self.add(path, EntryType::Regular, mode, data.as_bytes(), "")
    }

    fn dir(self, path: &str) -> Self {
        self.add(path, EntryType::Directory, 0o755, b"", "")
    }

    fn write(self, dir: &Path, name: &str, gzip: bool) -> (PathBuf, Compression) {
        let bytes = self.0.into_inner().unwrap();
        let path = dir.join(name);
        if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            io::Write::write_all(&mut gz, &bytes).unwrap();
            fs::write(&path, gz.finish().unwrap()).unwrap();
            (path, Compression::Gzip)
        } else {
            fs::write(&path, bytes).unwrap();
            (path, Compression::None)
        }
    }
}

#[test]
fn layers_apply_with_whiteouts_hard_links_and_no_setuid_or_devices() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let (lower, c1) = Layer::new()
        .dir("./etc/")
        .file("./etc/gone", 0o644, "lower")
        .file("etc/kept", 0o644, "kept")
        .dir("opaque/")
        .file("opaque/old", 0o644, "old")
        .file("bin/su", 0o4755, "setuid")
        .add("bin/sh-link", EntryType::Link, 0o755, b"", "bin/su")
        .add("bin/sym", EntryType::Symlink, 0o777, b"", "/bin/su")
        .add("dev/sda", EntryType::Block, 0o600, b"", "")
        .add("fifo", EntryType::Fifo, 0o600, b"", "")
        .write(dir.path(), "lower.tar.gz", true);
    apply_layer(&root, &lower, c1, &mut u64::MAX.clone()).unwrap();
    let (upper, c2) = Layer::new()
        .file("etc/.wh.gone", 0o644, "")
        .file("opaque/new", 0o644, "new")
        .file("opaque/.wh..wh..opq", 0o644, "")
        .write(dir.path(), "upper.tar", false);
    apply_layer(&root, &upper, c2, &mut u64::MAX.clone()).unwrap();

    assert!(!root.join("etc/gone").exists());
    assert_eq!(fs::read_to_string(root.join("etc/kept")).unwrap(), "kept");
    assert!(!root.join("opaque/old").exists());
    assert_eq!(fs::read_to_string(root.join("opaque/new")).unwrap(), "new");
    let su = fs::metadata(root.join("bin/su")).unwrap();
    assert_eq!(su.mode() & 0o7777, 0o755);
    let link = fs::metadata(root.join("bin/sh-link")).unwrap();
    assert_eq!((link.ino(), link.nlink()), (su.ino(), 2));
    assert_eq!(
        fs::read_link(root.join("bin/sym")).unwrap(),
        Path::new("/bin/su")
    );
    assert!(!root.join("dev/sda").exists());
    assert!(!root.join("fifo").exists());
    assert!(!root.join("etc/.wh.gone").exists());
}

#[test]
fn an_image_larger_than_its_budget_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let (blob, compression) = Layer::new()
        .file("a", 0o644, "12345")
        .file("b", 0o644, "67890")
        .write(dir.path(), "l.tar", false);
    let mut budget = 10;
    apply_layer(&root, &blob, compression, &mut budget).unwrap();
    assert_eq!(budget, 0);
    let e = apply_layer(&root, &blob, compression, &mut 9).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::FileTooLarge, "{e}");
}

#[test]
fn a_layer_cannot_write_outside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&root).unwrap();
    fs::create_dir_all(&outside).unwrap();
    let escapes = [
        Layer::new().file("../escaped", 0o644, "x"),
        Layer::new().file("/abs", 0o644, "x"),
        Layer::new()
            .add(
                "link",
                EntryType::Symlink,
                0o777,
                b"",
                outside.to_str().unwrap(),
            )
            .file("link/escaped", 0o644, "x"),
        Layer::new().add("hard", EntryType::Link, 0o644, b"", "../outside/f"),
        Layer::new()
            .file("x/.wh.", 0o644, "")
            .file("../.wh.outside", 0o644, ""),
    ];
    for (i, layer) in escapes.into_iter().enumerate() {
        let (blob, compression) = layer.write(dir.path(), &format!("{i}.tar"), false);
        assert!(
            apply_layer(&root, &blob, compression, &mut u64::MAX.clone()).is_err(),
            "layer {i}"
        );
    }
    assert!(outside.exists());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!dir.path().join("escaped").exists());
}
