//! From a stored delivery to a pull request: intake (events to commands to jobs), grant
//! syncing, and workers that run jobs (rounds in the sandbox, then publish). What they write
//! on GitHub is [`crate::texts`].

pub mod agent_files;
pub mod agents;
pub mod checks;
pub mod context;
pub mod grants;
pub mod intake;
pub mod publish;
pub mod replies;
pub mod retention;
pub mod rounds;
pub mod run;
pub mod scan;
pub mod session_log;
pub mod target;
pub mod task;
pub mod timings;
pub mod transcript;
pub mod worker;
