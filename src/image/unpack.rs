//! Applies an image's layers, in order, to a root directory: `.wh.NAME` whiteouts remove
//! what lower layers made, `.wh..wh..opq` empties a directory of them, hard links are made
//! within the root. Paths that are absolute, climb with `..`, or pass through a symbolic link
//! are refused (a layer must never write outside the root); setuid and setgid bits are
//! dropped; device nodes and fifos are left out; owners are not kept (what agen unpacks is
//! agen's, read-only to sessions).

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;
use tar::{Archive, EntryType};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// How a layer's blob is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

impl Compression {
    /// The compression of a layer of `media_type`; `None` for one agen cannot read.
    pub fn of(media_type: &str) -> Option<Compression> {
        match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Some(Compression::Gzip),
            _ => None,
        }
    }
}

fn bad(problem: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, problem)
}

fn open(blob: &Path, compression: Compression) -> io::Result<Archive<Box<dyn Read>>> {
    let file = io::BufReader::new(fs::File::open(blob)?);
    let reader: Box<dyn Read> = match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(GzDecoder::new(file)),
    };
    Ok(Archive::new(reader))
}

/// Applies the layer in `blob` to `root`: its whiteouts first (they speak of lower layers
/// only), then its entries. `budget`: the bytes of file content still allowed, over all the
/// image's layers; a layer that would write more is refused.
pub fn apply_layer(
    root: &Path,
    blob: &Path,
    compression: Compression,
    budget: &mut u64,
) -> io::Result<()> {
    for entry in open(blob, compression)?.entries()? {
        let entry = entry?;
        let path = relative(&entry.path()?)?;
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let parent = path.parent().unwrap_or(Path::new(""));
        if name == OPAQUE {
            let dir = inside(root, parent)?;
            if fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                for child in fs::read_dir(&dir)? {
                    remove(&child?.path())?;
                }
            }
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            remove(&inside(root, &parent.join(hidden))?)?;
        }
    }
    let mut dirs = Vec::new();
    for entry in open(blob, compression)?.entries()? {
        let mut entry = entry?;
        let path = relative(&entry.path()?)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if path.as_os_str().is_empty() || name.is_some_and(|n| n.starts_with(WHITEOUT)) {
            continue;
        }
        let target = inside(root, &path)?;
        let mode = entry.header().mode()? & 0o1777;
        match entry.header().entry_type() {
            EntryType::Directory => {
                match fs::symlink_metadata(&target) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        remove(&target)?;
                        fs::create_dir(&target)?;
                    }
                    Err(_) => fs::create_dir(&target)?,
                }
                // Modes last: a directory read-only to its owner must still take its entries.
                dirs.push((target, mode));
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size()?;
                *budget = budget.checked_sub(size).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::FileTooLarge,
                        format!(
                            "{}: unpacked, the image would be larger than this server allows",
                            path.display()
                        ),
                    )
                })?;
                remove(&target)?;
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&target)?;
                // The header's size bounds what is read (the budget was charged with it).
                io::copy(&mut (&mut entry).take(size), &mut file)?;
                file.set_permissions(fs::Permissions::from_mode(mode))?;
            }
            EntryType::Symlink => {
                let link = entry.link_name()?.ok_or_else(|| {
                    bad(format!("{}: a symbolic link to nothing", path.display()))
                })?;
                remove(&target)?;
                symlink(link, &target)?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()?
                    .ok_or_else(|| bad(format!("{}: a hard link to nothing", path.display())))?;
                let source = inside(root, &relative(&link)?)?;
                if !fs::symlink_metadata(&source).is_ok_and(|m| m.is_file()) {
                    return Err(bad(format!(
                        "{}: a hard link to {}, which is not a file of the image",
                        path.display(),
                        link.display()
                    )));
                }
                remove(&target)?;
                fs::hard_link(&source, &target)?;
            }
            // Device nodes, fifos and the rest: never in a session's system.
            _ => continue,
        }
    }
    for (dir, mode) in dirs.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(*mode))?;
    }
    Ok(())
}

/// `path` of a layer entry, relative and without `.`; absolute paths and `..` are refused.
fn relative(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => {
                return Err(bad(format!(
                    "layer entry {}: outside the image's root (absolute, or with ..)",
                    path.display()
                )))
            }
        }
    }
    Ok(out)
}

/// `root/path`, once every directory on the way is a real directory (no symbolic link) or
/// not there yet (then made).
fn inside(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let mut at = root.to_path_buf();
    let parent = path.parent().unwrap_or(Path::new(""));
    for part in parent.components() {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(bad(format!(
                    "layer entry {}: passes through {}, which is not a directory",
                    path.display(),
                    at.strip_prefix(root).unwrap_or(&at).display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&at)?;
                fs::set_permissions(&at, fs::Permissions::from_mode(0o755))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(path))
}

/// Removes whatever is at `path` (never following a symbolic link); nothing there is fine.
fn remove(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
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
}
