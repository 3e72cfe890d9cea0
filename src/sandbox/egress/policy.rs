//! What one session's proxy lets through: a host the allowlist names, on a port it allows,
//! at the addresses the host resolves to that are public or in an allowed range; and why
//! anything else is refused.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use ipnet::IpNet;

use super::address::{classify, NonPublic};
use super::allowlist::{Allowlist, HostPattern};

/// Why a request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
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
    pub(super) fn recorded(&self, host: &str) -> String {
        match self {
            Refusal::Host => host.to_string(),
            Refusal::Port(port) => format!("{host}:{port} (port {port} is not allowed)"),
            Refusal::Address { .. } => format!("{host} ({})", self.reason()),
        }
    }

    pub(super) fn reason(&self) -> String {
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
    pub(super) fn body(&self, host: &str) -> String {
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
pub(super) enum Stop {
    Refused(Refusal),
    Unreachable(io::Error),
}

/// What one session's proxy lets through.
pub(super) struct Policy {
    pub(super) allow: Allowlist,
    /// Non-public ranges the operator allowed (`AGEN_EGRESS_ALLOW_PRIVATE`).
    pub(super) private: Vec<IpNet>,
    pub(super) head_deadline: Duration,
}

impl Policy {
    /// The addresses `host` may be reached at: its own if an IP literal, else what it
    /// resolves to, keeping only the permitted ones. Connect to these, never look it up again.
    pub(super) fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Stop> {
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
