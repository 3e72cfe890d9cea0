//! Starts the session's command from its PID 1 the way `posix_spawn` does: a
//! `clone(CLONE_VM | CLONE_VFORK)` child on a stack of its own, which only makes system calls
//! (no allocation, no locks) and then execs the command. PID 1's memory is not copied, and PID
//! 1 sleeps only until the exec, instead of waiting on a pipe for a forked copy of itself.
//!
//! In the child, in order: stdin from /dev/null, every other descriptor but stdout and stderr
//! closed, the working directory, default signal handling, a new session, the rlimits, no new
//! privileges, an empty capability bounding set, no capabilities, the seccomp filter
//! ([`super::seccomp`]), exec. Any failure is recorded (step and errno) in memory the two share,
//! which PID 1 reads once the child has exited (as glibc's posix_spawn does: no pipe, so no
//! waiting for the exec to close one).

use std::ffi::{c_void, CString};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use super::limits::rlimits;
use super::Limits;
use super::{seccomp, sys};

/// What the child needs, all of it prepared before the clone.
struct ChildArgs {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    stdin: RawFd,
    rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    /// The seccomp filter (its instructions live in [`spawn`]'s frame).
    seccomp: libc::sock_fprog,
    /// Set by the child when a step fails: the step's index, and errno.
    failed_step: AtomicI32,
    errno: AtomicI32,
}

/// The step that failed, as the child reports it.
const STEPS: &[&str] = &[
    "descriptors",
    "chdir",
    "signals",
    "setsid",
    "setrlimit",
    "no_new_privs",
    "capability bounding set",
    "capset",
    "seccomp",
    "exec",
];

/// Starts `command` (looked up in `env`'s `PATH`) with `env` as its whole environment, in
/// `cwd`. Returns its pid. Call only from a single-threaded process (the session's PID 1).
pub fn spawn(
    command: &[String],
    env: &[(String, String)],
    cwd: &Path,
    limits: &Limits,
    limit_address_space: bool,
) -> io::Result<libc::pid_t> {
    let invalid = |_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in the command");
    let (program, _) = command
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")))
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    let cwd = CString::new(cwd.as_os_str().as_bytes()).map_err(invalid)?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    // execvpe searches the caller's PATH; the command's own is the one that counts (as with
    // std's Command). Setting it is sound: this process is single-threaded.
    match env.iter().rev().find(|(k, _)| k == "PATH") {
        Some((_, path)) => std::env::set_var("PATH", path),
        None => std::env::remove_var("PATH"),
    }

    let filter = seccomp::program()?;
    let stdin = std::fs::File::open("/dev/null")?;
    // The child starts on this thread's CPU, which is free while this thread sleeps until the
    // exec (CLONE_VFORK): left to itself, the scheduler may queue it behind a busy CPU while
    // this one idles. It gets the whole mask back once it has exec'd: before, the exec would
    // move it to another CPU (an idle one is slow to wake, and its exit would then wake PID 1
    // across CPUs).
    let affinity = sys::pin_to_this_cpu();
    let args = ChildArgs {
        program: argv[0].as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd.as_ptr(),
        stdin: stdin.as_raw_fd(),
        rlimits: rlimits(limits, limit_address_space),
        seccomp: seccomp::fprog(&filter),
        failed_step: AtomicI32::new(-1),
        errno: AtomicI32::new(0),
    };
    // Room for execvpe (a path buffer, and a new argv when it falls back to /bin/sh).
    // Allocated, not zeroed: only the pages the child touches are ever faulted in.
    let stack_size = 64 * 1024 + argv.len() * 16;
    let mut stack: Vec<u8> = Vec::with_capacity(stack_size);
    // SAFETY: the end of the allocation, rounded down to 16 bytes, as the ABI wants a stack.
    let stack_top = unsafe { stack.as_mut_ptr().add(stack_size) };
    let stack_top = (stack_top as usize & !15) as *mut c_void;

    // No signal handler may run in the child while it shares this memory: block them all
    // around the clone (the child restores an empty mask itself).
    // SAFETY: sigset_t is plain data, filled by sigfillset; pthread_sigmask with valid pointers.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: the child runs `child` on its own stack and, with CLONE_VFORK, this thread
    // sleeps until the child has exec'd or exited, so `args`, the strings and the stack all
    // outlive its use of them; the child only makes system calls (see `child`).
    let pid = unsafe {
        libc::clone(
            child,
            stack_top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &args as *const ChildArgs as *mut c_void,
        )
    };
    let clone_error = io::Error::last_os_error();
    if let Some(mask) = &affinity {
        // Best effort: PID 1 only waits from here on.
        let _ = sys::set_affinity(mask);
    }
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if pid == -1 {
        return Err(io::Error::new(
            clone_error.kind(),
            format!("cannot start {program}: clone: {clone_error}"),
        ));
    }
    // The child has exec'd or exited by now (CLONE_VFORK): its report, if any, is there.
    let step = args.failed_step.load(Ordering::SeqCst);
    if step < 0 {
        return match affinity.map_or(Ok(()), |mask| sys::set_affinity_of(pid, &mask)) {
            Ok(()) => Ok(pid),
            Err(e) => {
                // Never a command held to one CPU.
                // SAFETY: killing and reaping the child just started, with a valid out-pointer.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                Err(e)
            }
        };
    }
    let mut status = 0;
    // SAFETY: reaping the child that just failed, with a valid out-pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let err = io::Error::from_raw_os_error(args.errno.load(Ordering::SeqCst));
    let step = STEPS.get(step as usize).copied().unwrap_or("?");
    let what = if step == "exec" {
        format!("cannot start {program}: {err}")
    } else {
        format!("cannot start {program}: {step}: {err}")
    };
    Err(io::Error::new(err.kind(), what))
}

