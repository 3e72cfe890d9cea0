//! The session's filesystem: a fresh tmpfs root with the system directories read-only (the
//! host's, or every top-level entry of a system root directory such as an unpacked image), the
//! worktree read-write at [`WORKTREE_INSIDE`], private /tmp, /proc and a minimal /dev,
//! the spec's programs read-only under [`PROGRAMS_INSIDE`], and the configured host
//! directories read-only at their own paths.
//! Anything not listed here (/root, /home, agen's data dir, keys, other worktrees) simply does
//! not exist inside.
//!
//! What /proc/self/mountinfo shows inside: mount points as the session sees them, and, as each
//! bind mount's root (field 4), the path of the bound directory or file within its own
//! filesystem. The kernel computes that from the bound dentry itself: binding through a
//! staging directory, another mount namespace or `/proc/self/fd/N` leaves it unchanged. So the
//! worktree's line names the host worktree's path below the mount point of the filesystem
//! that holds it (all of it when that is the host's root filesystem: keep agen's data dir on a
//! filesystem of its own to show only `/jobs/<id>/work` there), and each program's line its host
//! file's. A masked path ([`RootPlan::hide`]) shows as a mount point, where it also shows in a
//! listing of its shared directory.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::sys::{self, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
use super::{Bind, Program, PROGRAMS_INSIDE, WORKTREE_INSIDE};

/// Host directories shared read-only, so the host's toolchains work inside.
const SYSTEM_DIRS: &[&str] = &[
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc",
];

/// Device nodes bind-mounted from the host.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Where the new root is assembled, in the session's private mount namespace. Mounting over
/// the host's /tmp there does not touch the host's /tmp, and every uid can reach it (agen's
/// data dir may not be reachable once agen's privileges are dropped).
const NEW_ROOT: &str = "/tmp";

pub struct RootPlan<'a> {
    /// Where the system comes from: `None`, the host's [`SYSTEM_DIRS`]; `Some(dir)`, every
    /// top-level entry of `dir` but those the session mounts itself (the staged place of
    /// [`super::SessionSpec::system`], or that directory itself).
    pub system: Option<&'a Path>,
    /// Host paths to mask if they fall inside a shared system directory.
    pub hide: &'a [PathBuf],
    /// Size of /tmp, and of a fresh worktree.
    pub tmp_bytes: u64,
    pub worktree: Worktree,
    /// Host files (resolved paths) to mount read-only under [`PROGRAMS_INSIDE`].
    pub programs: &'a [Program],
    /// Host directories (resolved paths) shown read-only at the same path.
    pub mounts: &'a [PathBuf],
    /// Where each of `mounts` is bound from (the host path, or its staging place).
    pub mount_sources: &'a [PathBuf],
    /// Host directories bound under the session's /tmp.
    pub binds: &'a [Bind],
    /// Where each of `binds` is bound from (the host path, or its staging place).
    pub bind_sources: &'a [PathBuf],
    /// The uid and gid (as the caller sees them) the command runs as: the directories made
    /// on the way to a bind are its.
    pub owner: (u32, u32),
}

/// What appears at [`WORKTREE_INSIDE`].
pub enum Worktree {
    /// The caller's working directory (the host worktree, see [`super::init`]).
    CurrentDir,
    /// An empty tmpfs owned by `owner` (uid, gid as the caller sees them).
    Fresh { owner: (u32, u32) },
}

/// Makes every mount of this (new) mount namespace private: nothing done from here on
/// propagates back to the host.
pub(super) fn make_private() -> io::Result<()> {
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
}

