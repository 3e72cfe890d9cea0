//! The client's request head: read within its deadline and size, then parsed (CONNECT, or
//! plain HTTP with an absolute URL) into the host and port to check and, for plain HTTP, the
//! head and body framing that may go upstream.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Instant;

/// The longest request head accepted, in bytes, its closing blank line included.
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// The port a CONNECT goes to when its entry names none.
pub(super) const CONNECT_PORT: u16 = 443;
/// The port a plain HTTP request goes to when its URL or entry names none.
pub(super) const HTTP_PORT: u16 = 80;

pub(super) struct Request {
    pub(super) host: String,
    pub(super) port: u16,
    /// For plain HTTP: what goes upstream. None for CONNECT.
    pub(super) plain: Option<Plain>,
}

pub(super) struct Plain {
    /// The head to send upstream: origin-form target, `Host` from the checked URL,
    /// `Connection: close`, no proxy or hop-by-hop headers.
    pub(super) head: Vec<u8>,
    pub(super) body: Body,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Body {
    Empty,
    Length(u64),
    Chunked,
}

/// Headers not passed on: the client's `Host` (rewritten), and hop-by-hop ones.
const DROPPED_HEADERS: [&str; 5] = ["host", "connection", "keep-alive", "upgrade", "te"];

impl Request {
    pub(super) fn parse(head: &[u8]) -> Option<Request> {
        let text = std::str::from_utf8(head).ok()?;
        let (first, headers) = text.split_once("\r\n")?;
        let mut parts = first.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        if method.eq_ignore_ascii_case("CONNECT") {
            let (host, port) = split_host_port(target, CONNECT_PORT)?;
            return Some(Request {
                host,
                port,
                plain: None,
            });
        }
        let after_scheme = target.strip_prefix("http://")?;
        let (authority, path) = match after_scheme.find('/') {
            Some(i) => after_scheme.split_at(i),
            None => (after_scheme, "/"),
        };
        let (host, port) = split_host_port(authority, HTTP_PORT)?;
        let host_header = match (host.contains(':'), port) {
            (true, HTTP_PORT) => format!("[{host}]"),
            (true, port) => format!("[{host}]:{port}"),
            (false, HTTP_PORT) => host.clone(),
            (false, port) => format!("{host}:{port}"),
        };
        let mut forward = format!("{method} {path} {version}\r\nHost: {host_header}\r\n");
        let (mut length, mut chunked, mut encoded) = (None, false, false);
        for header in headers.split("\r\n").filter(|h| !h.is_empty()) {
            // Folded lines could smuggle a header past the checks below.
            if header.starts_with([' ', '\t']) {
                return None;
            }
            let (name, value) = header.split_once(':')?;
            let (name, value) = (name.to_ascii_lowercase(), value.trim());
            if name != name.trim() {
                return None;
            }
            if name.starts_with("proxy-") || DROPPED_HEADERS.contains(&name.as_str()) {
                continue;
            }
            match name.as_str() {
                "content-length" => {
                    let n: u64 = value.parse().ok()?;
                    if length.is_some_and(|l| l != n) {
                        return None;
                    }
                    length = Some(n);
                }
                "transfer-encoding" => {
                    encoded = true;
                    chunked = value
                        .rsplit(',')
                        .next()
                        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
                }
                _ => {}
            }
            forward.push_str(header);
            forward.push_str("\r\n");
        }
        forward.push_str("Connection: close\r\n\r\n");
        let body = match (encoded, chunked, length) {
            (true, true, None) => Body::Chunked,
            // Both framings, or an encoding whose end cannot be found: refused.
            (true, _, _) => return None,
            (false, _, Some(n)) if n > 0 => Body::Length(n),
            (false, _, _) => Body::Empty,
        };
        Some(Request {
            host,
            port,
            plain: Some(Plain {
                head: forward.into_bytes(),
                body,
            }),
        })
    }
}

fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    // Userinfo ("user@host") would let a request name one host and reach another.
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if rest.is_empty() => default_port,
            None => return None,
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().ok()?),
            None => (authority.to_string(), default_port),
        }
    };
    let valid = !host.is_empty()
        && port != 0
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b));
    valid.then(|| (host.to_ascii_lowercase(), port))
}

pub(super) enum HeadError {
    TooLarge,
    TimedOut,
    Io(io::Error),
}

/// Reads up to the blank line ending the head, which must come by `deadline` and within
/// [`MAX_HEAD`] bytes; returns the head and any bytes after it.
pub(super) fn read_head(
    client: &mut TcpStream,
    deadline: Instant,
) -> Result<(Vec<u8>, Vec<u8>), HeadError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            if end + 4 > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::TimedOut);
        }
        client.set_read_timeout(Some(left)).map_err(HeadError::Io)?;
        match client.read(&mut chunk) {
            Ok(0) => return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(HeadError::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(HeadError::Io(e)),
        }
    }
}
