//! The session's one way out: an HTTP proxy in agen that allows only the hosts in the
//! allowlist (`AGEN_EGRESS_ALLOW`). It speaks HTTP CONNECT (for HTTPS) and plain HTTP with
//! absolute URLs, answers every other host with a 403 naming it, and records the refused
//! hosts for the job's report.
//!
//! The session's PID 1 listens on `127.0.0.1:`[`EGRESS_PORT_INSIDE`] in the session's own
//! network namespace and hands that listening socket to agen (see [`super::init`]); agen
//! accepts on it and serves each connection here, on the host. Hosts are matched by name;
//! the name is resolved here, on the host.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::relay::relay;

/// The proxy's port on the session's own loopback.
pub const EGRESS_PORT_INSIDE: u16 = 3128;

const MAX_HEAD: usize = 16 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections one session may hold open at once (each costs agen two threads).
const MAX_CONNECTIONS: usize = 64;

/// Which hosts may be reached: exact names, or `*.example.com` for any subdomain.
#[derive(Clone, Debug, Default)]
pub struct Allowlist(Vec<String>);

impl Allowlist {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Allowlist {
        Allowlist(hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect())
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.0.iter().any(|entry| match entry.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => *entry == host,
        })
    }
}

/// One session's proxy. It costs nothing until the session connects: the caller accepts on
/// the session's listener (see [`EgressProxy::accept_all`]) and each connection gets its own
/// thread. On drop it cuts every connection still open (an idle upstream would otherwise hold
/// its relay thread).
pub struct EgressProxy {
    allow: Arc<Allowlist>,
    refused: Arc<Mutex<Vec<String>>>,
    live: Arc<Live>,
}

/// The sockets of open connections, by connection number, so they can be counted and cut.
#[derive(Default)]
struct Live(Mutex<(u64, HashMap<u64, Vec<TcpStream>>)>);

impl Live {
    /// Registers a new connection's client socket; None when the session holds too many.
    fn open(&self, client: &TcpStream) -> Option<u64> {
        let mut guard = self.0.lock().ok()?;
        let (next, conns) = &mut *guard;
        if conns.len() >= MAX_CONNECTIONS {
            return None;
        }
        *next += 1;
        conns.insert(*next, vec![client.try_clone().ok()?]);
        Some(*next)
    }

    fn add_upstream(&self, id: u64, upstream: &TcpStream) {
        if let (Ok(mut guard), Ok(clone)) = (self.0.lock(), upstream.try_clone()) {
            if let Some(sockets) = guard.1.get_mut(&id) {
                sockets.push(clone);
            }
        }
    }

    fn close(&self, id: u64) {
        if let Ok(mut guard) = self.0.lock() {
            guard.1.remove(&id);
        }
    }

