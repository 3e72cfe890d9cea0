//! The workspace's tests, by topic, on a fixture repository ([`support`]).

mod bench;
mod commit;
mod job;
mod spare;
mod stage;
pub(super) mod support;
