//! The session's output as agen keeps it: up to a cap, streamed as it comes.

use std::io::{self, Read};

/// Output kept up to a cap; everything is still read so the session never blocks on it.
pub(super) struct Capped {
    pub(super) kept: Vec<u8>,
    cap: usize,
    pub(super) truncated: bool,
}

impl Capped {
    pub(super) fn new(cap: usize) -> Capped {
        Capped {
            kept: Vec::new(),
            cap,
            truncated: false,
        }
    }

    /// One read from the session's output; false once it is closed.
    pub(super) fn read_once(
        &mut self,
        from: &mut impl Read,
        sink: &mut dyn FnMut(&[u8]),
    ) -> io::Result<bool> {
        let mut buf = [0u8; 16 * 1024];
        match from.read(&mut buf) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.push(&buf[..n], sink);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn push(&mut self, chunk: &[u8], sink: &mut dyn FnMut(&[u8])) {
        let room = self.cap.saturating_sub(self.kept.len());
        let take = room.min(chunk.len());
        if take > 0 {
            sink(&chunk[..take]);
            self.kept.extend_from_slice(&chunk[..take]);
        }
        if take < chunk.len() {
            self.truncated = true;
        }
    }
}

#[cfg(test)]
mod tests;
