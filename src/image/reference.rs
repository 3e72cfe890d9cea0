//! An image reference (`host[:port]/repository:tag` or `…@sha256:…`), checked against the
//! server's allowlist of registries (`AGEN_IMAGE_REGISTRIES`) before any request is made.

use oci_client::Reference;

use super::ImageError;

/// The registries images may come from: `host[:port]` each, lowercase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registries(Vec<String>);

impl Registries {
    /// A comma-separated list of `host[:port]`; an entry with a scheme, a path or a space is
    /// refused (`Err` names it).
    pub fn parse(list: &str) -> Result<Registries, String> {
        let mut hosts = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let plain = entry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !plain {
                return Err(format!(
                    "names {entry}, which is not a registry host[:port] (no scheme, no path)"
                ));
            }
            let host = entry.to_ascii_lowercase();
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        Ok(Registries(hosts))
    }

    pub fn allows(&self, registry: &str) -> bool {
        self.0
            .iter()
            .any(|host| host.eq_ignore_ascii_case(registry))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list as the operator wrote it, for messages.
    pub fn shown(&self) -> String {
        if self.0.is_empty() {
            "none".into()
        } else {
            self.0.join(", ")
        }
    }
}

/// `text` as a reference, if its registry is one of `registries`. No request is made here.
pub fn allowed(text: &str, registries: &Registries) -> Result<Reference, ImageError> {
    let reference: Reference = text.trim().parse().map_err(|e| ImageError::Reference {
        image: text.to_string(),
        problem: format!("{e}"),
    })?;
    if !registries.allows(reference.registry()) {
        return Err(ImageError::NotAllowed {
            image: text.to_string(),
            registry: reference.registry().to_string(),
            allowed: registries.shown(),
        });
    }
    Ok(reference)
}

/// Whether agen speaks plain HTTP to `registry`: only on this machine's loopback.
pub fn plain_http(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

#[cfg(test)]
mod tests;
