//! agen: signed GitHub webhooks in, sandboxed agent jobs out, answered as pull requests.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; integration tests drive the
//! same library against the GitHub simulator in `sim` (the `sim` feature, a default one, with
//! `agen demo`; a production build can leave it out with `--no-default-features`).

pub mod budget;
pub mod cli;
pub mod cli_sandbox;
pub mod command;
pub mod config;
#[cfg(feature = "sim")]
pub mod demo;
#[cfg(feature = "sim")]
pub mod demo_agent;
pub mod edge;
pub mod event;
pub mod gateway;
pub mod github;
pub mod grant;
pub mod ids;
pub mod image;
pub mod job;
pub mod markdown;
pub mod outcome;
pub mod policy;
pub mod repo_config;
pub mod sandbox;
pub mod server;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod texts;
pub mod web;
pub mod webhook;
pub mod workspace;

#[cfg(test)]
mod layering;
