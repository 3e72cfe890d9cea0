//! Server-sent events, written one at a time as a stream body: paced by `event_delay`, held
//! by `gate_after`, cut by `cut_after`, counted in `events_sent` and `cancelled`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{Shared, Step};

/// One event: `event: NAME` (when named) and `data: DATA`.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    /// A named event whose data is JSON (Anthropic, Responses).
    pub fn named(name: &str, data: &Value) -> Event {
        Event {
            name: Some(name.to_string()),
            data: data.to_string(),
        }
    }

    /// A `data:`-only event (Chat Completions).
    pub fn data(data: impl Into<String>) -> Event {
        Event {
            name: None,
            data: data.into(),
        }
    }

    fn bytes(&self) -> Bytes {
        match &self.name {
            Some(name) => Bytes::from(format!("event: {name}\ndata: {}\n\n", self.data)),
            None => Bytes::from(format!("data: {}\n\n", self.data)),
        }
    }
}

/// How a stream is paced, taken from its [`Step`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pacing {
    pub delay: Option<Duration>,
    pub gate_after: Option<usize>,
    pub cut_after: Option<usize>,
}

impl Pacing {
    pub fn of(step: &Step) -> Pacing {
        Pacing {
            delay: step.event_delay,
            gate_after: step.gate_after,
            cut_after: step.cut_after,
        }
    }
}

type Chunk = Result<Bytes, std::io::Error>;

/// Why a stream stopped before its end.
enum Stop {
    /// The client went away (the body was dropped).
    Gone,
    /// The simulator shut down.
    Down,
}

/// A body that writes `events` as a task produces them.
pub(crate) fn body(shared: Arc<Shared>, events: Vec<Event>, pacing: Pacing) -> Body {
    let (tx, rx) = mpsc::channel::<Chunk>(1);
    // Taken now, while the request is being answered: a later `open_gate` releases it.
    let opened_before = *shared.gate.borrow();
    tokio::spawn(async move {
        match produce(&shared, &tx, events, pacing, opened_before).await {
            Ok(()) => {}
            Err(Stop::Gone) => {
                shared.cancelled.fetch_add(1, Ordering::SeqCst);
            }
            Err(Stop::Down) => {
                let _ = tx.try_send(Err(std::io::Error::other("model simulator shut down")));
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Body::from_stream(stream)
}

async fn produce(
    shared: &Shared,
    tx: &mpsc::Sender<Chunk>,
    events: Vec<Event>,
    pacing: Pacing,
    opened_before: u64,
) -> Result<(), Stop> {
    let mut gate = shared.gate.subscribe();
    let mut down = shared.shutdown.subscribe();
    let total = events.len();
    let mut events = events.into_iter();
    for sent in 0..=total {
        if pacing.cut_after == Some(sent) {
            // An error ends the body without its last chunk: the connection just closes.
            let _ = tx
                .send(Err(std::io::Error::other("cut by the script")))
                .await;
            return Ok(());
        }
        if pacing.gate_after == Some(sent) {
            tokio::select! {
                _ = gate.wait_for(|opened| *opened > opened_before) => {}
                _ = tx.closed() => return Err(Stop::Gone),
                _ = down.wait_for(|d| *d) => return Err(Stop::Down),
            }
        }
        let Some(event) = events.next() else {
            return Ok(());
        };
        if let Some(delay) = pacing.delay {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = tx.closed() => return Err(Stop::Gone),
                _ = down.wait_for(|d| *d) => return Err(Stop::Down),
            }
        }
        tokio::select! {
            sent = tx.send(Ok(event.bytes())) => {
                if sent.is_err() {
                    return Err(Stop::Gone);
                }
            }
            _ = down.wait_for(|d| *d) => return Err(Stop::Down),
        }
        shared.events_sent.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}
