//! A strict stand-in for the model providers' HTTP APIs (Anthropic Messages, OpenAI Chat
//! Completions and Responses) on 127.0.0.1, for the model gateway's tests and `agen demo`.
//!
//! Like the real services it checks API keys and required body fields and answers in the
//! providers' exact JSON and server-sent-event shapes. What it answers is scripted with
//! [`Step`]s (FIFO, shared by every generating route; `"ok"` when none is queued), and every
//! request is recorded as a [`ModelCall`]. Streams can be slowed, held at a gate and cut, so a
//! test can watch a gateway pass events through as they come and meter usage.

mod anthropic;
mod chat;
mod errors;
mod generate;
mod ids;
mod models;
mod responses;
mod server;
mod sse;
mod step;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::serve::ListenerExt;
use serde_json::Value;
use tokio::sync::watch;

pub use step::{Reply, SimUsage, Step};

/// The keys the simulated providers accept.
#[derive(Clone, Debug)]
pub struct ModelSimConfig {
    /// Expected in `x-api-key` on Anthropic routes.
    pub anthropic_key: String,
    /// Expected as `Authorization: Bearer …` on OpenAI routes.
    pub openai_key: String,
}

/// One request the simulator received, refused ones included.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCall {
    pub method: String,
    /// The path with its query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    /// `Null` when there was no body or it was not JSON.
    pub body: Value,
    /// The status answered (200 for streams).
    pub status: u16,
}

impl ModelCall {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server task, the streams and the handles share.
pub(crate) struct Shared {
    pub cfg: ModelSimConfig,
    script: Mutex<VecDeque<Step>>,
    calls: Mutex<Vec<ModelCall>>,
    pub events_sent: AtomicUsize,
    pub cancelled: AtomicUsize,
    /// How many times the gate was opened; a stream passes its gate once this exceeds the
    /// value it saw when its request arrived.
    pub gate: watch::Sender<u64>,
    /// `true` once the simulator is shut down: held streams end abruptly.
    pub shutdown: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The next scripted step, or the default answer.
    pub fn next_step(&self) -> Step {
        lock(&self.script).pop_front().unwrap_or_default()
    }

    pub fn record(&self, call: ModelCall) {
        lock(&self.calls).push(call);
    }
}

struct Handle {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

/// A running model-provider simulator. Clones share one server; it stops when the last clone
/// is dropped or on [`ModelSim::shutdown`].
#[derive(Clone)]
pub struct ModelSim {
    inner: Arc<Handle>,
}

impl ModelSim {
    /// Binds 127.0.0.1 on a free port and serves in a tokio task.
    pub async fn start(config: ModelSimConfig) -> std::io::Result<ModelSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg: config,
            script: Mutex::new(VecDeque::new()),
            calls: Mutex::new(Vec::new()),
            events_sent: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            gate: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
        });
        let mut stop = shared.shutdown.subscribe();
        let app = server::router(shared.clone());
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|down| *down).await;
            };
            // Like the providers' servers: each event leaves at once (TCP_NODELAY).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "model simulator stopped");
            }
        });
        Ok(ModelSim {
            inner: Arc::new(Handle { shared, addr }),
        })
    }

    /// `http://127.0.0.1:PORT`, the Anthropic base URL; OpenAI's is this plus `/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Queues the answer to the next generating call.
    pub fn script(&self, step: Step) {
        lock(&self.shared().script).push_back(step);
    }

    /// Every request received so far, in order.
    pub fn calls(&self) -> Vec<ModelCall> {
        lock(&self.shared().calls).clone()
    }

    /// Releases every stream held by `gate_after` whose request arrived before this call.
    pub fn open_gate(&self) {
        self.shared().gate.send_modify(|opened| *opened += 1);
    }

    /// Server-sent events written so far, over all streams.
    pub fn events_sent(&self) -> usize {
        self.shared().events_sent.load(Ordering::SeqCst)
    }

    /// Streams whose client went away before the end.
    pub fn cancelled(&self) -> usize {
        self.shared().cancelled.load(Ordering::SeqCst)
    }

    /// Stops accepting connections and ends held streams, for every clone.
    pub fn shutdown(&self) {
        self.shared().shutdown.send_replace(true);
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }
}
