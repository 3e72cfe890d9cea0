//! What every job needs, built once per process and shared by its workers.

use std::sync::Arc;

use crate::config::{Config, JobSettings};
use crate::gateway::Gateway;
use crate::github::GitHub;
use crate::image::Images;
use crate::repo_config::ServerCaps;
use crate::sandbox::{Program, Sandbox};
use crate::store::Store;
use crate::workspace::{Identity, Workspaces};

pub struct JobContext {
    pub store: Store,
    pub github: Arc<GitHub>,
    pub sandbox: Arc<dyn Sandbox>,
    pub workspaces: Arc<Workspaces>,
    pub settings: JobSettings,
    /// The server's limits and defaults (a repository's config may tighten them).
    pub caps: ServerCaps,
    /// For links to the job's page.
    pub public_url: String,
    /// Values that must never be pushed or shown (webhook secrets, model providers' keys);
    /// minted tokens are added per job.
    pub server_secrets: Vec<String>,
    /// Where session logs are kept (`<data dir>/logs/job-<id>.log`).
    pub log_dir: std::path::PathBuf,
    /// `<data dir>/caches`: a directory per repository for its `cache:` entries.
    pub cache_dir: std::path::PathBuf,
    /// Who agen's commits are by: the App's bot user.
    pub bot: Identity,
    /// How sessions reach their models.
    pub gateway: Gateway,
    /// Host programs every session finds under `/opt/agen/bin` (the demo's agent).
    pub programs: Vec<Program>,
    /// Where images come from, for repositories (or a server default) that name one;
    /// `None`: no image cache could be opened, and a job that needs an image says so.
    pub images: Option<Arc<Images>>,
}

impl JobContext {
    pub fn new(
        config: &Config,
        store: Store,
        github: Arc<GitHub>,
        sandbox: Arc<dyn Sandbox>,
        workspaces: Workspaces,
        bot: Identity,
    ) -> JobContext {
        JobContext {
            gateway: Gateway::new(store.clone(), config.models.clone()),
            programs: Vec::new(),
            images: None,
            store,
            github,
            sandbox,
            workspaces: Arc::new(workspaces),
            settings: config.jobs.clone(),
            caps: ServerCaps::of(config),
            public_url: config.public_url.clone(),
            server_secrets: config
                .webhook_secrets
                .0
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                // The providers' keys the gateway adds outside the sandbox.
                .chain(
                    [&config.models.anthropic, &config.models.openai]
                        .into_iter()
                        .flatten()
                        .map(|upstream| upstream.key.clone()),
                )
                // The registries' pull credentials.
                .chain(config.jobs.image_credentials.secrets().map(str::to_string))
                .collect(),
            log_dir: config.data_dir.join("logs"),
            cache_dir: config.data_dir.join("caches"),
            bot,
        }
    }

    pub fn bot_identity(&self) -> Identity {
        self.bot.clone()
    }
}