/// Builds the new root and makes it `/`. Must run in the new mount and PID namespaces.
pub fn enter_new_root(plan: &RootPlan) -> io::Result<()> {
    let flags = libc::MS_NOSUID | libc::MS_NODEV;
    make_private()?;
    // Before the new root covers NEW_ROOT, where a program may lie.
    let programs = open_programs(plan.programs)?;
    let mounts = open_mounts(plan)?;
    let binds = open_dirs(
        plan.bind_sources,
        plan.binds.iter().map(|b| b.inside.as_path()),
    )?;
    let system = plan
        .system
        .map(|dir| open_path(dir, libc::O_DIRECTORY))
        .transpose()
        .map_err(|e| io::Error::new(e.kind(), format!("system root: {e}")))?;
    let root = Path::new(NEW_ROOT);
    sys::mount(None, root, Some("tmpfs"), flags, Some("mode=0755,size=1m"))?;

    let mut shared = Vec::new();
    match &system {
        None => {
            let names = SYSTEM_DIRS.iter().map(|name| name.to_string());
            share_entries(Path::new("/"), root, names, &mut shared)?;
        }
        Some(dir) => share_system(&fd_path(dir), root, !plan.programs.is_empty(), &mut shared)?,
    }
    for hidden in plan.hide {
        mask(root, hidden)?;
    }
    // After the masks, so that they are read-only too.
    for inside in &shared {
        sys::mount_setattr_recursive(
            inside,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        )?;
    }

    let work = root.join(WORKTREE_INSIDE.trim_start_matches('/'));
    fs::create_dir(&work)?;
    match plan.worktree {
        Worktree::CurrentDir => {
            sys::mount(
                Some(Path::new(".")),
                &work,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
            sys::mount_setattr_recursive(&work, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)?;
        }
        Worktree::Fresh { owner: (uid, gid) } => {
            let opts = format!("mode=0755,size={},uid={uid},gid={gid}", plan.tmp_bytes);
            sys::mount(None, &work, Some("tmpfs"), flags, Some(&opts))?;
        }
    }

    mount_programs(root, plan.programs, &programs)?;
    drop(programs);
    drop(system);
    mount_host_dirs(root, plan.mounts, &mounts)?;
    drop(mounts);

    let tmp = root.join("tmp");
    fs::create_dir(&tmp)?;
    let tmp_opts = format!("mode=1777,size={}", plan.tmp_bytes);
    sys::mount(None, &tmp, Some("tmpfs"), flags, Some(&tmp_opts))?;
    mount_binds(root, plan.binds, &binds, plan.owner)?;
    drop(binds);

    let proc = root.join("proc");
    fs::create_dir(&proc)?;
    sys::mount(None, &proc, Some("proc"), flags | libc::MS_NOEXEC, None)?;

    make_dev(&root.join("dev"))?;

    std::env::set_current_dir(root)?;
    sys::pivot_root_here()?;
    std::env::set_current_dir("/")?;
    // The root and /dev tmpfs belong to the uid the command runs as: make them read-only.
    for path in ["/", "/dev"] {
        let remount = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | flags;
        sys::mount(None, Path::new(path), None, remount, None)?;
    }
    Ok(())
}

/// Top-level names of a system root that the session mounts itself, never taken from it.
const OWN_TOP_LEVEL: &[&str] = &["work", "tmp", "proc", "dev"];

/// Shares every top-level entry of the system root `source` (a path through an open
/// descriptor) under `root`, but [`OWN_TOP_LEVEL`]. With `programs`, its `opt` becomes a
/// directory of the new root holding `opt`'s entries (but `agen`, where the programs go),
/// so that [`PROGRAMS_INSIDE`] can be made there.
fn share_system(
    source: &Path,
    root: &Path,
    programs: bool,
    shared: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let names = entry_names(source)?
        .filter(|name| !OWN_TOP_LEVEL.contains(&name.as_str()))
        .filter(|name| !(programs && name == "opt"));
    share_entries(source, root, names, shared)?;
    let opt = source.join("opt");
    if programs && fs::symlink_metadata(&opt).is_ok_and(|m| m.is_dir()) {
        let inside = root.join("opt");
        fs::create_dir(&inside)?;
        fs::set_permissions(&inside, fs::Permissions::from_mode(0o755))?;
        let names = entry_names(&opt)?.filter(|name| name != "agen");
        share_entries(&opt, &inside, names, shared)?;
    }
    Ok(())
}

fn entry_names(dir: &Path) -> io::Result<impl Iterator<Item = String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        // Names that are not UTF-8 are left out: no system needs one at its top.
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names.into_iter())
}

