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
mod tests;
