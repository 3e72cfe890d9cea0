//! The system a job's sessions run on: the host's, or an image — the repository's
//! `environment` (an image, or the `image` of its devcontainer.json), else the server's
//! `AGEN_DEFAULT_IMAGE` — pulled and unpacked before the workspace is made.

use super::context::JobContext;
use super::job_run::JobError;
use crate::github::repo::RepoClient;
use crate::image::Unpacked;
use crate::markdown::code_span;
use crate::repo_config::{Environment, RepoConfig};
use crate::sandbox::WORKTREE_INSIDE;

pub const DEVCONTAINER: &str = ".devcontainer/devcontainer.json";

/// An image a job's sessions run on.
#[derive(Clone, Debug)]
pub struct System {
    pub image: Unpacked,
    /// What the status comment says of it, as a Markdown sentence.
    pub note: String,
}

/// The job's system: `None`, the host's; else the unpacked image.
pub async fn resolve(
    ctx: &JobContext,
    client: &RepoClient<'_>,
    config: &RepoConfig,
) -> Result<Option<System>, JobError> {
    let (image, from) = match &config.environment {
        Some(Environment::Image(image)) => (image.clone(), String::new()),
        Some(Environment::Devcontainer) => (
            devcontainer_image(client).await?,
            format!(
                ", the `image` of {}: its other keys (a build, features, lifecycle commands) \
                 are ignored",
                code_span(DEVCONTAINER)
            ),
        ),
        None => match &ctx.settings.default_image {
            Some(image) => (image.clone(), ", the server's default".to_string()),
            None => return Ok(None),
        },
    };
    let images = ctx.images.as_ref().ok_or_else(|| {
        JobError::User(format!(
            "this agen worker has no image cache, so the image {} cannot be used; ask the \
             server's operator to check AGEN_DATA_DIR",
            code_span(&image)
        ))
    })?;
    let unpacked = images
        .prepare(&image)
        .await
        .map_err(|e| JobError::User(e.to_string()))?;
    if let Some(problem) = unmountable(&ctx.settings.environment.mounts, &unpacked.rootfs) {
        return Err(JobError::User(format!(
            "{problem} in the image {}; add that directory to the image (`RUN mkdir -p …`), \
             or ask the server's operator to mount it elsewhere",
            code_span(&image)
        )));
    }
    tracing::info!(
        image,
        digest = unpacked.digest,
        "the job's system is an image"
    );
    let note = format!(
        "Sessions run on the image {} ({}){from}.",
        code_span(&image),
        code_span(&unpacked.digest)
    );
    Ok(Some(System {
        image: unpacked,
        note,
    }))
}

/// The first of the server's `mounts` an image's read-only system cannot take: one inside a
/// top-level directory the image has (say `/root/.rustup` where the image has `/root`) needs
/// its mount point there already.
fn unmountable(mounts: &[std::path::PathBuf], rootfs: &std::path::Path) -> Option<String> {
    mounts.iter().find_map(|mount| {
        let relative = mount.strip_prefix("/").ok()?;
        let top = relative.components().next()?;
        let inside = rootfs.join(relative);
        let image_has_top = rootfs.join(top).is_dir();
        (image_has_top && !inside.is_dir()).then(|| {
            format!(
                "AGEN_SANDBOX_MOUNTS shows {} in every session, but there is no such directory \
                 to mount it on",
                code_span(&mount.display().to_string())
            )
        })
    })
}

/// The `image` of the repository's devcontainer.json (on the default branch). Its other keys
/// (features, a Dockerfile build, lifecycle commands) are not used.
async fn devcontainer_image(client: &RepoClient<'_>) -> Result<String, JobError> {
    let path = code_span(DEVCONTAINER);
    let Some(bytes) = client.file(DEVCONTAINER, None).await? else {
        return Err(JobError::User(format!(
            "`environment: {{ devcontainer: true }}` in .github/agen.yml, but the default \
             branch has no {path}; add one with an `image`, or name the image itself \
             (`environment: {{ image: … }}`)"
        )));
    };
    let text = String::from_utf8_lossy(&bytes);
    let value: serde_json::Value = serde_json::from_str(&plain_json(&text)).map_err(|e| {
        JobError::User(format!(
            "{path} is not valid JSON ({e}); fix it, then `/agen retry`"
        ))
    })?;
    match value.get("image").and_then(|v| v.as_str()) {
        Some(image) if !image.trim().is_empty() => Ok(image.trim().to_string()),
        _ => Err(JobError::User(format!(
            "{path} names no `image` (agen does not build a Dockerfile or add features: \
             only the `image` key is used); set `image` there, or name the image in \
             .github/agen.yml (`environment: {{ image: … }}`)"
        ))),
    }
}

/// JSON with comments (`//`, `/* */`) and trailing commas, as devcontainer.json allows, made
/// plain JSON.
fn plain_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            (']' | '}', _) => {
                let kept = out.trim_end().len();
                if out[..kept].ends_with(',') {
                    out.truncate(kept - 1);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Where a session starts in an image: its `WorkingDir` when that lies in the worktree;
/// elsewhere the repository would be out of reach, so the worktree it is.
pub fn workdir(unpacked: &Unpacked) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(unpacked.config.working_dir.as_deref()?);
    dir.starts_with(WORKTREE_INSIDE).then(|| dir.to_path_buf())
}

#[cfg(test)]
mod tests;
