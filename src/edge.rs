//! The HTTP edge's accept loop: HTTP/1.1 connections served with a deadline on each request's
//! head and body, and a cap on open connections. At the cap, the connection idle the longest
//! (a keep-alive one between requests, or one still sending its head) is closed to admit the
//! new one; connections whose request is under way are never dropped for room, and when every
//! one is busy the new connection is refused.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::config::ServeLimits;

/// A request body that did not arrive within the body timeout (`AGEN_BODY_TIMEOUT_SECONDS`).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?} (AGEN_BODY_TIMEOUT_SECONDS)")]
pub struct BodyTimedOut(pub Duration);

/// Whether `e` or any error under it is a [`BodyTimedOut`].
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, router: Router, limits: ServeLimits) {
    let table = Arc::new(Table::new(limits.max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or memory: wait for connections to close rather than spin.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = table.admit() else {
            tracing::debug!("connection refused: every open connection has a request under way");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, limits) = (router.clone(), limits.clone());
        tokio::spawn(serve_connection(stream, router, limits, slot));
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: ServeLimits,
    slot: Slot,
) {
    let close = slot.close.clone();
    let slot = Arc::new(slot);
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (router, busy) = (router.clone(), Busy::new(slot.clone()));
        async move {
            let timed_out = Arc::new(AtomicBool::new(false));
            let request = request.map(|body| TimedBody::new(body, body_timeout, timed_out.clone()));
            let Ok(mut response) = router.oneshot(request).await;
            if timed_out.load(Ordering::Relaxed) {
                // The rest of the body is never read: the connection cannot serve another.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response.map(|body| Body::new(Guarded { body, _busy: busy })))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        // Closed to make room for a newer connection.
        _ = close.notified() => {}
    }
}

/// The open connections, by the order they were accepted.
struct Table {
    cap: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    next: u64,
    open: BTreeMap<u64, Entry>,
}

struct Entry {
    /// Requests under way (their response not yet fully sent).
    busy: usize,
    /// Since when nothing has been under way.
    idle_since: Instant,
    close: Arc<Notify>,
}

impl Table {
    fn new(cap: usize) -> Table {
        Table {
            cap,
            inner: Mutex::new(Entries::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection: at the cap, the longest-idle connection is told to close
    /// (and stops counting); `None` when every open connection is busy.
    fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut entries = self.lock();
        if entries.open.len() >= self.cap {
            let oldest_idle = entries
                .open
                .iter()
                .filter(|(_, e)| e.busy == 0)
                .min_by_key(|(id, e)| (e.idle_since, **id))
                .map(|(id, _)| *id)?;
            if let Some(evicted) = entries.open.remove(&oldest_idle) {
                evicted.close.notify_one();
            }
        }
        let id = entries.next;
        entries.next += 1;
        let close = Arc::new(Notify::new());
        entries.open.insert(
            id,
            Entry {
                busy: 0,
                idle_since: Instant::now(),
                close: close.clone(),
            },
        );
        Some(Slot {
            table: self.clone(),
            id,
            close,
        })
    }
}

/// One admitted connection's place in the table, given back when the connection ends.
struct Slot {
    table: Arc<Table>,
    id: u64,
    close: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.lock().open.remove(&self.id);
    }
}

/// A request under way on a connection, from its head until its response is sent (or dropped).
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: Arc<Slot>) -> Busy {
        if let Some(e) = slot.table.lock().open.get_mut(&slot.id) {
            e.busy += 1;
        }
        Busy(slot)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(e) = self.0.table.lock().open.get_mut(&self.0.id) {
            e.busy = e.busy.saturating_sub(1);
            if e.busy == 0 {
                e.idle_since = Instant::now();
            }
        }
    }
}

/// A response body that keeps its connection counted as busy until it is sent.
struct Guarded {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body that must arrive whole before its deadline; past it, reading fails with
/// [`BodyTimedOut`].
struct TimedBody {
    body: Incoming,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl TimedBody {
    fn new(body: Incoming, timeout: Duration, timed_out: Arc<AtomicBool>) -> TimedBody {
        TimedBody {
            body,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timed_out,
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        if self.body.is_end_stream() {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut(self.timeout)))));
        }
        Pin::new(&mut self.body)
            .poll_frame(cx)
            .map_err(axum::BoxError::from)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Raises this process's soft descriptor limit (RLIMIT_NOFILE) to its hard limit, so the
/// connection cap, not the limit, decides how many clients are held. Returns the limit now.
pub fn raise_descriptor_limit() -> std::io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        limit = raised;
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests;
