//! From a stored delivery to a pull request: intake (events to commands to jobs), grant
//! syncing, workers that run jobs (rounds in the sandbox, then publish), and every text agen
//! writes on GitHub.

pub mod agent_files;
pub mod agents;
pub mod checks;
pub mod comments;
pub mod context;
pub mod grants;
pub mod intake;
pub mod publish;
pub mod replies;
pub mod report;
pub mod retention;
pub mod rounds;
pub mod run;
pub mod scan;
pub mod session_log;
pub mod system;
pub mod target;
pub mod task;
pub mod timings;
pub mod transcript;
pub mod untrusted;
pub mod worker;
