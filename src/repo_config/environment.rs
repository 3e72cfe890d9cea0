//! `environment:` in `.github/agen.yml`: the system the repository's sessions run on.
//!
//! ```yaml
//! environment: { image: ghcr.io/org/toolchain:1 }   # an OCI image, by tag or digest
//! environment: { devcontainer: true }               # the `image` of .devcontainer/devcontainer.json
//! ```
//!
//! Which registries an image may come from is the server's to say (`AGEN_IMAGE_REGISTRIES`),
//! checked when the job pulls it.

use yaml_serde::Value;

use super::fields::{must, text};
use super::{fail, known_keys, RepoConfigError};

pub const ENVIRONMENT_KEYS: [&str; 2] = ["image", "devcontainer"];
/// An image reference longer than this is not one.
const MAX_IMAGE_CHARS: usize = 512;

/// The system a repository's sessions run on, when it names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Environment {
    /// An image reference, as written (the job checks it against the server's registries).
    Image(String),
    /// The `image` of the repository's `.devcontainer/devcontainer.json`.
    Devcontainer,
}

pub(super) fn environment(value: &Value) -> Result<Option<Environment>, RepoConfigError> {
    let Value::Mapping(map) = value else {
        return must(
            "environment",
            "a mapping like `{ image: ghcr.io/org/image:tag }`",
            value,
        );
    };
    let mut chosen = None;
    for (key, value) in known_keys(map, &ENVIRONMENT_KEYS, Some("environment"))? {
        let this = match key {
            _ if value.is_null() => continue,
            "image" => {
                let image = text(value).map(str::trim).filter(|s| !s.is_empty());
                let Some(image) = image else {
                    return must("environment.image", "an image reference", value);
                };
                if image.len() > MAX_IMAGE_CHARS || image.contains(char::is_whitespace) {
                    return fail(
                        "environment.image",
                        format!(
                            "`environment.image` must be one image reference of at most \
                             {MAX_IMAGE_CHARS} characters"
                        ),
                    );
                }
                Environment::Image(image.to_string())
            }
            "devcontainer" => match value {
                Value::Bool(true) => Environment::Devcontainer,
                Value::Bool(false) => continue,
                other => return must("environment.devcontainer", "`true` or `false`", other),
            },
            _ => unreachable!("known_keys yields only ENVIRONMENT_KEYS"),
        };
        if chosen.is_some() {
            return fail(
                "environment",
                "`environment` names both `image` and `devcontainer`; keep one".into(),
            );
        }
        chosen = Some(this);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests;
