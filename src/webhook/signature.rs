//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, hex, prefixed `sha256=`. Every active
//! secret is tried (rotation); comparison is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header: set a webhook secret on the GitHub App")]
    Missing,
    #[error("only an X-Hub-Signature (sha1) header was sent; agen accepts sha256 signatures only")]
    Sha1Only,
    #[error("X-Hub-Signature-256 is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("X-Hub-Signature-256 does not match: check that WEBHOOK_SECRET equals the App's webhook secret")]
    Mismatch,
}

/// HMAC states keyed once at start; each check clones one instead of re-keying.
#[derive(Clone)]
pub struct Verifier {
    keyed: Vec<HmacSha256>,
}

impl Verifier {
    pub fn new(secrets: &[Vec<u8>]) -> Verifier {
        Verifier {
            keyed: secrets
                .iter()
                .map(|s| HmacSha256::new_from_slice(s).expect("HMAC takes keys of any length"))
                .collect(),
        }
    }

    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let expected = parse_header(header)?;
        let matches = self.keyed.iter().any(|keyed| {
            let mut mac = keyed.clone();
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        });
        if matches {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

fn parse_header(header: &[u8]) -> Result<[u8; 32], SignatureError> {
    let hex_digits = header
        .strip_prefix(b"sha256=")
        .ok_or(SignatureError::Malformed)?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut out).map_err(|_| SignatureError::Malformed)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
