//! agen: signed GitHub webhooks in, sandboxed agent jobs out, answered as pull requests.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; integration tests drive the
//! same library against the GitHub simulator in [`sim`].

pub mod budget;
pub mod cli;
pub mod cli_sandbox;
pub mod command;
pub mod config;
pub mod demo;
pub mod demo_agent;
pub mod event;
pub mod gateway;
pub mod github;
pub mod ids;
pub mod image;
pub mod job;
pub mod markdown;
pub mod policy;
pub mod repo_config;
pub mod sandbox;
pub mod server;
pub mod sim;
pub mod store;
pub mod web;
pub mod webhook;
pub mod workspace;
