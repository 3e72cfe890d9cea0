use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::address::{classify, NonPublic};
use super::policy::{Policy, Refusal, Stop};
use super::request::{Body, Request, MAX_HEAD};
use super::upstream::copy_chunked;
use super::*;

fn allows(list: &Allowlist, host: &str, port: u16, usual: u16) -> bool {
    list.check(host, port, usual).is_ok()
}

#[test]
fn allowlist_matches_names_and_subdomains_only() {
    let allow = Allowlist::new(["example.com".to_string(), "*.github.com".to_string()]);
    assert!(allows(&allow, "example.com", 443, 443));
    assert!(allows(&allow, "EXAMPLE.com.", 443, 443));
    assert!(!allows(&allow, "evil-example.com", 443, 443));
    assert!(!allows(&allow, "sub.example.com", 443, 443));
    assert!(allows(&allow, "api.github.com", 443, 443));
    assert!(!allows(&allow, "github.com", 443, 443));
    assert!(!allows(&allow, "evilgithub.com", 443, 443));
    assert!(!allows(&Allowlist::default(), "example.com", 443, 443));
}

#[test]
fn an_entry_allows_the_usual_port_or_the_one_it_names() {
    let allow = Allowlist::new(["example.com", "*.x.org:8443", "[::1]:9000"].map(String::from));
    assert!(allows(&allow, "example.com", 443, 443));
    assert!(allows(&allow, "example.com", 80, 80));
    assert_eq!(allow.check("example.com", 22, 443), Err(Refusal::Port(22)));
    assert_eq!(
        allow.check("example.com", 8443, 443),
        Err(Refusal::Port(8443))
    );
    assert!(allows(&allow, "a.x.org", 8443, 443));
    assert_eq!(allow.check("a.x.org", 443, 443), Err(Refusal::Port(443)));
    assert!(allows(&allow, "::1", 9000, 443));
    assert_eq!(allow.check("other.org", 443, 443), Err(Refusal::Host));
    // A repository's entry must be covered, port included.
    assert!(allow.covers("example.com"));
    assert!(!allow.covers("example.com:8443"));
    assert!(allow.covers("b.x.org:8443"));
    assert!(allow.covers("*.b.x.org:8443"));
    assert!(!allow.covers("b.x.org"));
    assert!(!allow.covers("x.org:8443"));
}

#[test]
fn ip_literals_are_matched_as_addresses() {
    let allow = Allowlist::new(["127.0.0.1", "[2001:DB8::1]", "2001:db8::2"].map(String::from));
    assert!(allows(&allow, "127.0.0.1", 443, 443));
    assert!(allows(&allow, "2001:db8:0::1", 443, 443));
    assert!(allows(&allow, "2001:db8::2", 443, 443));
    // The mapped form is the same address.
    assert!(allows(&allow, "::ffff:127.0.0.1", 443, 443));
    assert!(!allows(&allow, "127.0.0.2", 443, 443));
    // A name is not an address, whatever it resolves to.
    assert!(!allows(&allow, "localhost", 443, 443));
    let names = Allowlist::new(["localhost".to_string()]);
    assert!(!allows(&names, "127.0.0.1", 443, 443));
}

