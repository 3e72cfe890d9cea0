//! What workers may do: the agent they run, how many at once, and the caps every job runs
//! under (a repository's `.github/agen.yml` may lower them, never raise them).

use std::path::PathBuf;
use std::time::Duration;

use super::{err, Agents, ConfigError, SessionEnvironment, Source};
use crate::image::{Credentials, Registries};

#[derive(Clone, Debug)]
pub struct JobSettings {
    /// The agents (`[agents.NAME]` in `AGEN_CONFIG`, or `AGEN_AGENT_COMMAND` as the one
    /// agent `default`). Without any, jobs end at once with a message saying so.
    pub agents: Agents,
    /// `AGEN_WORKERS`: jobs run at once (default: the number of cores; 0: this process runs
    /// none, an `agen worker` process on the same database does).
    pub workers: usize,
    /// `AGEN_MAX_ROUNDS`: agent rounds per job at most (default 5).
    pub max_rounds: u32,
    /// `AGEN_JOB_MINUTES`: wall clock per job at most (default 30; fractions allowed).
    pub job_time: Duration,
    /// `AGEN_JOB_CPU_MINUTES`: CPU time per job at most, over all its sessions (default 60;
    /// fractions allowed).
    pub job_cpu: Duration,
    /// `AGEN_JOB_LEASE_SECONDS`: how long a job waits for a worker that stopped answering
    /// before another takes it over (default 60).
    pub lease: Duration,
    /// `AGEN_MAX_FILE_BYTES`: a changed file larger than this is not pushed (default 5 MiB).
    pub max_file_bytes: u64,
    /// `AGEN_LOG_MAX_BYTES`: a job's session log is cut at this size (default 16 MiB).
    pub log_max_bytes: u64,
    /// `AGEN_CACHE_MAX_MB`: a repository's caches together at most (default 2048 MB).
    pub cache_max_bytes: u64,
    /// `AGEN_LINK_DAYS`: how long a job page's link holds (default 7).
    pub link_days: u64,
    /// `AGEN_LOG_RETENTION_DAYS`: session logs of jobs that ended longer ago are deleted
    /// (default 30).
    pub log_retention_days: u64,
    /// `AGEN_EGRESS_ALLOW`: hosts sandboxes may reach through the egress proxy.
    pub egress_allow: Vec<String>,
    /// `AGEN_EGRESS_ALLOW_PRIVATE`: non-public address ranges the egress proxy may reach.
    pub egress_allow_private: Vec<ipnet::IpNet>,
    /// Paths no session may see (data dir, database, key, config file).
    pub sandbox_hidden: Vec<PathBuf>,
    /// `AGEN_SANDBOX_MOUNTS`, `AGEN_SANDBOX_PATH`, `AGEN_SANDBOX_ENV`: what every session
    /// gets from the host beside its system directories.
    pub environment: SessionEnvironment,
    /// `AGEN_IMAGE_REGISTRIES`: the registries (`host[:port]`, comma-separated) images may
    /// be pulled from (default: none, so no image is pulled).
    pub image_registries: Registries,
    /// `AGEN_DEFAULT_IMAGE`: the image of repositories that name none (default: none, the
    /// host's system). Its registry must be in `AGEN_IMAGE_REGISTRIES`.
    pub default_image: Option<String>,
    /// `AGEN_IMAGE_CREDENTIALS`: `host[:port]=user:secret` per registry, comma separated
    /// (default: anonymous pulls). Used outside the sandbox only, redacted everywhere.
    pub image_credentials: Credentials,
    /// `AGEN_IMAGE_MAX_MB`: what one image may take, its layers as pulled and its files
    /// unpacked (default 4096).
    pub image_max_bytes: u64,
}

impl JobSettings {
    pub fn load(src: &Source) -> Result<JobSettings, ConfigError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(JobSettings {
            agents: Agents::load(src)?,
            workers: number(src, "AGEN_WORKERS", cores as u64, 0..=256)? as usize,
            max_rounds: number(src, "AGEN_MAX_ROUNDS", 5, 1..=50)? as u32,
            job_time: minutes(src, "AGEN_JOB_MINUTES", 30.0)?,
            job_cpu: minutes(src, "AGEN_JOB_CPU_MINUTES", 60.0)?,
            lease: Duration::from_secs(number(src, "AGEN_JOB_LEASE_SECONDS", 60, 1..=3600)?),
            max_file_bytes: number(src, "AGEN_MAX_FILE_BYTES", 5 << 20, 1..=100 << 20)?,
            log_max_bytes: number(src, "AGEN_LOG_MAX_BYTES", 16 << 20, 1024..=1 << 30)?,
            cache_max_bytes: number(src, "AGEN_CACHE_MAX_MB", 2048, 1..=1 << 20)? << 20,
            link_days: number(src, "AGEN_LINK_DAYS", 7, 1..=365)?,
            log_retention_days: number(src, "AGEN_LOG_RETENTION_DAYS", 30, 1..=36500)?,
            egress_allow: src.egress_allow(),
            egress_allow_private: src.egress_allow_private()?,
            sandbox_hidden: src.sandbox_hidden_paths(),
            environment: SessionEnvironment::load(src)?,
            image_registries: registries(src)?,
            default_image: default_image(src)?,
            image_credentials: Credentials::parse(src.get("AGEN_IMAGE_CREDENTIALS").unwrap_or(""))
                .map_err(|problem| err("AGEN_IMAGE_CREDENTIALS", problem))?,
            image_max_bytes: number(src, "AGEN_IMAGE_MAX_MB", 4096, 1..=1 << 20)? << 20,
        })
    }
}

fn registries(src: &Source) -> Result<Registries, ConfigError> {
    Registries::parse(src.get("AGEN_IMAGE_REGISTRIES").unwrap_or(""))
        .map_err(|problem| err("AGEN_IMAGE_REGISTRIES", problem))
}

fn default_image(src: &Source) -> Result<Option<String>, ConfigError> {
    const KEY: &str = "AGEN_DEFAULT_IMAGE";
    let Some(image) = src.get(KEY).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    crate::image::check(image, &registries(src)?)
        .map_err(|e| err(KEY, e.to_string().replace('`', "")))?;
    Ok(Some(image.to_string()))
}

fn number(
    src: &Source,
    key: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = src.get(key) else {
        return Ok(default);
    };
    raw.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            err(
                key,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn minutes(src: &Source, key: &'static str, default: f64) -> Result<Duration, ConfigError> {
    let Some(raw) = src.get(key) else {
        return Ok(Duration::from_secs_f64(default * 60.0));
    };
    raw.parse::<f64>()
        .ok()
        .filter(|m| *m > 0.0 && *m <= 24.0 * 60.0)
        .map(|m| Duration::from_secs_f64(m * 60.0))
        .ok_or_else(|| err(key, "must be a number of minutes above 0 and at most 1440"))
}
