//! Per-process limits (rlimits), set in the command's process right before exec.
//!
//! rlimits are the floor that holds on every host; cgroups ([`super::cgroup`]) add limits for
//! the whole tree where agen may create them.

use super::Limits;

/// The command's rlimits, as (resource, limit) pairs to set right before exec.
/// `limit_address_space` is for hosts without a memory cgroup: RLIMIT_AS is crude (it counts
/// reserved, not used, memory) but better than nothing.
pub fn rlimits(
    limits: &Limits,
    limit_address_space: bool,
) -> Vec<(libc::__rlimit_resource_t, libc::rlimit)> {
    let pair = |resource, soft, hard| {
        (
            resource,
            libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            },
        )
    };
    // Whole seconds, rounded up: the tree's watch holds the exact figure.
    let cpu = limits.cpu_time.as_secs_f64().ceil().max(1.0) as u64;
    let mut out = vec![
        // A second of grace between SIGXCPU (catchable) and SIGKILL.
        pair(libc::RLIMIT_CPU, cpu, cpu + 1),
        pair(
            libc::RLIMIT_FSIZE,
            limits.max_file_bytes,
            limits.max_file_bytes,
        ),
        pair(
            libc::RLIMIT_NPROC,
            limits.max_processes,
            limits.max_processes,
        ),
        pair(libc::RLIMIT_CORE, 0, 0),
    ];
    if limit_address_space {
        out.push(pair(
            libc::RLIMIT_AS,
            limits.memory_bytes,
            limits.memory_bytes,
        ));
    }
    out
}