/// Shows each of `names` of `source` at the same name under `target`: a symbolic link is made
/// again (merged-/usr `/bin -> usr/bin` and friends), a directory or file is bound (into
/// `shared`, made read-only later); anything else, or a name not there, is left out.
fn share_entries(
    source: &Path,
    target: &Path,
    names: impl Iterator<Item = String>,
    shared: &mut Vec<PathBuf>,
) -> io::Result<()> {
    for name in names {
        let from = source.join(&name);
        let inside = target.join(&name);
        let meta = match fs::symlink_metadata(&from) {
            Ok(meta) => meta,
            Err(_) => continue,
        };
        if meta.file_type().is_symlink() {
            symlink(fs::read_link(&from)?, &inside)?;
            continue;
        }
        if meta.is_dir() {
            fs::create_dir(&inside)?;
        } else if meta.is_file() {
            fs::File::create(&inside)?;
        } else {
            continue;
        }
        sys::mount(
            Some(&from),
            &inside,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        shared.push(inside);
    }
    Ok(())
}

/// Opens `path` as a path only (O_PATH: no permission needed on the file itself yet).
fn open_path(path: &Path, flags: libc::c_int) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | flags)
        .open(path)
}

/// The magic link that leads to what `file` opened, whatever covers its path now.
fn fd_path(file: &fs::File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

fn program_error(program: &Program) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| {
        io::Error::new(
            e.kind(),
            format!(
                "program {} ({}): {e}",
                program.name,
                program.host_path.display()
            ),
        )
    }
}

/// Each program's host file, opened as a path only (O_PATH: no read or execute permission
/// needed yet), while its host path can still be reached.
fn open_programs(programs: &[Program]) -> io::Result<Vec<fs::File>> {
    programs
        .iter()
        .map(|program| {
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH)
                .open(&program.host_path)
                .map_err(program_error(program))
        })
        .collect()
}

/// Bind-mounts each program's host file (`opened`, see [`open_programs`]), read-only (and
/// nosuid, nodev), at `PROGRAMS_INSIDE/<name>` under `root`. The host file keeps its mode:
/// executable inside if it lets the session's uid execute it.
fn mount_programs(root: &Path, programs: &[Program], opened: &[fs::File]) -> io::Result<()> {
    if programs.is_empty() {
        return Ok(());
    }
    let dir = root.join(PROGRAMS_INSIDE.trim_start_matches('/'));
    fs::create_dir_all(&dir)?;
    // Whatever the umask: every directory on the way is open to the session's uid.
    for made in dir.ancestors().take_while(|d| *d != root) {
        fs::set_permissions(made, fs::Permissions::from_mode(0o755))?;
    }
    for (program, file) in programs.iter().zip(opened) {
        let inside = dir.join(&program.name);
        let named = program_error(program);
        fs::File::create(&inside).map_err(&named)?;
        // The magic link leads to the file opened, whatever covers its host path now.
        let source = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        sys::mount(Some(&source), &inside, None, libc::MS_BIND, None).map_err(&named)?;
        sys::mount_setattr_recursive(
            &inside,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        )
        .map_err(&named)?;
    }
    Ok(())
}

/// Each host directory to show, opened as a path only, while its source can still be reached
/// (a staging place lies under [`NEW_ROOT`]).
fn open_mounts(plan: &RootPlan) -> io::Result<Vec<fs::File>> {
    open_dirs(plan.mount_sources, plan.mounts.iter().map(PathBuf::as_path))
}

/// Each of `sources` opened as a directory (`O_PATH`); errors name what it is `shown` as.
fn open_dirs<'a>(
    sources: &[PathBuf],
    shown: impl Iterator<Item = &'a Path>,
) -> io::Result<Vec<fs::File>> {
    sources
        .iter()
        .zip(shown)
        .map(|(source, shown)| {
            fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                .open(source)
                .map_err(|e| io::Error::new(e.kind(), format!("mount {}: {e}", shown.display())))
        })
        .collect()
}

