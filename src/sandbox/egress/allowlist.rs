//! Which hosts sessions may reach, and on which port (`AGEN_EGRESS_ALLOW`), and whether a
//! repository's own list asks for nothing more.

use std::net::IpAddr;

use super::policy::Refusal;

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
pub(super) enum HostPattern {
    Name(String),
    /// `*.domain`: any name below `domain`, not `domain` itself.
    Subdomains(String),
    Addr(IpAddr),
}

impl HostPattern {
    /// A host as a request or an allowlist names it: an IP literal (bracketed or not) is an
    /// address, anything else a lowercase name without its trailing dot.
    pub(super) fn of(host: &str) -> HostPattern {
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
    pub(super) fn check(&self, host: &str, port: u16, usual_port: u16) -> Result<(), Refusal> {
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
