//! The session's one way out: an HTTP proxy in agen that allows only the hosts in the
//! allowlist (`AGEN_EGRESS_ALLOW`). It speaks HTTP CONNECT (for HTTPS) and plain HTTP with
//! absolute URLs, answers every other host with a 403 naming it and the reason, and records
//! the refused hosts for the job's report.
//!
//! The session's PID 1 listens on `127.0.0.1:`[`EGRESS_PORT_INSIDE`] in the session's own
//! network namespace and hands that listening socket to agen (see [`crate::sandbox::init`]); agen
//! accepts on it and serves each connection here, on the host. Hosts are matched by name (an
//! IP literal, by address); the name is resolved here, on the host, and the proxy connects
//! only to the addresses it resolved to that are public unicast ones (see [`classify`]) or
//! lie in a range the operator allowed (`AGEN_EGRESS_ALLOW_PRIVATE`): an allowed name that
//! resolves to the host's loopback, a private network or the cloud's metadata address does
//! not reach it.
//!
//! Each allowlist entry allows one port: the one it names (`host:8443`), or else 443 for
//! CONNECT and 80 for plain HTTP. A plain-HTTP connection carries one request: its `Host` is
//! the checked URL's, it is sent with `Connection: close`, and nothing the client sends after
//! its body goes upstream.

mod relay;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use relay::relay;

/// The proxy's port on the session's own loopback.
pub const EGRESS_PORT_INSIDE: u16 = 3128;

/// The longest request head accepted, in bytes, its closing blank line included.
const MAX_HEAD: usize = 16 * 1024;
/// The longest line of a chunked request body's framing (size line or trailer).
const MAX_CHUNK_LINE: u64 = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send its whole request head.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(30);
/// Connections one session may hold open at once (each costs agen two threads).
const MAX_CONNECTIONS: usize = 64;
const CONNECT_PORT: u16 = 443;
const HTTP_PORT: u16 = 80;

/// Which hosts may be reached, and on which port: exact names, `*.example.com` for any
/// subdomain, or IP addresses (`192.0.2.1`, `[2001:db8::1]`), each optionally with `:port`.
#[derive(Clone, Debug, Default)]
pub struct Allowlist(Vec<Entry>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    host: HostPattern,
    /// None: the usual ports (443 for CONNECT, 80 for plain HTTP).
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Name(String),
    /// `*.domain`: any name below `domain`, not `domain` itself.
    Subdomains(String),
    Addr(IpAddr),
}

impl HostPattern {
    /// A host as a request or an allowlist names it: an IP literal (bracketed or not) is an
    /// address, anything else a lowercase name without its trailing dot.
    fn of(host: &str) -> HostPattern {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return HostPattern::Addr(ip.to_canonical());
        }
        match host.strip_prefix("*.") {
            Some(domain) => HostPattern::Subdomains(domain.to_string()),
            None => HostPattern::Name(host),
        }
    }

    /// Whether everything `other` names is named by `self` too.
    fn covers(&self, other: &HostPattern) -> bool {
        match (self, other) {
            (HostPattern::Name(a), HostPattern::Name(b)) => a == b,
            (HostPattern::Subdomains(d), HostPattern::Name(n)) => is_below(n, d),
            (HostPattern::Subdomains(d), HostPattern::Subdomains(e)) => d == e || is_below(e, d),
            (HostPattern::Addr(a), HostPattern::Addr(b)) => a == b,
            _ => false,
        }
    }
}

fn is_below(name: &str, domain: &str) -> bool {
    name.strip_suffix(domain)
        .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
}

impl Entry {
    fn parse(raw: &str) -> Entry {
        let raw = raw.trim();
        let (host, port) = split_entry_port(raw);
        Entry {
            host: HostPattern::of(host),
            port,
        }
    }
}

/// `host:port`, `[v6]:port`, or a host alone (a bare IPv6 address has no port).
fn split_entry_port(raw: &str) -> (&str, Option<u16>) {
    let port_of = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
    if raw.starts_with('[') {
        if let Some((host, port)) = raw.rsplit_once("]:") {
            if let Some(port) = port_of(port) {
                return (&raw[..host.len() + 1], Some(port));
            }
        }
        return (raw, None);
    }
    match raw.split_once(':') {
        Some((host, port)) if !port.contains(':') => match port_of(port) {
            Some(port) => (host, Some(port)),
            None => (raw, None),
        },
        _ => (raw, None),
    }
}

impl Allowlist {
    pub fn new(entries: impl IntoIterator<Item = String>) -> Allowlist {
        Allowlist(entries.into_iter().map(|e| Entry::parse(&e)).collect())
    }

