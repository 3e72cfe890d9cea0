//! agen: signed GitHub webhooks in, sandboxed agent jobs out, answered as pull requests.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; integration tests drive the
//! same library against the GitHub simulator in [`sim`].

pub mod command;
pub mod sim;
