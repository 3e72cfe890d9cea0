//! The provider's answer on its way to the client, byte for byte and as it arrives, read on
//! the way for its usage. When the answer ends, or the client goes away first (dropping this
//! body drops the upstream request, which cancels it), the call is settled.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use eventsource_stream::{EventStream, EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use http_body::{Body, Frame};
use http_body_util::BodyStream;
use hyper::body::Incoming;

use super::meter::Meter;
use super::routes::Route;

/// A JSON answer larger than this is forwarded but not read (and charged its reservation).
const MAX_JSON_READ: usize = 16 * 1024 * 1024;

/// How the answer ended, for its settlement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Read to its end.
    Complete,
    /// Broken off: the client left, or the provider's stream failed.
    Cut,
}

/// Called once, when the answer ends, with what was read of it.
pub type Settle = Box<dyn FnOnce(End, &Meter) + Send>;

/// The upstream's data chunks, each also queued for the client before the parser sees it.
struct Tap {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, hyper::Error>> + Send>>,
    queue: Arc<Mutex<VecDeque<Bytes>>>,
}

impl Stream for Tap {
    type Item = Result<Bytes, hyper::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &next {
            if let Ok(mut queue) = self.queue.lock() {
                queue.push_back(chunk.clone());
            }
        }
        next
    }
}

enum Reader {
    Events(EventStream<Tap>),
    Json(Tap, Vec<u8>),
}

pub struct MeteredBody {
    reader: Reader,
    queue: Arc<Mutex<VecDeque<Bytes>>>,
    route: Route,
    meter: Meter,
    ended: bool,
    failed: Option<hyper::Error>,
    settle: Option<Settle>,
}

impl MeteredBody {
    pub fn new(upstream: Incoming, route: Route, events: bool, settle: Settle) -> MeteredBody {
        let data = BodyStream::new(upstream).filter_map(|frame| async move {
            match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(e)),
            }
        });
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let tap = Tap {
            inner: Box::pin(data),
            queue: queue.clone(),
        };
        MeteredBody {
            reader: if events {
                Reader::Events(tap.eventsource())
            } else {
                Reader::Json(tap, Vec::new())
            },
            queue,
            route,
            meter: Meter::default(),
            ended: false,
            failed: None,
            settle: Some(settle),
        }
    }

    fn settle(&mut self, mut end: End) {
        let Some(settle) = self.settle.take() else {
            return;
        };
        // A server stops reading a body once it has sent its Content-Length: an answer read
        // whole, with the provider's figures in it, is complete even if its end was not polled.
        if let (End::Cut, Reader::Json(_, read), false) = (end, &self.reader, self.failed.is_some())
        {
            self.meter.read_json(self.route, read);
            if self.meter.usage().is_some() {
                end = End::Complete;
            }
        }
        settle(end, &self.meter);
    }

    fn next_queued(&self) -> Option<Bytes> {
        self.queue.lock().ok()?.pop_front()
    }

    /// Reads on until something is queued for the client, the upstream ends, or it waits.
    fn pump(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.ended || self.failed.is_some() || !self.queue.lock().is_ok_and(|q| q.is_empty())
            {
                return Poll::Ready(());
            }
            match &mut self.reader {
                Reader::Events(events) => match events.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(event))) => {
                        self.meter.read_event(self.route, &event.event, &event.data)
                    }
                    Poll::Ready(Some(Err(EventStreamError::Transport(e)))) => self.failed = Some(e),
                    // Not an event the parser understands: forwarded all the same.
                    Poll::Ready(Some(Err(_))) => {}
                    Poll::Ready(None) => self.ended = true,
                    Poll::Pending => return Poll::Pending,
                },
                Reader::Json(tap, read) => match tap.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(chunk))) => {
                        if read.len() + chunk.len() <= MAX_JSON_READ {
                            read.extend_from_slice(&chunk);
                        }
                    }
                    Poll::Ready(Some(Err(e))) => self.failed = Some(e),
                    Poll::Ready(None) => {
                        self.meter.read_json(self.route, read);
                        self.ended = true;
                    }
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let pumped = self.pump(cx);
        if let Some(chunk) = self.next_queued() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if pumped.is_pending() {
            return Poll::Pending;
        }
        if let Some(e) = self.failed.take() {
            self.ended = true;
            self.settle(End::Cut);
            return Poll::Ready(Some(Err(e)));
        }
        self.settle(End::Complete);
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.settle.is_none()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.settle(End::Cut);
    }
}
