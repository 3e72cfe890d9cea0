//! Signed deliveries, the delivery log, and redelivery.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::sim::deliver::sign;
use crate::sim::merge_json;

#[test]
fn signature_matches_githubs_documented_vector() {
    assert_eq!(
        sign(b"It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[test]
fn merge_json_merges_objects_and_replaces_the_rest() {
    let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x"});
    merge_json(
        &mut base,
        json!({"a": {"c": [3], "e": null}, "d": {"f": true}}),
    );
    assert_eq!(
        base,
        json!({"a": {"b": 1, "c": [3], "e": null}, "d": {"f": true}})
    );
}

type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A receiver that remembers event, signature and body, and answers 202.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/webhook",
        axum::routing::post(
            move |headers: http::HeaderMap, body: bytes::Bytes| async move {
                let get = |k: &str| {
                    headers
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                let event = get("x-github-event");
                let signature = get("x-hub-signature-256");
                store
                    .lock()
                    .unwrap()
                    .push((event, signature, body.to_vec()));
                http::StatusCode::ACCEPTED
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn deliveries_are_signed_posted_and_logged() {
    let sim = setup().await;
    let (url, seen) = receiver().await;
    let app = sim.as_(&jwt());
    // GitHub's own example (the shared copy CI lays beside the crate).
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/github/webhook-payloads/issue_comment/created.payload.json"
    );
    let mut payload: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    merge_json(&mut payload, json!({"installation": {"id": 42}}));
    let delivery = sim.webhook("issue_comment", payload);
    let parts: Vec<usize> = delivery.id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12]);
    assert_eq!(delivery.id.as_bytes()[14], b'4');
    assert_eq!(delivery.signature, sign(b"demo-secret", &delivery.body));
    assert_eq!(delivery.post(&sim, &url).await.unwrap(), 202);
    let second = sim.webhook("ping", json!({"zen": "Keep it simple."}));
    assert_eq!(second.post(&sim, &url).await.unwrap(), 202);
    let received = seen.lock().unwrap().clone();
    assert_eq!(
        received[0],
        (
            "issue_comment".to_string(),
            delivery.signature.clone(),
            delivery.body.clone()
        )
    );

    let list = app.get("/app/hook/deliveries?per_page=1").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json[0]["event"], "ping");
    let next = list.header("link").expect("next page").to_string();
    let cursor = next
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap();
    let page = format!("/app/hook/deliveries?per_page=1&cursor={cursor}");
    let older = app.get(&page).await;
    assert_eq!(older.json[0]["guid"], delivery.id.as_str());
    assert_eq!(older.json[0]["action"], "created");
    assert_eq!(older.json[0]["installation_id"], 42);
    assert_eq!(older.json[0]["status_code"], 202);
    assert!(older.header("link").is_none());

    let id = older.json[0]["id"].as_u64().unwrap();
    let detail = app.get(&format!("/app/hook/deliveries/{id}")).await;
    assert_eq!(
        detail.json["request"]["headers"]["x-github-delivery"],
        delivery.id.as_str()
    );
    assert_eq!(detail.json["request"]["payload"]["action"], "created");
    let attempts = format!("/app/hook/deliveries/{id}/attempts");
    assert_eq!(app.post(&attempts, None).await.status, 202);
    assert_eq!(sim.redelivery_requests(), [id]);
    let again = sim.redeliver(id).expect("logged delivery");
    assert_eq!(
        (again.id.as_str(), again.body.as_slice(), again.redelivery),
        (delivery.id.as_str(), delivery.body.as_slice(), true)
    );
    assert_eq!(again.post(&sim, &url).await.unwrap(), 202);
    assert!(sim.deliveries()[2].redelivery);
    assert_eq!(
        app.post("/app/hook/deliveries/1/attempts", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn failed_deliveries_are_logged_too() {
    let sim = setup().await;
    let delivery = sim.webhook("ping", json!({"zen": "x"}));
    let url = format!("{}/not-a-webhook", sim.api_url());
    assert_eq!(delivery.post(&sim, &url).await.unwrap(), 404);
    let log = &sim.deliveries()[0];
    assert_eq!(
        (log.status_code, log.status.as_str()),
        (404, "Invalid HTTP Response: 404")
    );
}
