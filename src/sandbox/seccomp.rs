//! The session's seccomp filter: a deny list (everything else is allowed, so ordinary
//! toolchains work), compiled with `seccompiler` (pure Rust, no libseccomp) and installed by
//! [`super::spawn`] in the command's child as the very last step before its exec, once no new
//! privileges is set and every capability is gone. agen's own init and PID 1 run unfiltered;
//! only the command and everything it starts carry the filter (it is inherited and can never
//! be removed).
//!
//! Each denied call fails with EPERM:
//!
//! - `socket` and `socketpair` of any family but AF_UNIX, AF_INET and AF_INET6: no AF_VSOCK
//!   (a way to the hypervisor that the network namespace does not cover), AF_NETLINK, AF_PACKET
//!   and the like;
//! - io_uring (`io_uring_setup`, `io_uring_enter`, `io_uring_register`): its operations would
//!   bypass this very filter;
//! - the kernel keyrings (`keyctl`, `add_key`, `request_key`), `bpf`, `perf_event_open`,
//!   `userfaultfd`;
//! - loading kernels and modules (`kexec_load`, `kexec_file_load`, `init_module`,
//!   `finit_module`, `delete_module`), the mount family (`mount`, `umount2`, `pivot_root`,
//!   `move_mount`, `open_tree`, `fsopen`, `fsmount`, `fsconfig`, `fspick`, `mount_setattr`),
//!   `swapon`, `swapoff`, `reboot`;
//! - `personality` with anything but the values ordinary programs use (the query 0xffffffff,
//!   PER_LINUX, PER_LINUX32, UNAME26 and both): no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC,
//!   ADDR_COMPAT_LAYOUT, MMAP_PAGE_ZERO, which weaken ASLR and memory protections;
//! - on x86_64, every x32 system call (numbers with bit 30 set), which the kernel would
//!   otherwise run under other numbers than the ones above.
//!
//! System calls of another architecture (on x86_64: 32-bit `int 0x80`) kill the process:
//! that is how seccompiler checks the architecture, and their numbers would not match the
//! list. ptrace stays allowed (debuggers on the command's own children); PID 1 is out of reach
//! (not dumpable) and the PID namespace hides everything else.

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the session's seccomp filter is written for x86_64 and aarch64 only");

#[cfg(target_arch = "x86_64")]
const ARCH: seccompiler::TargetArch = seccompiler::TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: seccompiler::TargetArch = seccompiler::TargetArch::aarch64;

/// The socket families a session may use.
const FAMILIES: [libc::c_int; 3] = [libc::AF_UNIX, libc::AF_INET, libc::AF_INET6];

/// The personality values a session may set (or query: 0xffffffff): PER_LINUX, PER_LINUX32,
/// UNAME26 and UNAME26 | PER_LINUX32, as Docker's default profile allows.
const PERSONALITIES: [u64; 5] = [0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

/// Denied whatever their arguments.
const DENIED: &[(&str, libc::c_long)] = &[
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("fsopen", libc::SYS_fsopen),
    ("fsmount", libc::SYS_fsmount),
    ("fsconfig", libc::SYS_fsconfig),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
];

/// x86_64's x32 ABI marks its system call numbers with this bit.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One line for agen's start-up log: what the filter denies.
pub fn summary() -> String {
    let names: Vec<&str> = DENIED.iter().map(|(name, _)| *name).collect();
    let x32 = if cfg!(target_arch = "x86_64") {
        ", every x32 call"
    } else {
        ""
    };
    format!(
        "seccomp filter ({}) in every session: EPERM for socket/socketpair other than \
         AF_UNIX, AF_INET, AF_INET6, personality other than 0, 8, 0x20000, 0x20008 and \
         0xffffffff, {}{x32}",
        std::env::consts::ARCH,
        names.join(", ")
    )
}

/// The filter, compiled (allocates: build it before the command's child is cloned).
pub fn program() -> io::Result<BpfProgram> {
    let bad = |e: seccompiler::BackendError| io::Error::other(format!("seccomp filter: {e}"));
    let arg0 = |op, value| SeccompCondition::new(0, SeccompCmpArgLen::Dword, op, value);
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&(_, nr)| (nr, Vec::new())).collect();
    // Conditions of one rule must all hold: a family that is none of the allowed ones.
    let other_family = SeccompRule::new(
        FAMILIES
            .iter()
            .map(|&family| arg0(SeccompCmpOp::Ne, family as u64))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
    )
    .map_err(bad)?;
    rules.insert(libc::SYS_socket, vec![other_family.clone()]);
    rules.insert(libc::SYS_socketpair, vec![other_family]);
    let other_personality = SeccompRule::new(
        PERSONALITIES
            .iter()
            .map(|&value| arg0(SeccompCmpOp::Ne, value))
            .collect::<Result<_, _>>()
            .map_err(bad)?,
    )
    .map_err(bad)?;
    rules.insert(libc::SYS_personality, vec![other_personality]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .map_err(bad)?;
    let program: BpfProgram = filter.try_into().map_err(bad)?;
    Ok(deny_x32(program))
}

/// On x86_64: right after seccompiler's architecture check (its first three instructions,
/// whose jump lands on the fourth), EPERM for every number with the x32 bit set. Jumps in BPF
/// are relative and none crosses the point of insertion, so the rest stays as it was.
#[cfg(target_arch = "x86_64")]
fn deny_x32(mut program: BpfProgram) -> BpfProgram {
    use seccompiler::sock_filter;
    // BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JGE | BPF_K, BPF_RET | BPF_K.
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
    const BPF_RET_K: u16 = 0x06;
    let guard = [
        // seccomp_data.nr is at offset 0.
        sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
    ];
    program.splice(3..3, guard);
    program
}

#[cfg(not(target_arch = "x86_64"))]
fn deny_x32(program: BpfProgram) -> BpfProgram {
    program
}

/// The `sock_fprog` for `program`, which must outlive every use of it.
pub fn fprog(program: &BpfProgram) -> libc::sock_fprog {
    libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        // seccompiler's sock_filter is #[repr(C)] with the kernel's layout, as libc's is.
        filter: program.as_ptr() as *mut libc::sock_filter,
    }
}

/// Installs `prog` on the calling thread: system calls only, so that [`super::spawn`]'s child
/// may call it. Needs no new privileges set (or CAP_SYS_ADMIN). Returns -1 with errno set on
/// failure.
///
/// # Safety
/// `prog` must point to a valid program.
pub unsafe fn install_raw(prog: &libc::sock_fprog) -> libc::c_long {
    libc::syscall(
        libc::SYS_seccomp,
        libc::SECCOMP_SET_MODE_FILTER,
        0 as libc::c_uint,
        prog as *const libc::sock_fprog,
    )
}

#[cfg(test)]
mod tests;