    /// Whether `entry` (an allowlist entry itself, e.g. a repository's) allows nothing this
    /// list does not: its host is covered by one of ours with the same port.
    pub fn covers(&self, entry: &str) -> bool {
        let entry = Entry::parse(entry);
        self.0
            .iter()
            .any(|ours| ours.port == entry.port && ours.host.covers(&entry.host))
    }

    /// Whether a request may go to `host` on `port`; `usual_port` is what an entry without a
    /// port allows (443 for CONNECT, 80 for plain HTTP).
    fn check(&self, host: &str, port: u16, usual_port: u16) -> Result<(), Refusal> {
        let target = HostPattern::of(host);
        let mut named = false;
        for entry in self.0.iter().filter(|e| e.host.covers(&target)) {
            named = true;
            if entry.port.unwrap_or(usual_port) == port {
                return Ok(());
            }
        }
        Err(if named {
            Refusal::Port(port)
        } else {
            Refusal::Host
        })
    }
}

/// What makes an address other than public unicast (see [`classify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonPublic {
    Unspecified,
    Loopback,
    Private,
    Shared,
    LinkLocal,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    Reserved,
}

impl NonPublic {
    fn describe(self) -> &'static str {
        match self {
            NonPublic::Unspecified => "an unspecified address",
            NonPublic::Loopback => "a loopback address",
            NonPublic::Private => "a private address",
            NonPublic::Shared => "a shared (CGNAT) address",
            NonPublic::LinkLocal => "a link-local address",
            NonPublic::Multicast => "a multicast address",
            NonPublic::Broadcast => "a broadcast address",
            NonPublic::Documentation => "a documentation address",
            NonPublic::Benchmarking => "a benchmarking address",
            NonPublic::Reserved => "a reserved address",
        }
    }
}

/// None for a public unicast address; otherwise what it is. IPv4-mapped, IPv4-compatible,
/// NAT64 (64:ff9b::/96) and 6to4 addresses are judged by the IPv4 address they carry; IPv6
/// outside global unicast (2000::/3) and its special ranges is reserved.
pub fn classify(ip: IpAddr) -> Option<NonPublic> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<NonPublic> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_unspecified() {
        NonPublic::Unspecified
    } else if ip.is_loopback() {
        NonPublic::Loopback
    } else if ip.is_private() {
        NonPublic::Private
    } else if ip.is_link_local() {
        NonPublic::LinkLocal
    } else if ip.is_broadcast() {
        NonPublic::Broadcast
    } else if ip.is_documentation() {
        NonPublic::Documentation
    } else if ip.is_multicast() {
        NonPublic::Multicast
    } else if a == 100 && b & 0xc0 == 64 {
        NonPublic::Shared // 100.64.0.0/10
    } else if a == 198 && b & 0xfe == 18 {
        NonPublic::Benchmarking // 198.18.0.0/15
    } else if a == 0 // 0.0.0.0/8, "this network"
        || a >= 240 // 240.0.0.0/4
        || (a, b, c) == (192, 0, 0) // IETF protocol assignments
        || (a, b, c) == (192, 88, 99)
    // the old 6to4 relay anycast
    {
        NonPublic::Reserved
    } else {
        return None;
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    let s = ip.segments();
    let embedded = Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    Some(if ip.is_unspecified() {
        NonPublic::Unspecified
    } else if ip.is_loopback() {
        NonPublic::Loopback
    } else if ip.is_multicast() {
        NonPublic::Multicast
    } else if ip.is_unique_local() {
        NonPublic::Private
    } else if ip.is_unicast_link_local() {
        NonPublic::LinkLocal
    } else if s[..6] == [0; 6] {
        // IPv4-compatible (deprecated): never public itself.
        classify_v4(embedded).unwrap_or(NonPublic::Reserved)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return classify_v4(embedded); // NAT64
    } else if s[0] == 0x2002 {
        // 6to4: the IPv4 address in bits 16..48.
        return classify_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    } else if (s[0], s[1]) == (0x2001, 0xdb8) || (s[0] == 0x3fff && s[1] < 0x1000) {
        NonPublic::Documentation // 2001:db8::/32, 3fff::/20
    } else if (s[0], s[1], s[2]) == (0x2001, 2, 0) {
        NonPublic::Benchmarking // 2001:2::/48
    } else if (s[0] == 0x2001 && s[1] < 0x200) || s[0] & 0xe000 != 0x2000 {
        // 2001::/23, IETF protocol assignments (Teredo among them), and everything outside
        // global unicast: site-local, discard, local-use NAT64, …
        NonPublic::Reserved
    } else {
        return None;
    })
}

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Refusal {
    /// No allowlist entry names the host.
    Host,
    /// Entries name the host, none this port.
    Port(u16),
    /// The host is (`literal`) or resolves only to addresses that are not public unicast
    /// and lie in no range of `AGEN_EGRESS_ALLOW_PRIVATE`.
    Address { class: NonPublic, literal: bool },
}

