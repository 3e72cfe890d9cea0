use super::{cgroup2_mount, own_group};
use std::path::PathBuf;

#[test]
fn finds_the_cgroup2_mount() {
    let mountinfo = "22 1 0:21 / /sys rw - sysfs sysfs rw\n\
                     30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(
        cgroup2_mount(mountinfo),
        Some(PathBuf::from("/sys/fs/cgroup"))
    );
    assert_eq!(
        cgroup2_mount("22 1 0:21 / /sys rw - sysfs sysfs rw\n"),
        None
    );
}

#[test]
fn finds_own_v1_group_per_controller() {
    let own = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x\n0::/\n";
    assert_eq!(own_group(own, "memory").as_deref(), Some("process_api/abc"));
    assert_eq!(own_group(own, "cpuacct").as_deref(), Some("x"));
    assert_eq!(own_group(own, "pids"), None);
}
