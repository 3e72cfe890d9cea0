//! Per-process limits (rlimits), set in the command's process right before exec.
//!
//! rlimits are the floor that holds on every host; cgroups ([`super::cgroup`]) add limits for
//! the whole tree where agen may create them.

use std::io;

use super::sys::check;
use super::Limits;

/// Sets the command's rlimits. `limit_address_space` is for hosts without a memory cgroup:
/// RLIMIT_AS is crude (it counts reserved, not used, memory) but better than nothing.
/// Async-signal-safe apart from error formatting, which only happens on failure.
pub fn apply_rlimits(limits: &Limits, limit_address_space: bool) -> io::Result<()> {
    // A second of grace between SIGXCPU (catchable) and SIGKILL.
    set(libc::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)?;
    set(
        libc::RLIMIT_FSIZE,
        limits.max_file_bytes,
        limits.max_file_bytes,
    )?;
    set(
        libc::RLIMIT_NPROC,
        limits.max_processes,
        limits.max_processes,
    )?;
    set(libc::RLIMIT_CORE, 0, 0)?;
    if limit_address_space {
        set(libc::RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)?;
    }
    Ok(())
}

fn set(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit struct on the stack.
    check(
        "setrlimit",
        unsafe { libc::setrlimit(resource, &lim) }.into(),
    )
    .map(drop)
}
