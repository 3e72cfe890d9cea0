//! Checks of a session's inputs before anything starts: the services' ports, the programs and
//! host directories to show, and the worktree, each resolved as the init gets it.

use std::path::{Component, Path, PathBuf};

use super::egress::EGRESS_PORT_INSIDE;
use super::protocol::MAX_SERVICES;
use super::{Bind, LocalService, Program, SandboxError, PROGRAMS_INSIDE, WORKTREE_INSIDE};

/// The services' ports, as the init gets them: each a real port, none the egress proxy's, none
/// given twice.
pub(super) fn service_ports(services: &[LocalService]) -> Result<Vec<u16>, SandboxError> {
    if services.len() > MAX_SERVICES {
        return Err(SandboxError::Invalid(format!(
            "{} services: at most {MAX_SERVICES} per session",
            services.len()
        )));
    }
    let mut ports = Vec::with_capacity(services.len());
    for service in services {
        let port = service.port;
        let problem = if port == 0 {
            Some("port 0 cannot be served".to_string())
        } else if port == EGRESS_PORT_INSIDE {
            Some(format!("port {port} is the egress proxy's"))
        } else if ports.contains(&port) {
            Some(format!("port {port} is given twice"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(SandboxError::Invalid(format!("service: {problem}")));
        }
        ports.push(port);
    }
    Ok(ports)
}

/// The programs, as the init gets them: each name a plain file name, given once; each host
/// path resolved, a regular file that the session's uid may execute (as root, the sessions
/// run as an unprivileged host uid: "others" must be allowed to).
pub(super) fn host_programs(
    programs: &[Program],
    as_root: bool,
) -> Result<Vec<Program>, SandboxError> {
    use std::os::unix::fs::PermissionsExt;
    let mut resolved: Vec<Program> = Vec::with_capacity(programs.len());
    for program in programs {
        let name = &program.name;
        let invalid =
            |problem: String| SandboxError::Invalid(format!("program {name:?}: {problem}"));
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(invalid("not a plain file name".into()));
        }
        if resolved.iter().any(|p| &p.name == name) {
            return Err(invalid("name given twice".into()));
        }
        let shown = program.host_path.display();
        let host_path = program
            .host_path
            .canonicalize()
            .map_err(SandboxError::io(format!("program {name:?}: {shown}")))?;
        let meta = std::fs::metadata(&host_path)
            .map_err(SandboxError::io(format!("program {name:?}: {shown}")))?;
        if !meta.is_file() {
            return Err(invalid(format!("{shown} is not a regular file")));
        }
        let wanted = if as_root { 0o001 } else { 0o111 };
        if meta.permissions().mode() & wanted == 0 {
            return Err(invalid(format!(
                "{shown} is not executable by the session's uid"
            )));
        }
        resolved.push(Program {
            name: name.clone(),
            host_path,
        });
    }
    Ok(resolved)
}

/// Where the session mounts something of its own: no host directory may be shown there.
pub fn reserved_inside(path: &Path) -> bool {
    path == Path::new("/")
        || [WORKTREE_INSIDE, PROGRAMS_INSIDE, "/tmp", "/proc", "/dev"]
            .iter()
            .any(|own| path.starts_with(own) || Path::new(own).starts_with(path))
}

/// The host directories to show, each resolved (the init mounts it at its resolved path).
pub(super) fn host_mounts(mounts: &[PathBuf]) -> Result<Vec<PathBuf>, SandboxError> {
    mounts
        .iter()
        .map(|dir| {
            let shown = dir.display();
            if !dir.is_absolute() {
                return Err(SandboxError::Invalid(format!(
                    "mount {shown}: not an absolute path"
                )));
            }
            let resolved = dir
                .canonicalize()
                .map_err(SandboxError::io(format!("mount {shown}")))?;
            if !resolved.is_dir() {
                return Err(SandboxError::Invalid(format!(
                    "mount {shown}: not a directory"
                )));
            }
            if reserved_inside(&resolved) {
                return Err(SandboxError::Invalid(format!(
                    "mount {shown}: the session mounts its own {} there",
                    resolved.display()
                )));
            }
            Ok(resolved)
        })
        .collect()
}

/// `dir`, absolute and with symbolic links resolved (the init enters it by that path), if it
/// is a directory.
pub(super) fn host_worktree(dir: &Path) -> Result<PathBuf, SandboxError> {
    let resolved = dir
        .canonicalize()
        .map_err(SandboxError::io(format!("worktree {}", dir.display())))?;
    if !resolved.is_dir() {
        return Err(SandboxError::Invalid(format!(
            "worktree {} is not a directory",
            resolved.display()
        )));
    }
    Ok(resolved)
}

/// The system root, resolved, if it is a directory.
pub(super) fn host_system(dir: &Path) -> Result<PathBuf, SandboxError> {
    let resolved = dir
        .canonicalize()
        .map_err(SandboxError::io(format!("system root {}", dir.display())))?;
    if !resolved.is_dir() {
        return Err(SandboxError::Invalid(format!(
            "system root {} is not a directory",
            resolved.display()
        )));
    }
    Ok(resolved)
}

/// The binds with their host directories resolved; each `inside` must be absolute, below
/// `/tmp` and without `..` (the session's `/tmp` is the only place made for them).
pub(super) fn host_binds(binds: &[Bind]) -> Result<Vec<Bind>, SandboxError> {
    binds
        .iter()
        .map(|bind| {
            let inside = &bind.inside;
            let below_tmp = inside.starts_with("/tmp")
                && inside != Path::new("/tmp")
                && inside
                    .components()
                    .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
            if !below_tmp {
                return Err(SandboxError::Invalid(format!(
                    "bind {}: must be an absolute path below /tmp, without `..`",
                    inside.display()
                )));
            }
            let host = bind
                .host
                .canonicalize()
                .map_err(SandboxError::io(format!("bind {}", bind.host.display())))?;
            if !host.is_dir() {
                return Err(SandboxError::Invalid(format!(
                    "bind {}: not a directory",
                    host.display()
                )));
            }
            Ok(Bind {
                host,
                inside: inside.clone(),
                writable: bind.writable,
            })
        })
        .collect()
}

/// Where the command starts: `workdir`, which must be absolute, or [`WORKTREE_INSIDE`].
pub(super) fn workdir(workdir: Option<&Path>) -> Result<PathBuf, SandboxError> {
    match workdir {
        None => Ok(PathBuf::from(WORKTREE_INSIDE)),
        Some(dir) if dir.is_absolute() => Ok(dir.to_path_buf()),
        Some(dir) => Err(SandboxError::Invalid(format!(
            "working directory {}: not an absolute path",
            dir.display()
        ))),
    }
}

#[cfg(test)]
mod tests;
