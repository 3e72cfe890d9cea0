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
mod tests {
    use super::*;

    /// Runs each probe in a forked child with the filter installed, and (first) in this
    /// process without it: the filter, not the kernel's own checks, must be what says EPERM.
    /// As root, that covers the calls that need a capability too.
    #[test]
    fn denied_calls_get_eperm_only_under_the_filter() {
        let program = program().unwrap();
        let prog = fprog(&program);
        // Arguments that make the kernel fail early with an error other than EPERM (EFAULT,
        // EINVAL, EBADF), so that nothing on the host changes.
        let null = 0usize;
        #[rustfmt::skip]
        let probes: &[(&str, libc::c_long, [usize; 5])] = &[
            ("socket(AF_VSOCK)", libc::SYS_socket, [libc::AF_VSOCK as usize, libc::SOCK_STREAM as usize, 0, 0, 0]),
            ("socket(AF_NETLINK)", libc::SYS_socket, [libc::AF_NETLINK as usize, libc::SOCK_RAW as usize, 0, 0, 0]),
            ("socketpair(AF_NETLINK)", libc::SYS_socketpair, [libc::AF_NETLINK as usize, libc::SOCK_RAW as usize, 0, null, 0]),
            ("io_uring_setup", libc::SYS_io_uring_setup, [1, null, 0, 0, 0]),
            ("io_uring_enter", libc::SYS_io_uring_enter, [usize::MAX >> 32, 0, 0, 0, 0]),
            ("io_uring_register", libc::SYS_io_uring_register, [usize::MAX >> 32, 0, 0, 0, 0]),
            ("keyctl(KEYCTL_GET_KEYRING_ID)", libc::SYS_keyctl, [0, (-3i64) as usize, 0, 0, 0]),
            ("add_key", libc::SYS_add_key, [null, null, null, 0, 0]),
            ("request_key", libc::SYS_request_key, [null, null, null, 0, 0]),
            ("bpf", libc::SYS_bpf, [9999, null, 0, 0, 0]),
            ("perf_event_open", libc::SYS_perf_event_open, [null, 0, usize::MAX, usize::MAX, 0]),
            ("userfaultfd", libc::SYS_userfaultfd, [0x11, 0, 0, 0, 0]),
            ("kexec_file_load", libc::SYS_kexec_file_load, [usize::MAX >> 32, usize::MAX >> 32, 0, null, 0xdead]),
            ("kexec_load", libc::SYS_kexec_load, [0, 0, null, 0xdead_0000, 0]),
            ("init_module", libc::SYS_init_module, [null, 0, null, 0, 0]),
            ("finit_module", libc::SYS_finit_module, [usize::MAX >> 32, null, 0, 0, 0]),
            ("delete_module", libc::SYS_delete_module, [null, 0, 0, 0, 0]),
            ("mount", libc::SYS_mount, [null, null, null, 0, null]),
            ("umount2", libc::SYS_umount2, [null, 0, 0, 0, 0]),
            ("pivot_root", libc::SYS_pivot_root, [null, null, 0, 0, 0]),
            ("move_mount", libc::SYS_move_mount, [usize::MAX >> 32, null, usize::MAX >> 32, null, 0]),
            ("open_tree", libc::SYS_open_tree, [usize::MAX >> 32, null, 0, 0, 0]),
            ("fsopen", libc::SYS_fsopen, [null, 0, 0, 0, 0]),
            ("fsmount", libc::SYS_fsmount, [usize::MAX >> 32, 0, 0, 0, 0]),
            ("fsconfig", libc::SYS_fsconfig, [usize::MAX >> 32, 0, null, null, 0]),
            ("fspick", libc::SYS_fspick, [usize::MAX >> 32, null, 0, 0, 0]),
            ("mount_setattr", libc::SYS_mount_setattr, [usize::MAX >> 32, null, 0, null, 0]),
            ("swapon", libc::SYS_swapon, [null, 0, 0, 0, 0]),
            ("swapoff", libc::SYS_swapoff, [null, 0, 0, 0, 0]),
            ("reboot", libc::SYS_reboot, [0, 0, 0, null, 0]),
        ];
        // SAFETY: geteuid has no arguments.
        let root = unsafe { libc::geteuid() } == 0;
        for &(name, nr, a) in probes {
            match call(nr, a) {
                libc::EPERM if root => panic!("{name}: EPERM without the filter, as root"),
                libc::EPERM => eprintln!("SKIPPED host half of {name}: EPERM unprivileged"),
                libc::ENOSYS => eprintln!("SKIPPED host half of {name}: the host kernel lacks it"),
                _ => {}
            }
            let filtered = under_filter(&prog, nr, a);
            assert_eq!(
                filtered,
                libc::EPERM,
                "{name} under the filter: errno {filtered}"
            );
        }
        // Still allowed: the families and personalities in use, and an unrelated call.
        #[rustfmt::skip]
        let allowed: &[(&str, libc::c_long, [usize; 5])] = &[
            ("socket(AF_INET)", libc::SYS_socket, [libc::AF_INET as usize, libc::SOCK_DGRAM as usize, 0, 0, 0]),
            ("socket(AF_INET6)", libc::SYS_socket, [libc::AF_INET6 as usize, libc::SOCK_DGRAM as usize, 0, 0, 0]),
            ("socket(AF_UNIX)", libc::SYS_socket, [libc::AF_UNIX as usize, libc::SOCK_STREAM as usize, 0, 0, 0]),
            ("personality(query)", libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0]),
            ("personality(PER_LINUX)", libc::SYS_personality, [0, 0, 0, 0, 0]),
            ("getpid", libc::SYS_getpid, [0; 5]),
        ];
        for &(name, nr, a) in allowed {
            let errno = under_filter(&prog, nr, a);
            assert_eq!(errno, 0, "{name} under the filter: errno {errno}");
        }
        let no_aslr = under_filter(&prog, libc::SYS_personality, [0x0040000, 0, 0, 0, 0]);
        assert_eq!(no_aslr, libc::EPERM, "personality(ADDR_NO_RANDOMIZE)");
        #[cfg(target_arch = "x86_64")]
        {
            let x32 = X32_SYSCALL_BIT as libc::c_long;
            let errno = under_filter(&prog, x32 | libc::SYS_io_uring_setup, [1, 0, 0, 0, 0]);
            assert_eq!(errno, libc::EPERM, "x32 io_uring_setup");
        }
    }

    /// The call's errno (0 when it succeeded).
    fn call(nr: libc::c_long, a: [usize; 5]) -> i32 {
        // SAFETY: the probes pass null pointers, invalid descriptors or values the kernel
        // rejects; a descriptor it returns is closed.
        unsafe {
            let ret = libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]);
            if ret == -1 {
                *libc::__errno_location()
            } else {
                if nr == libc::SYS_socket {
                    libc::close(ret as i32);
                }
                0
            }
        }
    }

    /// Forks; the child sets no new privileges, installs the filter, makes the call and exits
    /// with its errno (0: it succeeded).
    fn under_filter(prog: &libc::sock_fprog, nr: libc::c_long, a: [usize; 5]) -> i32 {
        // SAFETY: the child makes system calls only (the harness is multi-threaded) and
        // leaves with _exit.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1
                    || install_raw(prog) == -1
                {
                    libc::_exit(255);
                }
                let ret = libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]);
                libc::_exit(if ret == -1 {
                    *libc::__errno_location()
                } else {
                    0
                });
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status), "status {status}");
            let code = libc::WEXITSTATUS(status);
            assert_ne!(code, 255, "could not install the filter");
            code
        }
    }
}
