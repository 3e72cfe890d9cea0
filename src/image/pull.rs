//! Pulling an image with `oci-client`: its manifest (an index resolved to this machine's
//! platform), its config and its layers, each blob checked against its digest as it
//! streams to disk (the client refuses a blob that does not match).

use std::path::{Path, PathBuf};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;

use super::cache::ImageConfig;
use super::reference::plain_http;
use super::unpack::Compression;
use super::ImageError;

/// A client that speaks plain HTTP to `registry` only when it is this machine's loopback.
pub fn client(registry: &str) -> Client {
    // One TLS stack in agen: rustls with ring (reqwest is built without a provider of its own).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if plain_http(registry) {
        ClientProtocol::HttpsExcept(vec![registry.to_string()])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(std::time::Duration::from_secs(10)),
        read_timeout: Some(std::time::Duration::from_secs(60)),
        ..ClientConfig::default()
    })
}

/// What a failed request says, sorted: a digest that does not match, or any other failure.
fn failed(image: &Reference, e: OciDistributionError) -> ImageError {
    match e {
        OciDistributionError::DigestError(e) => ImageError::Digest {
            image: image.whole(),
            problem: e.to_string(),
        },
        e => ImageError::Pull {
            image: image.whole(),
            problem: e.to_string(),
        },
    }
}

/// The image's manifest and its digest (the cache's key).
pub async fn manifest(
    client: &Client,
    image: &Reference,
    auth: &RegistryAuth,
) -> Result<(OciImageManifest, String), ImageError> {
    client
        .pull_image_manifest(image, auth)
        .await
        .map_err(|e| failed(image, e))
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(Deserialize)]
struct RunConfig {
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    working_dir: Option<String>,
}

/// The image's config blob, as much of it as applies.
pub async fn config(
    client: &Client,
    image: &Reference,
    manifest: &OciImageManifest,
) -> Result<ImageConfig, ImageError> {
    let mut bytes = Vec::new();
    client
        .pull_blob(image, &manifest.config, &mut bytes)
        .await
        .map_err(|e| failed(image, e))?;
    let file: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| ImageError::Pull {
        image: image.whole(),
        problem: format!("its config is not valid JSON: {e}"),
    })?;
    let run = file.config.unwrap_or(RunConfig {
        env: None,
        working_dir: None,
    });
    let env = run
        .env
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            Some((name.to_string(), value.to_string()))
        })
        .collect();
    Ok(ImageConfig {
        env,
        working_dir: run.working_dir.filter(|dir| !dir.is_empty()),
    })
}

/// Each layer's blob, in order, pulled into `dir` (and checked against its digest).
pub async fn layers(
    client: &Client,
    image: &Reference,
    manifest: &OciImageManifest,
    dir: &Path,
) -> Result<Vec<(PathBuf, Compression)>, ImageError> {
    let io = |e: std::io::Error| ImageError::Io(format!("image {}: {e}", image.whole()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let mut out = Vec::with_capacity(manifest.layers.len());
    for (index, layer) in manifest.layers.iter().enumerate() {
        let compression = Compression::of(&layer.media_type).ok_or_else(|| ImageError::Pull {
            image: image.whole(),
            problem: format!(
                "layer {} has media type {}, which agen cannot unpack (it reads tar and \
                     tar+gzip layers); rebuild the image with gzip layers",
                layer.digest, layer.media_type
            ),
        })?;
        let path = dir.join(index.to_string());
        let file = tokio::fs::File::create(&path).await.map_err(io)?;
        client
            .pull_blob(image, layer, file)
            .await
            .map_err(|e| failed(image, e))?;
        out.push((path, compression));
    }
    Ok(out)
}
