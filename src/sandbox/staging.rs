//! As root, before dropping root: the host directories to show (and the system root) may lie
//! where the session's uid cannot reach (e.g. under a 0700 /root, or agen's data dir). They
//! are bound, in a private mount namespace of root's, where that uid can reach them.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::sys;

/// Where [`stage_mounts`] binds the host directories, in a private mount namespace.
const STAGING: &str = "/tmp";

/// As root, before dropping root: the host directories to show (and the system root) may lie where the session's
/// uid cannot reach (e.g. under a 0700 /root). In a private mount namespace of root's (the
/// session's namespaces are made from it), each is bound at `STAGING/<index>` on a tmpfs,
/// reachable by anyone (the new root covers it later, after [`super::mounts`] opened them).
/// Returns where each is bound from then.
pub(super) fn stage_mounts(mounts: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    if mounts.is_empty() {
        return Ok(Vec::new());
    }
    sys::unshare(libc::CLONE_NEWNS)?;
    super::mounts::make_private()?;
    let named = |host: &Path| {
        let host = host.display().to_string();
        move |e: io::Error| io::Error::new(e.kind(), format!("mount {host}: {e}"))
    };
    // Opened first: one may lie under STAGING, which the tmpfs below covers.
    let opened = mounts
        .iter()
        .map(|host| {
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(host)
                .map_err(named(host))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let staging = Path::new(STAGING);
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(
        None,
        staging,
        Some("tmpfs"),
        flags,
        Some("mode=0755,size=64k"),
    )?;
    mounts
        .iter()
        .zip(&opened)
        .enumerate()
        .map(|(index, (host, file))| {
            let place = staging.join(index.to_string());
            fs::create_dir(&place)?;
            fs::set_permissions(&place, fs::Permissions::from_mode(0o755))?;
            let source = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            sys::mount(
                Some(&source),
                &place,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )
            .map_err(named(host))?;
            Ok(place)
        })
        .collect()
}
