//! Steps beyond the answer: errors in the providers' shapes, and streams held at a gate,
//! cut, or slowed until the client leaves.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn scripted_errors_in_the_providers_shape() {
    let sim = sim().await;
    sim.script(Step::error(429).retry_after(7));
    sim.script(Step::error(529));
    sim.script(Step::error(500));
    sim.script(Step::error(429).retry_after(3));
    sim.script(Step::error(503));

    let r = messages(&sim, true).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.json().await["error"]["type"], "rate_limit_error");
    let r = messages(&sim, false).await;
    assert_eq!(r.status, 529);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(r.json().await["error"]["type"], "overloaded_error");
    let r = messages(&sim, false).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json().await["error"]["type"], "api_error");

    let r = chat(&sim, true).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    let r = r.json().await;
    assert_eq!(r["error"]["type"], "rate_limit_exceeded");
    assert_eq!(r["error"]["code"], "rate_limit_exceeded");
    let r = responses(&sim, false).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json().await["error"]["type"], "server_error");
}

#[tokio::test]
async fn gate_holds_events_until_opened() {
    let sim = sim().await;
    sim.script(Step::text("one two three four five").gate_after(3));
    let mut reply = messages(&sim, true).await;
    for _ in 0..3 {
        assert!(reply.next_event().await.expect("event").is_some());
    }
    let held = tokio::time::timeout(Duration::from_millis(300), reply.next_event()).await;
    assert!(held.is_err(), "an event passed the gate");
    assert_eq!(sim.events_sent(), 3);
    sim.open_gate();
    let rest = reply.all_events().await;
    let total = 3 + rest.len();
    assert_eq!(
        total, 11,
        "message_start, block start, ping, 5 deltas, stop, delta, stop"
    );
    assert_eq!(
        rest.last().and_then(|e| e.name.as_deref()),
        Some("message_stop")
    );
    assert_eq!(sim.events_sent(), 11);
    assert_eq!(sim.cancelled(), 0);
}

#[tokio::test]
async fn cut_truncates_the_stream() {
    let sim = sim().await;
    sim.script(Step::text("one two three").cut_after(2));
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let mut reply = post(&sim, "/v1/chat/completions", &openai_headers(), body).await;
    assert_eq!(reply.status, 200);
    for _ in 0..2 {
        assert!(reply.next_event().await.expect("event").is_some());
    }
    assert!(
        reply.next_event().await.is_err(),
        "the stream must break, not end"
    );
    assert_eq!(sim.events_sent(), 2);
}

#[tokio::test]
async fn cancelled_counts_a_client_that_left() {
    let sim = sim().await;
    let words = vec!["word"; 100].join(" ");
    sim.script(Step::text(&words).event_delay(Duration::from_millis(10)));
    let mut reply = responses(&sim, true).await;
    for _ in 0..2 {
        assert!(reply.next_event().await.expect("event").is_some());
    }
    drop(reply);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.cancelled() == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.cancelled(), 1);
    assert!(sim.events_sent() < 100);

    // A gated stream whose client leaves is cancelled too.
    sim.script(Step::text("a b c").gate_after(1));
    let mut reply = messages(&sim, true).await;
    assert!(reply.next_event().await.expect("event").is_some());
    drop(reply);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.cancelled() == 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.cancelled(), 2);
}
