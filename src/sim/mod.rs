//! An in-memory GitHub behind real HTTP on 127.0.0.1, for agen's integration tests and for
//! `agen demo`.
//!
//! It is strict like GitHub: App JWTs are verified, installation tokens are scoped to
//! repositories and permissions, request bodies are checked against the operations'
//! required fields, and every call is recorded so tests can assert on it exactly. The route
//! table lives in code ([`routes`]); a test checks it against `shared/github/rest-subset.json`.
//!
//! Repositories made git-backed with [`Simulator::seed_git_repo`] are real bare
//! repositories served over git smart HTTP at `{api_url}/{owner}/{repo}.git` (the
//! `clone_url`), with GitHub's rules for App tokens and pushes (see `src/sim/git/`).
//!
//! A test sets the scene with the methods in `arrange.rs`, reads back what agen did with
//! those in `observe.rs`, sends webhooks with `deliver.rs`, and calls the API itself with a
//! [`SimClient`]: `sim.as_(&token).post(path, body)`, `sim.anonymous().get(path)`.

mod access;
mod arrange;
mod auth;
mod client;
mod deliver;
mod git;
mod handlers;
mod http_client;
pub mod model;
mod observe;
mod record;
mod reply;
mod routes;
mod server;
mod shapes;
mod state;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use client::{SimAnswer, SimClient};
pub use deliver::{merge_json, sign, Delivery, DeliveryLog};
pub use git::SimCommit;
pub use record::{AuthKind, Fault, Recorded};
pub use state::{MintedToken, SimComment};

/// What the simulated GitHub knows about the App it serves.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub app_id: u64,
    /// The bot login is `"{slug}[bot]"`.
    pub app_slug: String,
    /// The App's public key (SPKI, `BEGIN PUBLIC KEY`); App JWTs are RS256.
    pub public_key_pem: String,
    /// What the App holds, e.g. `contents = write`.
    pub app_permissions: BTreeMap<String, String>,
    pub webhook_secret: String,
}

impl SimConfig {
    /// The demo App: id 1, slug `agen`, the key pair in `fixtures/`, secret `demo-secret`.
    pub fn demo() -> SimConfig {
        let permissions = [
            ("metadata", "read"),
            ("contents", "write"),
            ("issues", "write"),
            ("pull_requests", "write"),
            ("checks", "write"),
        ];
        SimConfig {
            app_id: 1,
            app_slug: "agen".to_string(),
            public_key_pem: include_str!("../../fixtures/demo-app-key.pub.pem").to_string(),
            app_permissions: permissions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            webhook_secret: "demo-secret".to_string(),
        }
    }

    /// The login of the App's bot user.
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.app_slug)
    }
}

/// What the server task and the handle share.
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub state: Mutex<state::State>,
    pub base_url: String,
    /// Where git-backed repositories live (see [`git::GitRoot`]).
    pub git_root: PathBuf,
}

impl Shared {
    /// Locks the state; a poisoned lock (a panicked test) still yields the data.
    pub fn lock(&self) -> MutexGuard<'_, state::State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Handle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// Removes the bare repositories when the last clone goes.
    _git_root: git::GitRoot,
}

/// A running simulator. Clones share one server; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Handle>,
}

impl Simulator {
    /// Binds 127.0.0.1 on a free port and serves in a tokio task.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let git_root = git::GitRoot::new();
        let shared = Arc::new(Shared {
            cfg,
            state: Mutex::new(state::State::default()),
            base_url: format!("http://{addr}"),
            git_root: git_root.path().to_path_buf(),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = server::router(shared.clone());
        tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "github simulator stopped");
            }
        });
        Ok(Simulator {
            inner: Arc::new(Handle {
                shared,
                addr,
                _shutdown: tx,
                _git_root: git_root,
            }),
        })
    }

    /// `http://127.0.0.1:PORT`, the value for `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The configuration the simulator was started with.
    pub fn config(&self) -> &SimConfig {
        &self.inner.shared.cfg
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }
}