/// The child: system calls only, since it shares PID 1's memory (and its errno).
extern "C" fn child(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` is the ChildArgs the parent keeps alive until this child execs or exits.
    let args = unsafe { &*(arg as *const ChildArgs) };
    // SAFETY: each call below is a plain system call wrapper on prepared, valid arguments.
    unsafe {
        if libc::dup2(args.stdin, 0) == -1 {
            fail(args, 0);
        }
        // Only stdin, stdout and stderr go along: not what agen itself inherited without
        // close-on-exec (its caller's descriptors), nor anything else.
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) == -1 {
            fail(args, 0);
        }
        if libc::chdir(args.cwd) == -1 {
            fail(args, 1);
        }
        // agen ignores SIGPIPE, and ignored signals survive exec: give the command defaults.
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        if libc::signal(libc::SIGPIPE, libc::SIG_DFL) == libc::SIG_ERR
            || libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0
        {
            fail(args, 2);
        }
        if libc::setsid() == -1 {
            fail(args, 3);
        }
        for (resource, limit) in &args.rlimits {
            if libc::setrlimit(*resource, limit) == -1 {
                fail(args, 4);
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 {
            fail(args, 5);
        }
        // Empty the bounding set too (while CAP_SETPCAP is still held): the command can
        // never regain a capability, whatever it execs. EINVAL marks the first number past
        // the kernel's last capability.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 {
                if *libc::__errno_location() == libc::EINVAL {
                    break;
                }
                fail(args, 6);
            }
        }
        if sys::drop_all_capabilities_raw() == -1 {
            fail(args, 7);
        }
        // Last, right before the exec (which it must allow): nothing of agen's runs under it.
        // No new privileges (above) is what lets an unprivileged process install it.
        if seccomp::install_raw(&args.seccomp) == -1 {
            fail(args, 8);
        }
        libc::execvpe(args.program, args.argv, args.envp);
        fail(args, 9)
    }
}

/// Records the failed step and errno for the parent and exits.
unsafe fn fail(args: &ChildArgs, step: i32) -> ! {
    args.errno
        .store(*libc::__errno_location(), Ordering::SeqCst);
    args.failed_step.store(step, Ordering::SeqCst);
    libc::_exit(127)
}
