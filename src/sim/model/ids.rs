//! Identifiers in the providers' styles.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// `prefix` followed by `n` random alphanumerics.
pub(crate) fn id(prefix: &str, n: usize) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

/// Seconds since the epoch, for `created` fields.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
