//! Pull credentials (`AGEN_IMAGE_CREDENTIALS`: `host[:port]=user:secret`, comma separated).
//! They stay with agen: used by its registry client outside the sandbox, never put in a
//! session, redacted from every log and report, and never printed (not even by `Debug`).

use oci_client::secrets::RegistryAuth;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(Vec<(String, String, String)>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&str> = self.0.iter().map(|(host, _, _)| host.as_str()).collect();
        write!(f, "Credentials({hosts:?}, secrets hidden)")
    }
}

impl Credentials {
    /// `Err` says which entry is wrong, without its secret.
    pub fn parse(list: &str) -> Result<Credentials, String> {
        let mut out = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed = entry.split_once('=').and_then(|(host, login)| {
                let (user, secret) = login.split_once(':')?;
                let host = host.trim().to_ascii_lowercase();
                (!host.is_empty() && !user.is_empty() && !secret.is_empty())
                    .then(|| (host, user.to_string(), secret.to_string()))
            });
            match parsed {
                Some(entry) => out.push(entry),
                None => {
                    let host = entry.split('=').next().unwrap_or_default();
                    return Err(format!(
                        "has an entry for {host:?} that is not host[:port]=user:secret"
                    ));
                }
            }
        }
        Ok(Credentials(out))
    }

    /// How to sign in to `registry`: its credentials, or anonymously.
    pub fn auth(&self, registry: &str) -> RegistryAuth {
        self.0
            .iter()
            .find(|(host, _, _)| host.eq_ignore_ascii_case(registry))
            .map_or(RegistryAuth::Anonymous, |(_, user, secret)| {
                RegistryAuth::Basic(user.clone(), secret.clone())
            })
    }

    /// The secrets, for redaction.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, _, secret)| secret.as_str())
    }
}

#[cfg(test)]
mod tests;
