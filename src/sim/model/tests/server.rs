//! The simulator itself: the calls it records, and its end with its last handle.

use std::time::Duration;

use serde_json::Value;

use super::*;

#[tokio::test]
async fn calls_record_headers_and_body() {
    let sim = sim().await;
    let mut headers = openai_headers();
    headers.push(("X-Agen-Job", "job-7".to_string()));
    let body = chat_body(false);
    post(&sim, "/v1/chat/completions?trace=1", &headers, body.clone())
        .await
        .json()
        .await;
    send(&sim, "POST", "/v1/messages", &anthropic_headers(), None).await;

    let calls = sim.calls();
    assert_eq!(calls.len(), 2);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/v1/chat/completions?trace=1");
    assert_eq!(call.header("x-agen-job"), Some("job-7"));
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert!(call.headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    assert_eq!(call.body, body);
    assert_eq!(call.status, 200);
    assert_eq!(calls[1].body, Value::Null);
    assert_eq!(calls[1].status, 400);
}

#[tokio::test]
async fn the_server_stops_with_its_last_handle() {
    let sim = sim().await;
    let url = sim.url();
    let clone = sim.clone();
    drop(sim);
    assert_eq!(
        send(&clone, "GET", "/v1/models", &openai_headers(), None)
            .await
            .status,
        200
    );
    drop(clone);
    let addr = url.trim_start_matches("http://").to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
