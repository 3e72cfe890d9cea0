//! The session's one way out: an HTTP proxy in agen that allows only the hosts in the
//! allowlist (`AGEN_EGRESS_ALLOW`). It speaks HTTP CONNECT (for HTTPS) and plain HTTP with
//! absolute URLs, answers every other host with a 403 naming it and the reason, and records
//! the refused hosts for the job's report.
//!
//! The session's PID 1 listens on `127.0.0.1:`[`EGRESS_PORT_INSIDE`] in the session's own
//! network namespace and hands that listening socket to agen (see [`crate::sandbox::init`]);
//! agen accepts on it and serves each connection here, on the host. Hosts are matched by name
//! (an IP literal, by address); the name is resolved here, on the host, and the proxy
//! connects only to the addresses it resolved to that are public unicast ones (see
//! [`classify`](address::classify)) or lie in a range the operator allowed
//! (`AGEN_EGRESS_ALLOW_PRIVATE`): an allowed name that resolves to the host's loopback, a
//! private network or the cloud's metadata address does not reach it.
//!
//! Each allowlist entry allows one port: the one it names (`host:8443`), or else 443 for
//! CONNECT and 80 for plain HTTP. A plain-HTTP connection carries one request: its `Host` is
//! the checked URL's, it is sent with `Connection: close`, and nothing the client sends after
//! its body goes upstream.
//!
//! Here: the proxy, its connections and how each is served. The parts: `allowlist` (the hosts
//! and ports), `address` (which addresses are public), `policy` (the decision, and why a
//! request is refused), `request` (the client's request head), `upstream` (connecting, and
//! forwarding a plain HTTP request) and `relay` (the bytes of a CONNECT tunnel).

mod address;
mod allowlist;
mod policy;
mod relay;
mod request;
mod upstream;

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

pub use allowlist::Allowlist;
use policy::{Policy, Stop};
use relay::relay;
use request::{read_head, HeadError, Request, CONNECT_PORT, HTTP_PORT, MAX_HEAD};
use upstream::{connect, forward_plain};

/// The proxy's port on the session's own loopback.
pub const EGRESS_PORT_INSIDE: u16 = 3128;

/// How long a client has to send its whole request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(30);
/// Connections one session may hold open at once (each costs agen two threads).
const MAX_CONNECTIONS: usize = 64;

/// One session's proxy. It costs nothing until the session connects: the caller accepts on
/// the session's listener (see [`EgressProxy::accept_all`]) and each connection gets its own
/// thread. On drop it cuts every connection still open (an idle upstream would otherwise hold
/// its relay thread).
pub struct EgressProxy {
    policy: Arc<Policy>,
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
    /// A proxy allowing `allow`, connecting to non-public addresses only within `private`,
    /// and giving each client `head_deadline` to send its whole request head.
    pub fn new(allow: Allowlist, private: Vec<IpNet>, head_deadline: Duration) -> EgressProxy {
        EgressProxy {
            policy: Arc::new(Policy {
                allow,
                private,
                head_deadline,
            }),
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
        let (policy, refused, live) =
            (self.policy.clone(), self.refused.clone(), self.live.clone());
        let spawned = std::thread::Builder::new()
            .name("sandbox-egress-conn".into())
            .spawn(move || {
                if let Err(e) = serve(conn, id, &policy, &refused, &live) {
                    tracing::debug!("egress connection ended: {e}");
                }
                live.close(id);
            });
        if spawned.is_err() {
            self.live.close(id);
        }
    }

    /// Refused hosts so far (with the reason when it is not the allowlist), each once, in the
    /// order first refused.
    pub fn refused_hosts(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.live.cut_all();
    }
}

/// One client connection: read the request head, decide, then relay.
fn serve(
    mut client: TcpStream,
    id: u64,
    policy: &Policy,
    refused: &Mutex<Vec<String>>,
    live: &Live,
) -> io::Result<()> {
    let (head, rest) = match read_head(&mut client, Instant::now() + policy.head_deadline) {
        Ok(read) => read,
        Err(HeadError::TooLarge) => {
            let body = format!("agen egress proxy: request head above {MAX_HEAD} bytes\n");
            return respond(&mut client, "431 Request Header Fields Too Large", &body);
        }
        Err(HeadError::TimedOut) => {
            let body = "agen egress proxy: the request head did not arrive in time\n";
            return respond(&mut client, "408 Request Timeout", body);
        }
        Err(HeadError::Io(e)) => return Err(e),
    };
    let Some(request) = Request::parse(&head) else {
        return respond(
            &mut client,
            "400 Bad Request",
            "agen egress proxy: malformed request\n",
        );
    };
    let usual_port = match request.plain {
        None => CONNECT_PORT,
        Some(_) => HTTP_PORT,
    };
    let checked = policy
        .allow
        .check(&request.host, request.port, usual_port)
        .map_err(Stop::Refused)
        .and_then(|()| policy.addresses(&request.host, request.port));
    let addresses = match checked {
        Ok(addresses) => addresses,
        Err(Stop::Refused(refusal)) => {
            let recorded = refusal.recorded(&request.host);
            if let Ok(mut refused) = refused.lock() {
                if !refused.contains(&recorded) {
                    refused.push(recorded);
                }
            }
            return respond(&mut client, "403 Forbidden", &refusal.body(&request.host));
        }
        Err(Stop::Unreachable(e)) => {
            let body = format!("agen egress proxy: cannot reach {}: {e}\n", request.host);
            return respond(&mut client, "502 Bad Gateway", &body);
        }
    };
    let upstream = match connect(&addresses) {
        Ok(s) => s,
        Err(e) => {
            let body = format!("agen egress proxy: cannot reach {}: {e}\n", request.host);
            return respond(&mut client, "502 Bad Gateway", &body);
        }
    };
    live.add_upstream(id, &upstream);
    client.set_read_timeout(None)?;
    match request.plain {
        None => {
            client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
            (&upstream).write_all(&rest)?;
            relay(client, upstream)
        }
        Some(plain) => forward_plain(client, upstream, &rest, plain),
    }
}

fn respond(client: &mut impl Write, status: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes())
}

/// The command's environment plus the proxy variables (which override any given).
pub fn with_proxy_env(env: &[(String, String)]) -> Vec<(String, String)> {
    let proxy = format!("http://127.0.0.1:{EGRESS_PORT_INSIDE}");
    let no_proxy = "localhost,127.0.0.1,::1".to_string();
    let set = [
        ("HTTP_PROXY", &proxy),
        ("HTTPS_PROXY", &proxy),
        ("http_proxy", &proxy),
        ("https_proxy", &proxy),
        ("NO_PROXY", &no_proxy),
        ("no_proxy", &no_proxy),
    ];
    let mut out: Vec<(String, String)> = env
        .iter()
        .filter(|(name, _)| !set.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    out.extend(set.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    out
}

#[cfg(test)]
mod tests;
