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
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 || install_raw(prog) == -1 {
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
