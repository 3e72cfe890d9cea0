//! Thin, checked wrappers over the few Linux calls the sandbox needs.
//!
//! Each wrapper turns a `-1` into `io::Error` with the call named, so set-up failures read well.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub fn check(what: &str, ret: libc::c_long) -> io::Result<libc::c_long> {
    check_with(|| what.to_string(), ret)
}

/// Like [`check`], with the call's name built only when it failed.
pub fn check_with(what: impl FnOnce() -> String, ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        let err = io::Error::last_os_error();
        Err(io::Error::new(err.kind(), format!("{}: {err}", what())))
    } else {
        Ok(ret)
    }
}

pub fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let source = source.map(cstr).transpose()?;
    let target_c = cstr(target)?;
    let fstype = fstype.map(CString::new).transpose()?;
    let data = data.map(CString::new).transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is a valid NUL-terminated string or null, as mount(2) allows.
    let ret = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    check_with(|| format!("mount {}", target.display()), ret.into()).map(drop)
}

/// Sets mount attributes on `target` and every mount below it (mount_setattr(2), Linux 5.12+).
/// Unlike a bind remount this also reaches submounts (e.g. a bind-mounted /etc/hosts).
pub fn mount_setattr_recursive(target: &Path, attr_set: u64) -> io::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let target_c = cstr(target)?;
    // SAFETY: a valid path and a correctly sized, initialised struct mount_attr.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            target_c.as_ptr(),
            libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check_with(|| format!("mount_setattr {}", target.display()), ret).map(drop)
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;

pub fn pivot_root_here() -> io::Result<()> {
    let dot = c".";
    // SAFETY: pivot_root(".", ".") stacks the old root on top of the new one (see
    // pivot_root(2), NOTES); both arguments are valid strings.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    check("pivot_root", ret)?;
    // SAFETY: detaching the old root, now mounted on ".", with a valid string.
    let ret = unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) };
    check("umount old root", ret.into()).map(drop)
}

/// `fork()`, except that the child is PID 1 of a new PID namespace. Call only from a
/// single-threaded process; the child may then run ordinary Rust code, as after fork (nothing
/// it uses reads the thread id glibc keeps, which the raw system call leaves stale).
pub fn fork_into_new_pid_namespace() -> io::Result<libc::pid_t> {
    let flags = (libc::CLONE_NEWPID | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: clone with no new stack (the child runs on its copy of this one, as after fork)
    // and no pointers.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    check("clone", ret).map(|pid| pid as libc::pid_t)
}

/// Pins this thread to the CPU it is running on. Returns the mask it had, to restore; None
/// (and nothing changed) when that fails.
pub fn pin_to_this_cpu() -> Option<libc::cpu_set_t> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is plain data; the calls get valid pointers and its size.
    unsafe {
        let mut old: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut old) != 0 {
            return None;
        }
        let cpu = usize::try_from(libc::sched_getcpu()).ok()?;
        let mut one: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut one);
        (libc::sched_setaffinity(0, size, &one) == 0).then_some(old)
    }
}

/// Lets this thread run on the CPUs in `mask`.
pub fn set_affinity(mask: &libc::cpu_set_t) -> io::Result<()> {
    set_affinity_of(0, mask)
}

/// Lets process (thread) `pid` run on the CPUs in `mask`.
pub fn set_affinity_of(pid: libc::pid_t, mask: &libc::cpu_set_t) -> io::Result<()> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: a valid mask of the size given.
    check(
        "sched_setaffinity",
        unsafe { libc::sched_setaffinity(pid, size, mask) }.into(),
    )
    .map(drop)
}

pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes flags only.
    check("unshare", unsafe { libc::unshare(flags) }.into()).map(drop)
}

pub fn prctl(what: &str, option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the prctl options used here take one integer argument.
    check(what, unsafe { libc::prctl(option, arg, 0, 0, 0) }.into()).map(drop)
}

pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`.
    let ret = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    check("sethostname", ret.into()).map(drop)
}

/// Becomes `uid`/`gid` with no supplementary groups (used when agen runs as root).
pub fn drop_to(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain credential calls with integer arguments; setgroups gets an empty list.
    unsafe {
        check("setgroups", libc::setgroups(0, std::ptr::null()).into())?;
        check("setresgid", libc::setresgid(gid, gid, gid).into())?;
        check("setresuid", libc::setresuid(uid, uid, uid).into())?;
    }
    Ok(())
}

/// Brings the loopback interface up (a new network namespace starts with it down).
pub fn loopback_up() -> io::Result<()> {
    #[repr(C)]
    struct IfReqFlags {
        name: [u8; libc::IFNAMSIZ],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let mut req = IfReqFlags {
        name: [0; libc::IFNAMSIZ],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: a datagram socket used only for the two interface ioctls, closed below; the
    // request struct has the layout of struct ifreq (name, then the flags member of the union).
    unsafe {
        let sock = check(
            "socket",
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0).into(),
        )? as libc::c_int;
        let result = (|| {
            check(
                "SIOCGIFFLAGS lo",
                libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req).into(),
            )?;
            req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            check(
                "SIOCSIFFLAGS lo",
                libc::ioctl(sock, libc::SIOCSIFFLAGS, &req).into(),
            )
        })();
        libc::close(sock);
        result.map(drop)
    }
}

/// Drops every capability of the calling process (used right before exec of the command).
/// Returns the raw result (-1 with errno set on failure): safe to call in a vfork-style child,
/// being a single raw syscall on stack data.
pub fn drop_all_capabilities_raw() -> libc::c_long {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and two data words, as capset(2) version 3 expects.
    unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) }
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors, which we then own.
    check(
        "pipe2",
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }.into(),
    )?;
    // SAFETY: both descriptors were just created and are not owned elsewhere.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Whether every write end of the pipe `read_end` belongs to has been closed (or, for a Unix
/// stream socket, the peer's end).
pub fn writers_gone(read_end: &impl AsRawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: read_end.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let ret = unsafe { libc::poll(&mut pfd, 1, 0) };
    ret > 0 && pfd.revents & libc::POLLHUP != 0
}

/// Sends `byte` with the descriptor `fd` attached (SCM_RIGHTS) over the Unix socket `sock`.
pub fn send_fd(sock: RawFd, byte: u8, fd: RawFd) -> io::Result<()> {
    send_with_fd(sock, &[byte], fd, 0).map(drop)
}

/// Sends (the start of) `data` with the descriptor `fd` attached to it; how much went out.
/// `flags` adds to MSG_NOSIGNAL (e.g. MSG_DONTWAIT).
pub fn send_with_fd(sock: RawFd, data: &[u8], fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // u64 words keep the control buffer aligned for struct cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // SAFETY: msghdr is plain data; zero is a valid start for every field.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: the control buffer holds one cmsghdr with room for one descriptor (`space` is
    // at most 24 bytes here, the buffer 64), and the message points only at live locals.
    let ret = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL | flags)
    };
    check("sendmsg", ret as libc::c_long).map(|n| n as usize)
}

/// A descriptor that becomes readable when process `pid` (a child) has exited.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags; the result is a new descriptor we own.
    let fd = check("pidfd_open", unsafe {
        libc::syscall(libc::SYS_pidfd_open, pid, 0)
    })?;
    // SAFETY: just created, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Reads what `sock` has (blocking unless it is non-blocking) into `buf`; descriptors that
/// came along are returned, close-on-exec. `Ok((0, _))` is the end of the stream.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; zero is a valid start for every field.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: the message points at `buf` and `control`, both live and of the given sizes.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    let n = check("recvmsg", n as libc::c_long)? as usize;
    let mut fds = Vec::new();
    // SAFETY: walking the control messages the kernel just wrote, with the CMSG_* helpers;
    // each SCM_RIGHTS descriptor is new in this process and owned by nobody else.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                let len = (*cmsg).cmsg_len - libc::CMSG_LEN(0) as usize;
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n, fds))
}

/// SIGCHLD as a readable descriptor: blocks the signal for this thread (children inherit the
/// mask; the sandbox's spawn clears it before exec) and opens a signalfd for it.
pub struct SigchldFd(OwnedFd);

impl SigchldFd {
    pub fn new() -> io::Result<SigchldFd> {
        // SAFETY: sigset_t is plain data set up by sigemptyset/sigaddset; valid pointers.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::other("cannot block SIGCHLD"));
            }
            let fd = check(
                "signalfd",
                libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK).into(),
            )?;
            Ok(SigchldFd(OwnedFd::from_raw_fd(fd as RawFd)))
        }
    }

    /// Reads the pending notifications (the caller reaps with waitpid anyway).
    pub fn drain(&self) {
        let mut info = [0u8; 128 * 4];
        // SAFETY: reading into a local buffer of the given size; non-blocking descriptor.
        while unsafe { libc::read(self.0.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) } > 0 {}
    }
}

impl AsRawFd for SigchldFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// What /proc/self/stat tells of this process: its thread count, and where its command line
/// and initial environment strings lie.
#[derive(Clone, Copy, Debug)]
pub struct SelfStat {
    pub threads: usize,
    arg: (usize, usize),
    env: (usize, usize),
}

impl SelfStat {
    pub fn read() -> io::Result<SelfStat> {
        let stat = read_small(Path::new("/proc/self/stat"))?;
        let bad = || io::Error::other("unreadable /proc/self/stat");
        // Fields after the command name (which may hold spaces and parentheses); the first of
        // them is field 3 of proc(5).
        let rest = stat.rsplit_once(')').ok_or_else(bad)?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| -> io::Result<usize> {
            fields
                .get(n - 3)
                .and_then(|f| f.parse().ok())
                .ok_or_else(bad)
        };
        Ok(SelfStat {
            threads: field(20)?,
            arg: (field(48)?, field(49)?),
            env: (field(50)?, field(51)?),
        })
    }
}

/// In a child forked from agen: `control` becomes stdin, `output` stdout and stderr, and every
/// other descriptor is closed, so the child holds what an executed init would. Returns the
/// control socket (stdin).
pub fn adopt_init_descriptors(control: OwnedFd, output: OwnedFd) -> io::Result<OwnedFd> {
    // Out of the way first (the originals may sit on 0 to 2 themselves). The originals are
    // closed by close_range below, so they are released as raw descriptors here.
    let high = |fd: OwnedFd| -> io::Result<RawFd> {
        let fd = fd.into_raw_fd();
        // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new one.
        check(
            "fcntl",
            unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) }.into(),
        )
        .map(|fd| fd as RawFd)
    };
    let (control, output) = (high(control)?, high(output)?);
    // SAFETY: dup2 onto the standard descriptors, then close_range above: afterwards this
    // process owns exactly descriptors 0 to 2, and returns 0 as an OwnedFd; the values owned
    // elsewhere in this copy of agen are never used again (the caller exits without
    // returning).
    unsafe {
        for (from, to) in [(control, 0), (output, 1), (output, 2)] {
            check("dup2", libc::dup2(from, to).into())?;
        }
        check(
            "close_range",
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32),
        )?;
        Ok(OwnedFd::from_raw_fd(0))
    }
}

/// Overwrites this process's command line with `cmdline` (NUL-separated, padded with NULs)
/// and its initial environment with NULs, and empties the environment: what
/// /proc/<pid>/cmdline and environ show of a child forked from agen. `stat` is this process's
/// (or, in a forked child, its parent's: the addresses are the same).
pub fn scrub_process_strings(stat: &SelfStat, cmdline: &[u8]) {
    let (arg_start, arg_end) = stat.arg;
    let (env_start, env_end) = stat.env;
    // SAFETY: clearenv drops libc's environment array (this process is single-threaded).
    // The ranges are this process's own argument and environment strings at the top of its
    // initial stack, which nothing reads afterwards (the environment is empty now, and the
    // arguments were parsed long ago).
    unsafe {
        libc::clearenv();
        if arg_end > arg_start {
            let len = arg_end - arg_start;
            std::ptr::write_bytes(arg_start as *mut u8, 0, len);
            // The last byte stays NUL (else the kernel reads past it as a retitled process).
            let keep = cmdline.len().min(len - 1);
            std::ptr::copy_nonoverlapping(cmdline.as_ptr(), arg_start as *mut u8, keep);
        }
        if env_end > env_start {
            std::ptr::write_bytes(env_start as *mut u8, 0, env_end - env_start);
        }
    }
}

/// RLIMIT_CORE 0: a crash of this process writes no core file (with agen's memory in it).
pub fn no_core_dumps() -> io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit on the stack.
    check(
        "setrlimit",
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) }.into(),
    )
    .map(drop)
}

/// The text of a small file (procfs, cgroupfs), read without the size probe
/// `fs::read_to_string` makes first (these files report no size anyway).
pub fn read_small(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(buf).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}
