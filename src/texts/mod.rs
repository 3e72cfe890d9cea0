//! Every text agen writes on GitHub, each built by one small function: replies and the status
//! comment ([`comments`]), what a job reports as it moves and ends (its status, the pull
//! request, the commit message, the check run: [`report`]), and the one way text agen did not
//! write is shown ([`untrusted`]). Pure: no I/O. Each comment agen may need to find again ends
//! with a hidden marker naming its [`CommentKey`].

use std::fmt;

use crate::ids::{DeliveryId, JobId};

pub mod comments;
pub mod report;
pub mod untrusted;

/// Which comment agen wrote: its identity in the effect log and in the hidden marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentKey {
    /// The one status comment of a job, edited as the job moves.
    Status(JobId),
    /// The answer to the command that delivery carried.
    Reply(DeliveryId),
}

impl fmt::Display for CommentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommentKey::Status(job) => write!(f, "status:{job}"),
            CommentKey::Reply(delivery) => write!(f, "reply:{delivery}"),
        }
    }
}

/// The hidden marker that ends a comment agen wrote for `key`.
pub fn marker(key: &CommentKey) -> String {
    format!("<!-- agen:{key} -->")
}

/// `body` as agen posts it for `key`: with its marker.
pub fn with_marker(body: &str, key: &CommentKey) -> String {
    format!("{body}\n\n{}", marker(key))
}

#[cfg(test)]
mod tests;
