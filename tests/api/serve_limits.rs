//! `agen serve` against slow and idle clients: connections that never finish their head, or
//! trickle their body, neither hold a descriptor past their deadline nor keep real deliveries
//! and `/healthz` out once the connection cap is reached.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::{seeded_sim, spawn_with, Env};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn spawn_limited(extra: &[(&str, &str)]) -> Env {
    let (sim, repo_id) = seeded_sim().await;
    spawn_with(sim, repo_id, extra).await
}

/// A connection that sent half a request head and nothing more.
async fn half_head(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /webhook HTTP/1.1\r\nHost: agen\r\nX-GitHub-Event: pi")
        .await
        .unwrap();
    s
}

/// A connection that sent a whole head announcing a large body, and a few bytes of it.
async fn body_started(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"POST /webhook HTTP/1.1\r\nHost: agen\r\nX-GitHub-Event: ping\r\n\
          X-GitHub-Delivery: 00000000-0000-0000-0000-000000000000\r\n\
          X-Hub-Signature-256: sha256=00\r\nContent-Length: 100000\r\n\r\n{\"zen\":",
    )
    .await
    .unwrap();
    s
}

/// Whether the server closed `s` (EOF or reset) within `wait`; any answer it sent first is
/// returned with it.
async fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let mut buf = [0u8; 4096];
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn healthz(addr: SocketAddr) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: agen\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn past_the_connection_cap_the_oldest_idle_connections_make_room() {
    let env = spawn_limited(&[
        ("AGEN_MAX_CONNECTIONS", "64"),
        ("AGEN_HEAD_TIMEOUT_SECONDS", "60"),
        ("AGEN_BODY_TIMEOUT_SECONDS", "60"),
    ])
    .await;
    let addr = env.app.addr;
    let mut oldest = Vec::new();
    for _ in 0..40 {
        oldest.push(half_head(addr).await);
    }
    // Bodies under way: busy, not idle, so never dropped to make room.
    let mut bodies = Vec::new();
    for _ in 0..20 {
        bodies.push(body_started(addr).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            for s in bodies.iter_mut() {
                let _ = s.write_all(b" ").await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bodies
    });
    // 40 + 20 open; 30 more half heads take the cap 26 past.
    let mut newer = Vec::new();
    for _ in 0..30 {
        newer.push(half_head(addr).await);
    }
    let asked = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(1), env.send("ping", ping()))
        .await
        .expect("a signed delivery is answered within a second");
    assert_eq!(status, 202);
    let health = tokio::time::timeout(Duration::from_secs(1), healthz(addr))
        .await
        .expect("/healthz is answered within a second");
    assert_eq!(health, 200);
    assert!(asked.elapsed() < Duration::from_secs(2));
    // Room was made by the oldest connections still sending their head: 26 for the half
    // heads past the cap, then one each for the delivery and the health check.
    let mut dropped = 0;
    for s in oldest.iter_mut() {
        if closed_within(s, Duration::from_millis(200)).await.is_some() {
            dropped += 1;
        }
    }
    assert!(
        dropped >= 26,
        "only {dropped} of the oldest idle connections were dropped"
    );
    let bodies = trickle.await.unwrap();
    for mut s in bodies {
        assert_eq!(
            closed_within(&mut s, Duration::from_millis(20)).await,
            None,
            "a connection sending its body is not dropped to make room"
        );
    }
    let mut newer_open = 0;
    for s in newer.iter_mut() {
        if closed_within(s, Duration::from_millis(20)).await.is_none() {
            newer_open += 1;
        }
    }
    assert_eq!(newer_open, 30, "the newest connections are kept");
}

fn ping() -> serde_json::Value {
    serde_json::json!({ "zen": "Keep it logically awesome.", "hook_id": 1 })
}

/// Writes `bytes` one every 100 ms on `s` (then nothing more) and reads until agen closes
/// the connection, for at most 4 s; returns how long that took and what agen answered.
async fn trickle_until_closed(s: &mut TcpStream, bytes: &[u8]) -> (Duration, String) {
    let started = Instant::now();
    let (mut read, mut write) = s.split();
    let trickle = async {
        for b in bytes {
            if write.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::future::pending::<()>().await;
    };
    let mut got = Vec::new();
    let closed = async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::select! {
        _ = trickle => unreachable!(),
        _ = tokio::time::timeout(Duration::from_secs(4), closed) => {}
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

#[tokio::test]
async fn a_head_trickled_past_the_head_timeout_is_closed_at_the_deadline() {
    let env = spawn_limited(&[("AGEN_HEAD_TIMEOUT_SECONDS", "1")]).await;
    let mut s = TcpStream::connect(env.app.addr).await.unwrap();
    let head = b"GET /healthz HTTP/1.1\r\nHost: agen\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (took, answer) = trickle_until_closed(&mut s, head).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "closed after {took:?}, the head timeout is 1 s"
    );
    assert!(
        !answer.contains(" 200 "),
        "an unfinished head is never served: {answer}"
    );
}

#[tokio::test]
async fn a_body_trickled_past_the_body_timeout_is_cut_off_and_stores_nothing() {
    let env = spawn_limited(&[("AGEN_BODY_TIMEOUT_SECONDS", "1")]).await;
    let delivery = env.sim.webhook("ping", ping());
    let mut s = TcpStream::connect(env.app.addr).await.unwrap();
    let head = format!(
        "POST /webhook HTTP/1.1\r\nHost: agen\r\nX-GitHub-Event: ping\r\nX-GitHub-Delivery: {}\r\n\
         X-Hub-Signature-256: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        delivery.id,
        delivery.signature,
        delivery.body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    // All but the last byte, slowly: the body never completes in time.
    let body = &delivery.body[..delivery.body.len() - 1];
    let (took, answer) = trickle_until_closed(&mut s, body).await;
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "closed after {took:?}, the body timeout is 1 s"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408 "),
        "closed, or answered 408: {answer}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.app.inbox.uncopied(), 0);
    assert_eq!(env.app.store.pending_deliveries().await.unwrap(), 0);
    assert!(env.app.store.delivery_outcomes().await.unwrap().is_empty());
}
