//! The content-addressed cache of unpacked images: `<data dir>/images/<manifest digest>/`
//! holds `rootfs/` and `image.json` (the config that applies: `Env`, `WorkingDir`). An entry
//! is built in a `.partial-*` directory beside it and renamed into place whole, so a crash
//! leaves no half entry (the partial ones are swept when the cache is opened).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const PARTIAL: &str = ".partial-";
const ROOTFS: &str = "rootfs";
const CONFIG: &str = "image.json";

/// What of an image's config applies to its sessions (its `User` does not).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
}

/// An unpacked image, ready to be a session's system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpacked {
    pub digest: String,
    pub rootfs: PathBuf,
    pub config: ImageConfig,
}

#[derive(Clone, Debug)]
pub struct Cache {
    dir: PathBuf,
}

/// An entry being built; removed when dropped unless [`Cache::commit`] took it.
pub struct Partial {
    dir: PathBuf,
}

impl Partial {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join(ROOTFS)
    }

    /// Where the blobs are kept while the entry is built (removed before the commit).
    pub fn blobs(&self) -> PathBuf {
        self.dir.join("blobs")
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Cache {
    /// Opens (making it) the cache at `dir`, sweeping what an interrupted build left.
    pub fn open(dir: &Path) -> io::Result<Cache> {
        fs::create_dir_all(dir)?;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(PARTIAL) {
                fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    fn entry(&self, digest: &str) -> io::Result<PathBuf> {
        let name = digest.replace(':', "-");
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if name.is_empty() || !plain || name.starts_with('.') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a digest: {digest}"),
            ));
        }
        Ok(self.dir.join(name))
    }

    /// The unpacked image of manifest `digest`, if the cache holds it.
    pub fn get(&self, digest: &str) -> io::Result<Option<Unpacked>> {
        let entry = self.entry(digest)?;
        let config = match fs::read(entry.join(CONFIG)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(io::Error::other)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Unpacked {
            digest: digest.to_string(),
            rootfs: entry.join(ROOTFS),
            config,
        }))
    }

    /// A fresh place to build an entry in, with an empty `rootfs/`.
    pub fn partial(&self) -> io::Result<Partial> {
        let dir = self
            .dir
            .join(format!("{PARTIAL}{:016x}", rand::random::<u64>()));
        fs::create_dir(&dir)?;
        let partial = Partial { dir };
        fs::create_dir(partial.rootfs())?;
        Ok(partial)
    }

    /// Puts `partial` in place as the entry of `digest`, whole. If another build got there
    /// first, that one stays and this one goes.
    pub fn commit(
        &self,
        partial: Partial,
        digest: &str,
        config: &ImageConfig,
    ) -> io::Result<Unpacked> {
        let blobs = partial.blobs();
        if blobs.exists() {
            fs::remove_dir_all(&blobs)?;
        }
        let json = serde_json::to_vec(config).map_err(io::Error::other)?;
        fs::write(partial.dir.join(CONFIG), json)?;
        let entry = self.entry(digest)?;
        match fs::rename(&partial.dir, &entry) {
            Ok(()) => {}
            Err(e) if entry.join(CONFIG).exists() => {
                tracing::debug!("image {digest} was unpacked meanwhile ({e})");
            }
            Err(e) => return Err(e),
        }
        drop(partial);
        self.get(digest)?
            .ok_or_else(|| io::Error::other(format!("image {digest}: gone from the cache")))
    }
}

#[cfg(test)]
mod tests;