#[test]
fn only_public_unicast_addresses_are_public() {
    use NonPublic::*;
    let table: &[(&str, Option<NonPublic>)] = &[
        ("0.0.0.0", Some(Unspecified)),
        ("0.1.2.3", Some(Reserved)),
        ("127.0.0.1", Some(Loopback)),
        ("127.255.0.9", Some(Loopback)),
        ("10.0.0.1", Some(Private)),
        ("172.16.0.1", Some(Private)),
        ("172.31.255.255", Some(Private)),
        ("192.168.1.1", Some(Private)),
        ("169.254.169.254", Some(LinkLocal)),
        ("100.64.0.1", Some(Shared)),
        ("100.127.255.255", Some(Shared)),
        ("224.0.0.1", Some(Multicast)),
        ("239.255.255.250", Some(Multicast)),
        ("255.255.255.255", Some(Broadcast)),
        ("240.0.0.1", Some(Reserved)),
        ("192.0.0.8", Some(Reserved)),
        ("192.88.99.1", Some(Reserved)),
        ("192.0.2.1", Some(Documentation)),
        ("198.51.100.1", Some(Documentation)),
        ("203.0.113.1", Some(Documentation)),
        ("198.18.0.1", Some(Benchmarking)),
        ("198.19.255.255", Some(Benchmarking)),
        ("::", Some(Unspecified)),
        ("::1", Some(Loopback)),
        ("fc00::1", Some(Private)),
        ("fd12:3456::1", Some(Private)),
        ("fe80::1", Some(LinkLocal)),
        ("fec0::1", Some(Reserved)),
        ("ff02::1", Some(Multicast)),
        ("2001:db8::1", Some(Documentation)),
        ("3fff::1", Some(Documentation)),
        ("2001:2::1", Some(Benchmarking)),
        ("2001::1", Some(Reserved)),
        ("100::1", Some(Reserved)),
        ("64:ff9b:1::1", Some(Reserved)),
        // IPv4 in IPv6: judged by the IPv4 address.
        ("::ffff:127.0.0.1", Some(Loopback)),
        ("::ffff:10.1.2.3", Some(Private)),
        ("::ffff:169.254.169.254", Some(LinkLocal)),
        ("::127.0.0.1", Some(Loopback)),
        ("::10.0.0.1", Some(Private)),
        ("::8.8.8.8", Some(Reserved)),
        ("64:ff9b::127.0.0.1", Some(Loopback)),
        ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
        ("2002:7f00:1::1", Some(Loopback)),
        ("2002:c0a8:101::1", Some(Private)),
        // Public.
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("100.128.0.1", None),
        ("172.32.0.1", None),
        ("198.20.0.1", None),
        ("223.255.255.255", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
        ("2002:808:808::1", None),
        ("2606:4700:4700::1111", None),
        ("2a00:1450:4001::1", None),
    ];
    for (addr, want) in table {
        let ip: IpAddr = addr.parse().unwrap();
        assert_eq!(classify(ip), *want, "{addr}");
    }
}

fn policy(private: &[&str]) -> Policy {
    Policy {
        allow: Allowlist::default(),
        private: private.iter().map(|r| r.parse().unwrap()).collect(),
        head_deadline: HEAD_DEADLINE,
    }
}

#[test]
fn addresses_are_checked_after_resolving() {
    let refused = |host: &str, p: &Policy| match p.addresses(host, 80) {
        Err(Stop::Refused(refusal)) => refusal,
        other => panic!("{host}: {other:?}"),
    };
    let none = policy(&[]);
    let loopback = Refusal::Address {
        class: NonPublic::Loopback,
        literal: false,
    };
    assert_eq!(refused("localhost", &none), loopback);
    assert_eq!(
        refused("localhost", &none).recorded("localhost"),
        "localhost (resolves to a loopback address)"
    );
    assert_eq!(
        refused("[::ffff:169.254.169.254]", &none),
        Refusal::Address {
            class: NonPublic::LinkLocal,
            literal: true
        }
    );
    // Allowed ranges open exactly what they name, mapped forms included.
    let lo = policy(&["127.0.0.0/8"]);
    assert_eq!(
        lo.addresses("localhost", 80).unwrap(),
        ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        lo.addresses("::ffff:127.0.0.9", 80).unwrap(),
        ["127.0.0.9:80".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(refused("10.0.0.1", &lo).reason(), "is a private address");
    assert!(policy(&[]).addresses("8.8.8.8", 53).is_ok());
}

#[test]
fn parses_connect_and_absolute_form_requests() {
    let r = Request::parse(b"CONNECT api.github.com:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!((r.host.as_str(), r.port), ("api.github.com", 443));
    assert!(r.plain.is_none());
    let r = Request::parse(
        b"GET http://Example.com:8080/a?b HTTP/1.1\r\nHost: evil.com\r\nProxy-Connection: k\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n",
    )
    .unwrap();
    assert_eq!((r.host.as_str(), r.port), ("example.com", 8080));
    let plain = r.plain.unwrap();
    assert_eq!(
        String::from_utf8(plain.head).unwrap(),
        "GET /a?b HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(plain.body, Body::Empty);
    let r = Request::parse(b"GET http://[::1]/ HTTP/1.1\r\n\r\n").unwrap();
    assert!(String::from_utf8(r.plain.unwrap().head)
        .unwrap()
        .contains("\r\nHost: [::1]\r\n"));
    assert!(Request::parse(b"GET http://user@evil.com/ HTTP/1.1\r\n\r\n").is_none());
    assert!(Request::parse(b"GET /relative HTTP/1.1\r\n\r\n").is_none());
}

#[test]
fn request_bodies_are_framed_or_refused() {
    let body = |extra: &str| {
        let head = format!("POST http://a.org/ HTTP/1.1\r\n{extra}\r\n");
        Request::parse(head.as_bytes()).map(|r| r.plain.unwrap().body)
    };
    assert_eq!(body("Content-Length: 5\r\n"), Some(Body::Length(5)));
    assert_eq!(body("Transfer-Encoding: chunked\r\n"), Some(Body::Chunked));
    assert_eq!(
        body("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        None
    );
    assert_eq!(body("Content-Length: 5\r\nContent-Length: 6\r\n"), None);
    assert_eq!(body("Transfer-Encoding: gzip\r\n"), None);
    assert_eq!(body("X: a\r\n folded\r\n"), None);
    let mut out = Vec::new();
    let mut input: &[u8] = b"3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    copy_chunked(&mut input, &mut out).unwrap();
    assert_eq!(out, b"3\r\nabc\r\n0\r\n\r\n");
}

/// A proxy with `head_deadline`, and a client connected to it.
fn proxy_and_client(head_deadline: Duration) -> (EgressProxy, TcpStream) {
    let proxy = EgressProxy::new(Allowlist::default(), Vec::new(), head_deadline);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    listener.set_nonblocking(true).unwrap();
    proxy.accept_all(&listener);
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (proxy, client)
}

fn response(client: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = client.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn a_slow_head_is_cut_at_the_deadline() {
    let (_proxy, mut client) = proxy_and_client(Duration::from_secs(1));
    let mut writer = client.try_clone().unwrap();
    std::thread::spawn(move || {
        for byte in b"GET http://blocked.example/ HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let started = Instant::now();
    let out = response(&mut client);
    let took = started.elapsed();
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "cut after {took:?}"
    );
}

#[test]
fn the_head_limit_is_exact() {
    let head_of = |len: usize| {
        let start = "GET http://blocked.example/ HTTP/1.1\r\nX-Pad: ";
        let pad = len - start.len() - 4;
        format!("{start}{}\r\n\r\n", "a".repeat(pad))
    };
    for (len, want) in [(MAX_HEAD, "HTTP/1.1 403"), (MAX_HEAD + 1, "HTTP/1.1 431")] {
        let head = head_of(len);
        assert_eq!(head.len(), len);
        let (_proxy, mut client) = proxy_and_client(HEAD_DEADLINE);
        client.write_all(head.as_bytes()).unwrap();
        let out = response(&mut client);
        assert!(out.starts_with(want), "{len} bytes: {out}");
    }
}

#[test]
fn proxy_variables_override_the_callers() {
    let env = vec![
        ("HTTPS_PROXY".to_string(), "http://evil:1".to_string()),
        ("PATH".to_string(), "/bin".to_string()),
    ];
    let env = with_proxy_env(&env);
    let get = |k: &str| {
        env.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("HTTPS_PROXY"), ["http://127.0.0.1:3128"]);
    assert_eq!(get("PATH"), ["/bin"]);
    assert_eq!(get("no_proxy"), ["localhost,127.0.0.1,::1"]);
}
