use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::*;
use crate::sandbox::Limits;

fn spec() -> InitSpec {
    InitSpec {
        worktree: Some(PathBuf::from("/data/jobs/7/work")),
        command: vec!["sh".into(), "-c".into(), "echo ünïcode \"quoted\"".into()],
        env: vec![("AGEN_ROUND".into(), "2".into())],
        limits: Limits::default(),
        hide: vec![PathBuf::from("/data")],
        mounts: vec![PathBuf::from("/root/.rustup")],
        mount_sources: vec![PathBuf::from("/not/sent")],
        system: Some(PathBuf::from("/data/images/sha256-ab/rootfs")),
        system_source: Some(PathBuf::from("/not/sent/either")),
        workdir: PathBuf::from("/work/sub"),
        binds: vec![crate::sandbox::Bind {
            host: PathBuf::from("/data/caches/1/ab"),
            inside: PathBuf::from("/tmp/.cargo/registry"),
            writable: false,
        }],
        bind_sources: vec![PathBuf::from("/not/sent/at/all")],
        cgroup_tasks: vec![PathBuf::from("/sys/fs/cgroup/agen/s1/cgroup.procs")],
        cgroup_home: Vec::new(),
        host_uid: 1000,
        limit_address_space: true,
        parent_pid: 42,
        leave_first: false,
        services: vec![5432, 6379],
        programs: Vec::new(),
    }
}

#[test]
fn a_spec_sent_by_agen_is_the_spec_the_init_reads() {
    // Larger than one read of the init's buffer, so the length prefix and the rest arrive
    // in several pieces.
    let mut sent = spec();
    sent.env.push(("BIG".into(), "x".repeat(40 * 1024)));
    let (agen, init) = UnixStream::pair().unwrap();
    let (channel, _agen_end) = UnixStream::pair().unwrap();
    let writer = std::thread::spawn(move || {
        send_spec(&agen, &channel, &sent).unwrap();
        go(&agen).unwrap();
        sent
    });
    let (read, egress_channel) = read_spec(&init).unwrap();
    wait_for_go(&init).unwrap();
    let sent = writer.join().unwrap();
    assert_eq!(read.worktree, sent.worktree);
    assert_eq!(read.command, sent.command);
    assert_eq!(read.env, sent.env);
    assert_eq!(read.limits, sent.limits);
    assert_eq!(read.hide, sent.hide);
    assert_eq!(read.mounts, sent.mounts);
    assert!(read.mount_sources.is_empty(), "set by the init, never sent");
    assert_eq!(read.system, sent.system);
    assert_eq!(read.system_source, None, "set by the init, never sent");
    assert_eq!(read.workdir, sent.workdir);
    assert_eq!(read.binds, sent.binds);
    assert!(read.bind_sources.is_empty(), "set by the init, never sent");
    assert_eq!(read.cgroup_tasks, sent.cgroup_tasks);
    assert_eq!(
        (read.host_uid, read.limit_address_space, read.parent_pid),
        (1000, true, 42)
    );
    assert_eq!(read.services, [5432, 6379]);
    // The descriptor that came with the spec is a live socket.
    assert!(
        std::fs::read_link(format!("/proc/self/fd/{}", egress_channel.as_raw_fd()))
            .unwrap()
            .to_string_lossy()
            .starts_with("socket:")
    );
}

#[test]
fn a_spec_cut_short_or_followed_by_more_is_an_error() {
    let (agen, init) = UnixStream::pair().unwrap();
    (&agen).write_all(&100u32.to_le_bytes()).unwrap();
    (&agen).write_all(b"{\"worktree\":").unwrap();
    drop(agen);
    let e = read_spec(&init).err().expect("an error");
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");

    let (agen, init) = UnixStream::pair().unwrap();
    let (channel, _agen_end) = UnixStream::pair().unwrap();
    send_spec(&agen, &channel, &spec()).unwrap();
    (&agen).write_all(b"more").unwrap();
    read_spec(&init).unwrap();
    assert!(
        wait_for_go(&init).is_err(),
        "data after the spec is not the go"
    );
}

#[test]
fn a_spec_without_its_channel_is_refused() {
    let (agen, init) = UnixStream::pair().unwrap();
    let framed = frame(&spec()).unwrap();
    (&agen).write_all(&framed).unwrap();
    let e = read_spec(&init).err().expect("an error");
    assert!(e.to_string().contains("no egress channel"), "{e}");
}
