//! `agen demo-agent`: the agent `agen demo` runs in its sandbox. Like a real one it holds no
//! key of its own: it asks its model through the job's gateway (`ANTHROPIC_BASE_URL`, with
//! the job token as `ANTHROPIC_API_KEY`), reads the streamed answer event by event, and
//! writes what the model said into the worktree.

use anyhow::Context;
use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use http_body_util::{BodyExt, BodyStream, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// The model the demo asks (priced in the built-in table).
pub const DEMO_MODEL: &str = "claude-haiku-4-5";

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set: run me as agen's agent"))
}

pub async fn run() -> anyhow::Result<()> {
    let base = env("ANTHROPIC_BASE_URL")?;
    let token = env("ANTHROPIC_API_KEY")?;
    let task = std::fs::read_to_string(env("AGEN_TASK_FILE")?).context("reading the task")?;
    let body = json!({
        "model": DEMO_MODEL,
        "max_tokens": 1024,
        "stream": true,
        "messages": [{
            "role": "user",
            "content": format!("{task}\n\nAnswer with the one line to write to greeting.txt."),
        }],
    });
    let request = http::Request::post(format!("{base}/v1/messages"))
        .header("x-api-key", token)
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let answer = client.request(request).await.context("asking the model")?;
    let status = answer.status();
    if !status.is_success() {
        let text = answer.into_body().collect().await?.to_bytes();
        anyhow::bail!(
            "the model answered {status}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    let data = BodyStream::new(answer.into_body())
        .filter_map(|frame| async move { frame.map(|f| f.into_data().ok()).transpose() });
    let mut events = std::pin::pin!(data.eventsource());
    let mut said = String::new();
    while let Some(event) = events.next().await {
        let event = event.context("reading the model's stream")?;
        if event.event == "content_block_delta" {
            let value: Value = serde_json::from_str(&event.data).unwrap_or_default();
            if let Some(text) = value.pointer("/delta/text").and_then(Value::as_str) {
                said.push_str(text);
            }
        }
    }
    let line = said.trim();
    anyhow::ensure!(!line.is_empty(), "the model said nothing");
    std::fs::write("greeting.txt", format!("{line}\n"))?;
    let round = std::env::var("AGEN_ROUND").unwrap_or_default();
    std::fs::write(
        env("AGEN_SUMMARY_FILE")?,
        format!(
            "Made `greeting.txt` say what {DEMO_MODEL} answered (agent round {round}), asked \
             through agen's gateway with no key in the sandbox.\n"
        ),
    )?;
    println!("the model said: {line}");
    Ok(())
}