    fn cut_all(&self) {
        if let Ok(mut guard) = self.0.lock() {
            for socket in guard.1.drain().flat_map(|(_, sockets)| sockets) {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
    }
}

impl EgressProxy {
    pub fn new(allow: Allowlist) -> EgressProxy {
        EgressProxy {
            allow: Arc::new(allow),
            refused: Arc::new(Mutex::new(Vec::new())),
            live: Arc::new(Live::default()),
        }
    }

    /// Accepts every connection waiting on `listener` (which must be non-blocking) and serves
    /// each on a thread of its own.
    pub fn accept_all(&self, listener: &TcpListener) {
        loop {
            match listener.accept() {
                Ok((conn, _)) => self.serve(conn),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock: all taken. Anything else (e.g. the peer already gone, or out of
                // descriptors) ends this round; the listener stays polled.
                Err(_) => return,
            }
        }
    }

    fn serve(&self, mut conn: TcpStream) {
        let Some(id) = self.live.open(&conn) else {
            let body = "agen egress proxy: too many connections\n";
            let _ = respond(&mut conn, "503 Service Unavailable", body);
            return;
        };
        let (allow, refused, live) = (self.allow.clone(), self.refused.clone(), self.live.clone());
        let spawned = std::thread::Builder::new()
            .name("sandbox-egress-conn".into())
            .spawn(move || {
                if let Err(e) = serve(conn, id, &allow, &refused, &live) {
                    tracing::debug!("egress connection ended: {e}");
                }
                live.close(id);
            });
        if spawned.is_err() {
            self.live.close(id);
        }
    }

    /// Refused hosts so far, each once, in the order first refused.
    pub fn refused_hosts(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.live.cut_all();
    }
}

/// One client connection: read the request head, decide, then relay bytes both ways.
fn serve(
    mut client: TcpStream,
    id: u64,
    allow: &Allowlist,
    refused: &Mutex<Vec<String>>,
    live: &Live,
) -> io::Result<()> {
    client.set_read_timeout(Some(HEAD_TIMEOUT))?;
    let (head, rest) = read_head(&mut client)?;
    let Some(request) = Request::parse(&head) else {
        return respond(
            &mut client,
            "400 Bad Request",
            "agen egress proxy: malformed request\n",
        );
    };
    if !allow.allows(&request.host) {
        if let Ok(mut refused) = refused.lock() {
            if !refused.contains(&request.host) {
                refused.push(request.host.clone());
            }
        }
        let body = format!(
            "agen egress proxy: host {} is not allowed (AGEN_EGRESS_ALLOW)\n",
            request.host
        );
        return respond(&mut client, "403 Forbidden", &body);
    }
    let upstream = match connect(&request.host, request.port) {
        Ok(s) => s,
        Err(e) => {
            let body = format!("agen egress proxy: cannot reach {}: {e}\n", request.host);
            return respond(&mut client, "502 Bad Gateway", &body);
        }
    };
    live.add_upstream(id, &upstream);
    client.set_read_timeout(None)?;
    let mut upstream_w = upstream.try_clone()?;
    match &request.forward_head {
        None => client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?,
        Some(head) => upstream_w.write_all(head)?,
    }
    upstream_w.write_all(&rest)?;
    relay(client, upstream)
}

struct Request {
    host: String,
    port: u16,
    /// For plain HTTP: the head to send upstream (origin-form target). None for CONNECT.
    forward_head: Option<Vec<u8>>,
}

impl Request {
    fn parse(head: &[u8]) -> Option<Request> {
        let text = std::str::from_utf8(head).ok()?;
        let (first, headers) = text.split_once("\r\n")?;
        let mut parts = first.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        if method.eq_ignore_ascii_case("CONNECT") {
            let (host, port) = split_host_port(target, 443)?;
            return Some(Request {
                host,
                port,
                forward_head: None,
            });
        }
        let after_scheme = target.strip_prefix("http://")?;
        let (authority, path) = match after_scheme.find('/') {
            Some(i) => after_scheme.split_at(i),
            None => (after_scheme, "/"),
        };
        let (host, port) = split_host_port(authority, 80)?;
        let mut forward = format!("{method} {path} {version}\r\n");
        // Proxy-only headers stop here.
        for header in headers.split("\r\n").filter(|h| !h.is_empty()) {
            if !header.to_ascii_lowercase().starts_with("proxy-") {
                forward.push_str(header);
                forward.push_str("\r\n");
            }
        }
        forward.push_str("\r\n");
        Some(Request {
            host,
            port,
            forward_head: Some(forward.into_bytes()),
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
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// Reads up to the blank line ending the head; returns the head and any bytes after it.
fn read_head(client: &mut impl Read) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn respond(client: &mut impl Write, status: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes())
}

fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_names_and_subdomains_only() {
        let allow = Allowlist::new(["example.com".to_string(), "*.github.com".to_string()]);
        assert!(allow.allows("example.com"));
        assert!(allow.allows("EXAMPLE.com."));
        assert!(!allow.allows("evil-example.com"));
        assert!(!allow.allows("sub.example.com"));
        assert!(allow.allows("api.github.com"));
        assert!(!allow.allows("github.com"));
        assert!(!allow.allows("evilgithub.com"));
        assert!(!Allowlist::default().allows("example.com"));
    }

    #[test]
    fn parses_connect_and_absolute_form_requests() {
        let r = Request::parse(b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("api.github.com", 443));
        assert!(r.forward_head.is_none());
        let r = Request::parse(
            b"GET http://Example.com:8080/a?b HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: k\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.host.as_str(), r.port), ("example.com", 8080));
        assert_eq!(
            r.forward_head.unwrap(),
            b"GET /a?b HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec()
        );
        assert!(Request::parse(b"GET http://user@evil.com/ HTTP/1.1\r\n\r\n").is_none());
        assert!(Request::parse(b"GET /relative HTTP/1.1\r\n\r\n").is_none());
    }
}
