//! From a stored delivery to work: intake (events to commands to jobs), grant syncing, and
//! the texts agen writes on GitHub.

pub mod comments;
pub mod grants;
pub mod intake;
pub mod replies;
