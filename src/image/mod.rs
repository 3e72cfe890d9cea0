//! Container images as a session's system: a repository's `environment: { image: REF }` (or
//! the server's `AGEN_DEFAULT_IMAGE`) is pulled outside the sandbox, only from a registry in
//! `AGEN_IMAGE_REGISTRIES` (checked before any request), every blob checked against its
//! digest, and unpacked once into a content-addressed cache under the data directory. The
//! sandbox then gets the unpacked root as a plain directory ([`crate::sandbox::SessionSpec`]'s
//! `system`): it knows nothing of images or registries.
//!
//! - `reference`: parsing and the allowlist; plain HTTP only to this machine's loopback.
//! - `pull`: the registry client (`oci-client`, rustls with ring).
//! - `unpack`: layers onto a root (whiteouts, hard links, no setuid, no devices).
//! - `cache`: `<data dir>/images/<manifest digest>/`, renamed into place whole.
//! - `credentials`: pull credentials per registry, which stay with agen.

mod cache;
mod credentials;
mod pull;
mod reference;
mod unpack;

use std::path::Path;

pub use cache::{ImageConfig, Unpacked};
pub use credentials::Credentials;
pub use reference::Registries;

use crate::markdown::code_span;

/// Why an image cannot be used, each saying what to do (for the issue).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error(
        "the image {} is not a valid image reference ({}); name it as \
         `host[:port]/repository:tag` or `…@sha256:<digest>`",
        code_span(image),
        code_span(problem)
    )]
    Reference { image: String, problem: String },
    #[error(
        "the image {} comes from the registry {}, which this agen server does not pull from \
         (AGEN_IMAGE_REGISTRIES: {allowed}); use an image from one of those, or ask the \
         server's operator to add {} to AGEN_IMAGE_REGISTRIES",
        code_span(image),
        code_span(registry),
        code_span(registry)
    )]
    NotAllowed {
        image: String,
        registry: String,
        allowed: String,
    },
    #[error(
        "could not pull the image {} ({}); check that the image exists and that the \
         registry is up, then `/agen retry`",
        code_span(image),
        code_span(problem)
    )]
    Pull { image: String, problem: String },
    #[error(
        "the image {} was refused: a blob did not match its digest ({}); what the \
         registry served is not what the image's manifest names: push the image again (or \
         ask the registry's operator to check its storage), then `/agen retry`",
        code_span(image),
        code_span(problem)
    )]
    Digest { image: String, problem: String },
    #[error(
        "the image {} cannot be unpacked ({}); rebuild it without that entry",
        code_span(image),
        code_span(problem)
    )]
    Unpack { image: String, problem: String },
    #[error(
        "the image {} is larger than this agen server takes (AGEN_IMAGE_MAX_MB: {max_mb}); \
         use a smaller image, or ask the server's operator to raise AGEN_IMAGE_MAX_MB",
        code_span(image)
    )]
    TooLarge { image: String, max_mb: u64 },
    #[error("image cache: {0}; ask the server's operator to check agen's data directory")]
    Io(String),
}

/// Whether `image` is a reference agen would pull (its registry allowed); no request is made.
pub fn check(image: &str, registries: &Registries) -> Result<(), ImageError> {
    reference::allowed(image, registries).map(drop)
}

/// Pulls and unpacks images for sessions.
pub struct Images {
    registries: Registries,
    credentials: Credentials,
    cache: cache::Cache,
    /// What one image may take: its layers as pulled, and its files unpacked.
    max_bytes: u64,
}

impl Images {
    /// The images of registries `registries` (signed in to with `credentials` where they
    /// name the registry), each at most `max_bytes` (pulled, and again unpacked), cached under
    /// `cache_dir`.
    pub fn open(
        registries: Registries,
        credentials: Credentials,
        max_bytes: u64,
        cache_dir: &Path,
    ) -> Result<Images, ImageError> {
        let cache = cache::Cache::open(cache_dir)
            .map_err(|e| ImageError::Io(format!("{}: {e}", cache_dir.display())))?;
        Ok(Images {
            registries,
            credentials,
            cache,
            max_bytes,
        })
    }

    /// The unpacked image `image`: from the cache when its manifest's digest is there (the
    /// manifest is still asked for, so a tag that moved is followed), else pulled, checked
    /// and unpacked first.
    pub async fn prepare(&self, image: &str) -> Result<Unpacked, ImageError> {
        let reference = reference::allowed(image, &self.registries)?;
        let client = pull::client(reference.registry());
        let auth = self.credentials.auth(reference.registry());
        let (manifest, digest) = pull::manifest(&client, &reference, &auth).await?;
        let io = |e: std::io::Error| ImageError::Io(format!("image {image}: {e}"));
        if let Some(unpacked) = self.cache.get(&digest).map_err(io)? {
            return Ok(unpacked);
        }
        let declared: i64 = manifest.layers.iter().map(|layer| layer.size.max(0)).sum();
        if declared as u64 > self.max_bytes {
            return Err(ImageError::TooLarge {
                image: image.to_string(),
                max_mb: self.max_bytes >> 20,
            });
        }
        let config = pull::config(&client, &reference, &manifest).await?;
        let partial = self.cache.partial().map_err(io)?;
        let layers = pull::layers(&client, &reference, &manifest, &partial.blobs()).await?;
        let rootfs = partial.rootfs();
        let (shown, max_bytes) = (image.to_string(), self.max_bytes);
        tokio::task::spawn_blocking(move || {
            let mut budget = max_bytes;
            for (blob, compression) in &layers {
                unpack::apply_layer(&rootfs, blob, *compression, &mut budget).map_err(
                    |e| match e.kind() {
                        std::io::ErrorKind::FileTooLarge => ImageError::TooLarge {
                            image: shown.clone(),
                            max_mb: max_bytes >> 20,
                        },
                        _ => ImageError::Unpack {
                            image: shown.clone(),
                            problem: e.to_string(),
                        },
                    },
                )?;
            }
            // Reachable by the sessions' uid, whatever the umask.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&rootfs, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| ImageError::Io(e.to_string()))
        })
        .await
        .map_err(|e| ImageError::Io(format!("unpacking: {e}")))??;
        let unpacked = self.cache.commit(partial, &digest, &config).map_err(io)?;
        tracing::info!(image, digest, "image pulled and unpacked");
        Ok(unpacked)
    }
}
