//! One session's listener: HTTP/1.1 connections served until the session ends.

use std::convert::Infallible;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::{call, Gateway, JobEntry};

/// Connections one session may hold open at once (an agent running sub-agents may stream
/// many answers at a time; each costs a task and a few KiB, not a thread).
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request head within this (a slow client holds nothing longer).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn accept_all(
    listener: TcpListener,
    gateway: Gateway,
    entry: Arc<JobEntry>,
    mut stopped: watch::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        tracing::warn!("gateway: the session's listener cannot be served");
        return;
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::debug!(error = %e, "gateway: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // dropped: the session holds too many connections already
        };
        // Events are small writes: sent at once, not held for a delayed ACK.
        let _ = stream.set_nodelay(true);
        let (gateway, entry, mut stopped) = (gateway.clone(), entry.clone(), stopped.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |request| {
                let (gateway, entry) = (gateway.clone(), entry.clone());
                async move { Ok::<_, Infallible>(call::handle(gateway, entry, request).await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stopped.changed() => {}
            }
        });
    }
}
