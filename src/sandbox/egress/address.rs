//! Which IP addresses are public unicast ones: the only ones the egress proxy connects to,
//! unless the operator allowed the range (`AGEN_EGRESS_ALLOW_PRIVATE`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    pub(super) fn describe(self) -> &'static str {
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