/// Binds each of `binds` (`opened`) at its place under the session's /tmp (in `root`),
/// making the directories on the way; read-only unless writable, always nosuid and nodev.
fn mount_binds(
    root: &Path,
    binds: &[Bind],
    opened: &[fs::File],
    (uid, gid): (u32, u32),
) -> io::Result<()> {
    for (bind, file) in binds.iter().zip(opened) {
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("bind {}: {e}", bind.inside.display()));
        let inside = root.join(bind.inside.strip_prefix("/").unwrap_or(&bind.inside));
        let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        if !bind.writable {
            attrs |= MOUNT_ATTR_RDONLY;
        }
        let made = |dir: &Path| std::os::unix::fs::chown(dir, Some(uid), Some(gid));
        bind_dir(file, &inside, attrs, made).map_err(named)?;
    }
    Ok(())
}

/// Binds the opened directory `file` at `inside`, first making the directories on the way
/// (each handed to `made`, to set its owner or mode), then sets `attrs` on the whole tree.
fn bind_dir(
    file: &fs::File,
    inside: &Path,
    attrs: u64,
    made: impl Fn(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let mut missing: Vec<&Path> = inside
        .ancestors()
        .take_while(|d| fs::symlink_metadata(d).is_err())
        .collect();
    missing.reverse();
    for dir in missing {
        fs::create_dir(dir)?;
        made(dir)?;
    }
    let source = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    sys::mount(
        Some(&source),
        inside,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    sys::mount_setattr_recursive(inside, attrs)
}

/// Bind-mounts each host directory (`opened`, see [`open_mounts`]) read-only, nosuid, nodev
/// at its own path under `root`, making the mount point (and any directory on the way, open
/// to the session's uid) where the root has none yet.
fn mount_host_dirs(root: &Path, mounts: &[PathBuf], opened: &[fs::File]) -> io::Result<()> {
    for (shown, file) in mounts.iter().zip(opened) {
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("mount {}: {e}", shown.display()));
        let inside = root.join(shown.strip_prefix("/").unwrap_or(shown));
        let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        let made = |dir: &Path| fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
        bind_dir(file, &inside, attrs, made).map_err(named)?;
    }
    Ok(())
}

fn make_dev(dev: &Path) -> io::Result<()> {
    fs::create_dir(dev)?;
    let flags = libc::MS_NOSUID | libc::MS_NOEXEC;
    sys::mount(None, dev, Some("tmpfs"), flags, Some("mode=0755,size=64k"))?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let inside = dev.join(name);
        fs::File::create(&inside)?;
        sys::mount(Some(&host), &inside, None, libc::MS_BIND, None)?;
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(target, dev.join(link))?;
    }
    let shm = dev.join("shm");
    fs::create_dir(&shm)?;
    sys::mount(
        None,
        &shm,
        Some("tmpfs"),
        flags | libc::MS_NODEV,
        Some("mode=1777,size=64m"),
    )
}

/// Covers `hidden` (if it shows through a shared directory) with an empty tmpfs, or, for a
/// file, with /dev/null (which then cannot even be opened: the shared dirs are nodev).
fn mask(root: &Path, hidden: &Path) -> io::Result<()> {
    let inside = root.join(hidden.strip_prefix("/").unwrap_or(hidden));
    match fs::metadata(&inside) {
        Ok(meta) if meta.is_dir() => sys::mount(
            None,
            &inside,
            Some("tmpfs"),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            Some("size=4k"),
        ),
        Ok(_) => sys::mount(
            Some(Path::new("/dev/null")),
            &inside,
            None,
            libc::MS_BIND,
            None,
        ),
        // Not there, or not reachable with the session's credentials: nothing to hide.
        Err(_) => Ok(()),
    }
}
