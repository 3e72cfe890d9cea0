//! The integration tests, one binary: each module was a test file of its own (and is one topic).
//! `cargo test --test api MODULE::` runs one module, e.g. `cargo test --test api sandbox::`.

mod support;

mod agents;
mod conformance;
mod crash;
mod demo;
mod environments;
mod gateway;
mod gateway_bench;
mod images;
mod intake;
mod job_bench;
mod job_budget;
mod job_page;
mod jobs;
mod logs;
mod manifest;
mod robustness;
mod sandbox;
mod sandbox_bench;
mod sandbox_cli;
mod serve_limits;
mod setup_steps;
mod webhook_http;