impl Refusal {
    /// As the job's report lists it.
    fn recorded(&self, host: &str) -> String {
        match self {
            Refusal::Host => host.to_string(),
            Refusal::Port(port) => format!("{host}:{port} (port {port} is not allowed)"),
            Refusal::Address { .. } => format!("{host} ({})", self.reason()),
        }
    }

    fn reason(&self) -> String {
        match self {
            Refusal::Host => "is not allowed".into(),
            Refusal::Port(port) => format!("port {port} is not allowed"),
            Refusal::Address { class, literal } => {
                let verb = if *literal { "is" } else { "resolves to" };
                format!("{verb} {}", class.describe())
            }
        }
    }

    /// The 403's body.
    fn body(&self, host: &str) -> String {
        let setting = match self {
            Refusal::Host | Refusal::Port(_) => "AGEN_EGRESS_ALLOW",
            Refusal::Address { .. } => "AGEN_EGRESS_ALLOW_PRIVATE",
        };
        match self {
            Refusal::Port(port) => format!(
                "agen egress proxy: port {port} of host {host} is not allowed ({setting})\n"
            ),
            _ => format!(
                "agen egress proxy: host {host} {} ({setting})\n",
                self.reason()
            ),
        }
    }
}

/// Why a request goes no further.
#[derive(Debug)]
enum Stop {
    Refused(Refusal),
    Unreachable(io::Error),
}

/// What one session's proxy lets through.
struct Policy {
    allow: Allowlist,
    /// Non-public ranges the operator allowed (`AGEN_EGRESS_ALLOW_PRIVATE`).
    private: Vec<IpNet>,
    head_deadline: Duration,
}

impl Policy {
    /// The addresses `host` may be reached at: its own if an IP literal, else what it
    /// resolves to, keeping only the permitted ones. Connect to these, never look it up again.
    fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Stop> {
        let (found, literal) = match HostPattern::of(host) {
            HostPattern::Addr(ip) => (vec![SocketAddr::new(ip, port)], true),
            _ => (
                (host, port)
                    .to_socket_addrs()
                    .map_err(Stop::Unreachable)?
                    .collect(),
                false,
            ),
        };
        let mut refused = None;
        let mut permitted = Vec::new();
        for addr in found {
            let ip = addr.ip().to_canonical();
            match classify(ip) {
                Some(class) if !self.private.iter().any(|net| net.contains(&ip)) => {
                    refused.get_or_insert(class);
                }
                _ => permitted.push(SocketAddr::new(ip, port)),
            }
        }
        match (permitted.is_empty(), refused) {
            (false, _) => Ok(permitted),
            (true, Some(class)) => Err(Stop::Refused(Refusal::Address { class, literal })),
            (true, None) => Err(Stop::Unreachable(io::Error::new(
                io::ErrorKind::NotFound,
                "no address",
            ))),
        }
    }
}

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

/// One plain-HTTP request: its head and body go upstream, nothing after them; the response
/// comes back until the upstream closes (it was asked to, with `Connection: close`).
fn forward_plain(
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
fn copy_chunked(from: &mut impl BufRead, to: &mut impl Write) -> io::Result<()> {
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

struct Request {
    host: String,
    port: u16,
    /// For plain HTTP: what goes upstream. None for CONNECT.
    plain: Option<Plain>,
}

struct Plain {
    /// The head to send upstream: origin-form target, `Host` from the checked URL,
    /// `Connection: close`, no proxy or hop-by-hop headers.
    head: Vec<u8>,
    body: Body,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Empty,
    Length(u64),
    Chunked,
}

/// Headers not passed on: the client's `Host` (rewritten), and hop-by-hop ones.
const DROPPED_HEADERS: [&str; 5] = ["host", "connection", "keep-alive", "upgrade", "te"];

impl Request {
    fn parse(head: &[u8]) -> Option<Request> {
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

enum HeadError {
    TooLarge,
    TimedOut,
    Io(io::Error),
}

/// Reads up to the blank line ending the head, which must come by `deadline` and within
/// [`MAX_HEAD`] bytes; returns the head and any bytes after it.
fn read_head(client: &mut TcpStream, deadline: Instant) -> Result<(Vec<u8>, Vec<u8>), HeadError> {
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

fn respond(client: &mut impl Write, status: &str, body: &str) -> io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(response.as_bytes())
}

/// Connects to the first of the checked `addresses` that answers.
fn connect(addresses: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addresses {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
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
