//! The two processes' work. [`intake`]: from a stored delivery to its effects (events to
//! commands, a file per command, to queued jobs; installation syncing). [`worker`]: from a
//! queued job to its ending (the pipeline: target, workspace, rounds in the sandbox, checks
//! before a push, publish). What they write on GitHub is [`crate::texts`]; the one status
//! comment both edit is [`status`].

pub mod intake;
pub mod logs;
pub mod status;
pub mod worker;
