//! The model gateway: how a session's agent reaches its model without holding a key. Each
//! session gets a listener on its own loopback ([`GATEWAY_PORT_INSIDE`]) served here, on the
//! host, for its job alone; the agent presents the job's token (random, valid while the job
//! runs), agen checks it, adds the real key outside the sandbox, reserves the call's worst
//! case against every spend cap, forwards it, streams the answer back as it comes, reads its
//! usage on the way and settles the call at its real cost.

mod body;
mod call;
mod headers;
mod meter;
mod refuse;
mod request;
mod routes;
mod serve;
mod upstream;

#[cfg(test)]
mod tests;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rand::RngCore;

pub use routes::Provider;

use crate::budget::{Cap, Caps, MicroUsd};
use crate::config::ModelSettings;
use crate::store::model_calls::Payer;
use crate::store::Store;

/// The gateway's port on the session's own loopback (beside the egress proxy's 3128).
pub const GATEWAY_PORT_INSIDE: u16 = 3129;

/// The most output tokens a call may ask for when it names no limit itself.
pub const DEFAULT_OUTPUT_CEILING: u64 = 32_000;

/// The gateway of one agen process: its providers, prices and the store calls are charged in.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: ModelSettings,
    client: upstream::Client,
}

/// One running job's standing with the gateway.
struct JobEntry {
    token: String,
    payer: Payer,
    caps: Caps,
    /// The models the job's agent may call; empty: any priced model.
    models: Vec<String>,
    /// Cleared when the job's pass is dropped: its token is refused from then on.
    live: AtomicBool,
    /// The cap that refused a call, if one did.
    budget_hit: Mutex<Option<Cap>>,
    /// Calls whose answer has ended but whose cost is still being written: the next call
    /// waits for them, else it would find them holding their whole reservation.
    settling: tokio::sync::watch::Sender<usize>,
}

impl JobEntry {
    fn hit(&self, cap: Cap) {
        if let Ok(mut hit) = self.budget_hit.lock() {
            hit.get_or_insert(cap);
        }
    }
}

/// A job's access to the gateway, for as long as it runs: dropping it ends the token.
pub struct JobPass {
    gateway: Gateway,
    entry: Arc<JobEntry>,
}

/// Ends the serving of one session's listener (and its open connections) when dropped.
pub struct SessionGuard {
    _stop: tokio::sync::watch::Sender<()>,
}

/// What a session's listener is served with, called once with the listener (non-blocking).
pub type ServeListener = Arc<dyn Fn(TcpListener) + Send + Sync>;

impl Gateway {
    pub fn new(store: Store, settings: ModelSettings) -> Gateway {
        Gateway {
            inner: Arc::new(Inner {
                store,
                settings,
                client: upstream::client(),
            }),
        }
    }

    /// Whether the server holds a key for any provider (without one, sessions get no
    /// gateway at all).
    pub fn has_providers(&self) -> bool {
        self.inner.settings.anthropic.is_some() || self.inner.settings.openai.is_some()
    }

    /// The caps a job runs under: its own (`budget.job_usd`, already within the server's),
    /// the server's monthly ones and its agent's (`monthly_usd`).
    pub fn caps(&self, job: MicroUsd, agent_month: Option<MicroUsd>) -> Caps {
        Caps {
            job,
            repo_month: self.inner.settings.repo_monthly,
            installation_month: self.inner.settings.installation_monthly,
            agent_month,
        }
    }

    /// A new token for `payer`'s job, spending under `caps`, on any priced model.
    pub fn open_job(&self, payer: Payer, caps: Caps) -> JobPass {
        self.open_job_for(payer, caps, Vec::new())
    }

    /// A new token for `payer`'s job, spending under `caps`, calling only `models` (when it
    /// names any: a call for another is refused with 400 naming them).
    pub fn open_job_for(&self, payer: Payer, caps: Caps, models: Vec<String>) -> JobPass {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = format!(
            "agen-job-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        JobPass {
            gateway: self.clone(),
            entry: Arc::new(JobEntry {
                token,
                payer,
                caps,
                models,
                live: AtomicBool::new(true),
                budget_hit: Mutex::new(None),
                settling: tokio::sync::watch::Sender::new(0),
            }),
        }
    }
}

impl JobPass {
    pub fn token(&self) -> &str {
        &self.entry.token
    }

    /// The session's environment for the gateway on `127.0.0.1:port`: base URLs and the job
    /// token under the names the providers' SDKs read, for each provider agen holds a key for.
    pub fn env(&self, port: u16) -> Vec<(String, String)> {
        let base = format!("http://127.0.0.1:{port}");
        let token = self.entry.token.clone();
        let settings = &self.gateway.inner.settings;
        let mut env = vec![("AGEN_MODEL_URL".to_string(), base.clone())];
        if settings.anthropic.is_some() {
            env.push(("ANTHROPIC_BASE_URL".into(), base.clone()));
            env.push(("ANTHROPIC_API_KEY".into(), token.clone()));
        }
        if settings.openai.is_some() {
            env.push(("OPENAI_BASE_URL".into(), format!("{base}/v1")));
            env.push(("OPENAI_API_KEY".into(), token));
        }
        env
    }

    /// How to serve one session's listener, and the guard that ends it: drop the guard when
    /// the session is over. Must be called within the tokio runtime.
    pub fn session(&self) -> (ServeListener, SessionGuard) {
        let (stop, stopped) = tokio::sync::watch::channel(());
        let runtime = tokio::runtime::Handle::current();
        let (gateway, entry) = (self.gateway.clone(), self.entry.clone());
        let serve: ServeListener = Arc::new(move |listener| {
            let (gateway, entry, stopped) = (gateway.clone(), entry.clone(), stopped.clone());
            runtime.spawn(serve::accept_all(listener, gateway, entry, stopped));
        });
        (serve, SessionGuard { _stop: stop })
    }

    /// The cap that refused one of the job's calls, if any did.
    pub fn budget_hit(&self) -> Option<Cap> {
        self.entry.budget_hit.lock().ok().and_then(|hit| *hit)
    }
}

impl Drop for JobPass {
    fn drop(&mut self) {
        self.entry.live.store(false, Ordering::SeqCst);
    }
}
