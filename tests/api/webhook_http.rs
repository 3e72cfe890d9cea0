//! The HTTP edge: every answer the contract promises, and every real payload accepted.

use crate::support;

use crate::support::raw_http::post;
use crate::support::spawn;
use agen::sim::sign;

const SECRET: &[u8] = b"demo-secret";

fn headers<'a>(event: &'a str, delivery: &'a str, signature: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Content-Type", "application/json"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", delivery),
        ("X-Hub-Signature-256", signature),
    ]
}

#[tokio::test]
async fn answers_follow_the_contract() {
    let env = spawn().await;
    let addr = env.app.addr;
    let body = br#"{"action":"created","installation":{"id":11}}"#;
    let good = sign(SECRET, body);
    let bad = sign(b"wrong secret", body);
    let sha1_only = vec![
        ("X-GitHub-Event", "ping"),
        ("X-GitHub-Delivery", "d-sha1"),
        ("X-Hub-Signature", "sha1=00"),
    ];

    /// (name, headers, body, expected status, expected message part)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8], u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "no signature",
            vec![("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "d0")],
            body,
            401,
            "missing X-Hub-Signature-256",
        ),
        ("sha1 only", sha1_only, body, 401, "sha256 signatures only"),
        (
            "forged signature",
            headers("ping", "d1", &bad),
            body,
            401,
            "does not match",
        ),
        (
            "malformed signature",
            headers("ping", "d2", "sha256=xyz"),
            body,
            401,
            "not of the form",
        ),
        (
            "missing event",
            vec![("X-GitHub-Delivery", "d3"), ("X-Hub-Signature-256", &good)],
            body,
            400,
            "x-github-event",
        ),
        (
            "missing delivery",
            vec![("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &good)],
            body,
            400,
            "x-github-delivery",
        ),
        (
            "recorded",
            headers("ping", "d4", &good),
            body,
            202,
            "recorded",
        ),
        (
            "duplicate",
            headers("ping", "d4", &good),
            body,
            200,
            "already recorded",
        ),
    ];
    for (name, hs, body, status, message) in cases {
        let a = post(addr, "/webhook", &hs, body, false).await;
        assert_eq!(a.status, status, "{name}: {}", a.body);
        assert!(a.body.contains(message), "{name}: {}", a.body);
    }

    let not_json = b"{not json";
    let sig = sign(SECRET, not_json);
    let a = post(
        addr,
        "/webhook",
        &headers("ping", "d5", &sig),
        not_json,
        false,
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("not valid JSON"));

    // Probot's path answers the same way.
    let a = post(
        addr,
        "/api/github/webhooks",
        &headers("ping", "d6", &good),
        body,
        false,
    )
    .await;
    assert_eq!(a.status, 202);

    // Only the two validly signed, well-formed deliveries were stored.
    env.settle().await;
    let stored: Vec<String> = env
        .app
        .store
        .delivery_outcomes()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(stored, vec!["d4", "d6"]);
}

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_not() {
    let (sim, repo_id) = support::seeded_sim().await;
    let env = support::spawn_with(sim, repo_id, &[("AGEN_WEBHOOK_MAX_BYTES", "65536")]).await;
    let big = vec![b' '; 200_000];
    let sig = sign(SECRET, &big);
    for chunked in [false, true] {
        let a = post(
            env.app.addr,
            "/webhook",
            &headers("ping", "big", &sig),
            &big,
            chunked,
        )
        .await;
        assert_eq!(a.status, 413, "chunked={chunked}: {}", a.body);
        assert!(a.body.contains("65536-byte limit"), "{}", a.body);
    }
    assert_eq!(env.app.store.pending_deliveries().await.unwrap(), 0);
    assert_eq!(env.app.inbox.uncopied(), 0);
}

#[tokio::test]
async fn every_real_payload_is_accepted_when_signed() {
    let env = spawn().await;
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/github/webhook-payloads");
    let mut n = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let event = dir.file_name().unwrap().to_string_lossy().to_string();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            // The stored bytes as they are (pretty-printed), signed over exactly those bytes.
            let body = std::fs::read(&file).unwrap();
            let sig = sign(SECRET, &body);
            let id = format!("conformance-{n}");
            let a = post(
                env.app.addr,
                "/webhook",
                &headers(&event, &id, &sig),
                &body,
                false,
            )
            .await;
            assert_eq!(a.status, 202, "{}: {}", file.display(), a.body);
            n += 1;
        }
    }
    assert_eq!(n, 118);
    env.settle().await;
    let outcomes = env.app.store.delivery_outcomes().await.unwrap();
    assert_eq!(outcomes.len(), 118);
    for (id, event, outcome) in outcomes {
        assert!(
            !outcome.starts_with("gave up") && !outcome.contains("unreadable"),
            "{id} {event}: {outcome}"
        );
    }
}
