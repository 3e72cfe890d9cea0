//! The upstream side of a connection: reaching the checked addresses, and forwarding one
//! plain HTTP request (its head, then exactly its body) with the response coming back.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use super::request::{Body, Plain};

/// The longest line of a chunked request body's framing (size line or trailer).
const MAX_CHUNK_LINE: u64 = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the first of the checked `addresses` that answers.
pub(super) fn connect(addresses: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addresses {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One plain-HTTP request: its head and body go upstream, nothing after them; the response
/// comes back until the upstream closes (it was asked to, with `Connection: close`).
pub(super) fn forward_plain(
    client: TcpStream,
    upstream: TcpStream,
    rest: &[u8],
    plain: Plain,
) -> io::Result<()> {
    let (mut upstream_r, mut client_w) = (upstream.try_clone()?, client.try_clone()?);
    let back = std::thread::spawn(move || {
        let _ = io::copy(&mut upstream_r, &mut client_w);
        // Also ends the body's copy below, should the client still be sending.
        let _ = client_w.shutdown(Shutdown::Both);
    });
    let mut upstream_w = &upstream;
    let sent = upstream_w.write_all(&plain.head).and_then(|()| {
        let mut body = BufReader::new(rest.chain(&client));
        copy_body(&mut body, &mut upstream_w, plain.body)
    });
    if sent.is_err() {
        let _ = upstream.shutdown(Shutdown::Both);
    }
    let _ = back.join();
    sent
}

fn copy_body(from: &mut impl BufRead, to: &mut impl Write, body: Body) -> io::Result<()> {
    match body {
        Body::Empty => Ok(()),
        Body::Length(n) => {
            if io::copy(&mut from.take(n), to)? == n {
                Ok(())
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            }
        }
        Body::Chunked => copy_chunked(from, to),
    }
}

/// Copies a chunked body, framing included, up to its end (last chunk and trailers).
pub(super) fn copy_chunked(from: &mut impl BufRead, to: &mut impl Write) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunked body");
    let mut line = Vec::new();
    loop {
        line.clear();
        read_line(from, &mut line)?;
        to.write_all(&line)?;
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| l.trim_end().split(';').next())
            .and_then(|s| u64::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(bad)?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                line.clear();
                read_line(from, &mut line)?;
                to.write_all(&line)?;
                if line == b"\r\n" || line == b"\n" {
                    return Ok(());
                }
            }
        }
        if io::copy(&mut from.take(size), to)? != size {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        line.clear();
        read_line(from, &mut line)?;
        if line != b"\r\n" && line != b"\n" {
            return Err(bad());
        }
        to.write_all(&line)?;
    }
}

fn read_line(from: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<()> {
    from.take(MAX_CHUNK_LINE).read_until(b'\n', line)?;
    if line.ends_with(b"\n") {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "chunk line too long or cut",
        ))
    }
}
