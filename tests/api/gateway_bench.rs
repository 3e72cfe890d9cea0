//! What the model gateway adds to a model call, beside LiteLLM's proxy doing the same job,
//! both in front of the same model simulator on this machine:
//!
//! ```sh
//! python3 -m venv /tmp/litellm && /tmp/litellm/bin/pip install 'litellm[proxy]==1.100.5'
//! LITELLM=/tmp/litellm/bin/litellm cargo test --release --test api gateway_bench -- --ignored --nocapture
//! ```
//!
//! Time to first byte of a streamed Anthropic Messages answer, directly and through each
//! proxy (sequential calls, medians, each measured in three interleaved passes), and the
//! resident memory each proxy process gains while holding 100 streams open at once. agen's
//! gateway runs in a process of its own (this test binary, re-run as a child) like LiteLLM's.
//! Prints figures and ratios; asserts nothing about speed (a shared VM).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::payer_of_new_job;
use agen::budget::MicroUsd;
use agen::config::{ModelSettings, Source};
use agen::gateway::Gateway;
use agen::sim::model::{ModelSim, ModelSimConfig, Step};
use agen::store::Store;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

const PROVIDER_KEY: &str = "sk-ant-bench-provider";
const LITELLM_KEY: &str = "sk-litellm-bench-master";
const CALLS: usize = 300;
const STREAMS: usize = 100;
const CHILD: &str = "AGEN_GATEWAY_BENCH_UPSTREAM";

/// The child: serves one job's gateway in front of the upstream its parent names, prints
/// `GATEWAY <url> <token>`, and serves until its parent closes stdin.
#[tokio::test]
#[ignore]
async fn gateway_process() {
    let Ok(upstream) = std::env::var(CHILD) else {
        return; // run by the bench below only
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("agen.db").display()
    ))
    .await
    .unwrap();
    let settings = ModelSettings::load(&Source::from_pairs([
        ("ANTHROPIC_API_KEY", PROVIDER_KEY),
        ("ANTHROPIC_BASE_URL", upstream.as_str()),
        ("AGEN_JOB_MAX_USD", "1000"),
    ]))
    .unwrap();
    let payer = payer_of_new_job(&store, "bench", 1, 1, "bench/repo").await;
    let gateway = Gateway::new(store, settings);
    let pass = gateway.open_job(payer, gateway.caps(MicroUsd::from_usd(1000.0), None));
    let (serve, _guard) = pass.session();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    println!(
        "GATEWAY http://{} {}",
        listener.local_addr().unwrap(),
        pass.token()
    );
    serve(listener);
    // Until the parent closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    })
    .await
    .unwrap();
}

struct Proxy {
    name: &'static str,
    child: Child,
    url: String,
    /// Header name and value that authorise a call.
    auth: (&'static str, String),
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn start_agen(upstream: &str) -> Proxy {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            crate::test_path!("gateway_process").as_str(),
            "--nocapture",
        ])
        .env(CHILD, upstream)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines
        .find_map(|l| l.ok().filter(|l| l.starts_with("GATEWAY ")))
        .expect("the gateway child said where it listens");
    // Keep reading what the child prints (its test harness writes on when it ends).
    std::thread::spawn(move || lines.for_each(drop));
    let mut parts = line.split(' ').skip(1);
    let (url, token) = (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    );
    Proxy {
        name: "agen gateway",
        child,
        url,
        auth: ("x-api-key", token),
    }
}

/// LiteLLM's proxy with one model routed to the simulator; None (saying why) without it.
async fn start_litellm(upstream: &str, dir: &std::path::Path) -> Option<Proxy> {
    let bin = std::env::var("LITELLM").unwrap_or_else(|_| "litellm".into());
    let config = dir.join("litellm.yaml");
    std::fs::write(
        &config,
        format!(
            "model_list:\n  - model_name: claude-haiku-4-5\n    litellm_params:\n      \
             model: anthropic/claude-haiku-4-5\n      api_base: {upstream}\n      \
             api_key: {PROVIDER_KEY}\ngeneral_settings:\n  master_key: {LITELLM_KEY}\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match Command::new(&bin)
        .args(["--config", config.to_str().unwrap(), "--host", "127.0.0.1"])
        .args(["--port", &port.to_string(), "--num_workers", "1"])
        .env("LITELLM_LOG", "ERROR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            println!(
                "SKIPPED LiteLLM: cannot run {bin} ({e}); install it as this file's header says"
            );
            return None;
        }
    };
    let proxy = Proxy {
        name: "LiteLLM proxy",
        child,
        url: format!("http://127.0.0.1:{port}"),
        auth: ("authorization", format!("Bearer {LITELLM_KEY}")),
    };
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let uri = format!("{}/health/liveliness", proxy.url).parse().unwrap();
        if client.get(uri).await.is_ok_and(|r| r.status().is_success()) {
            return Some(proxy);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("SKIPPED LiteLLM: it did not come up within 120 s");
    None
}

type BenchClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn request(url: &str, auth: &(&'static str, String)) -> http::Request<Full<Bytes>> {
    let body = json!({
        "model": "claude-haiku-4-5",
        "max_tokens": 256,
        "stream": true,
        "messages": [{"role": "user", "content": "Say hello in five words."}],
    });
    http::Request::post(format!("{url}/v1/messages"))
        .header(auth.0, auth.1.as_str())
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// One streamed call: the time to its first body byte; the rest is read to the end.
async fn ttfb(client: &BenchClient, url: &str, auth: &(&'static str, String)) -> Duration {
    let started = Instant::now();
    let answer = client.request(request(url, auth)).await.unwrap();
    assert!(
        answer.status().is_success(),
        "{} answered {}",
        url,
        answer.status()
    );
    let mut body = answer.into_body();
    let first = loop {
        let frame = body.frame().await.expect("a first frame").unwrap();
        if frame.data_ref().is_some_and(|d| !d.is_empty()) {
            break started.elapsed();
        }
    };
    while body.frame().await.is_some() {}
    first
}

fn median(samples: Vec<Duration>) -> Duration {
    percentile(samples, 50)
}

fn percentile(mut samples: Vec<Duration>, p: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * p / 100).min(samples.len() - 1)]
}

/// A long streamed answer (`words` delta events) read to its end: the time from its first
/// byte to its last, and how many bytes came.
async fn long_stream(
    client: &BenchClient,
    model: &ModelSim,
    url: &str,
    auth: &(&'static str, String),
    words: usize,
) -> (Duration, usize) {
    let text = vec!["token"; words].join(" ");
    model.script(Step::text(&text));
    let mut request = request(url, auth);
    let body = json!({
        "model": "claude-haiku-4-5",
        "max_tokens": words + 16,
        "stream": true,
        "messages": [{"role": "user", "content": "Stream a long answer."}],
    });
    *request.body_mut() = Full::new(Bytes::from(body.to_string()));
    let answer = client.request(request).await.unwrap();
    assert!(answer.status().is_success());
    let mut body = answer.into_body();
    let mut first = None;
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            first.get_or_insert_with(Instant::now);
            bytes += data.len();
        }
    }
    (first.map_or(Duration::ZERO, |f| f.elapsed()), bytes)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// RSS before and while STREAMS streams through `proxy` are held open mid-answer, and how
/// many of them were open at once (a proxy may queue some).
async fn memory_for_streams(model: &ModelSim, proxy: &Proxy) -> (u64, u64, usize) {
    let before = rss_kib(proxy.child.id());
    for _ in 0..STREAMS {
        model.script(Step::text("one two three four five").gate_after(2));
    }
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Full<Bytes>>();
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let streams: Vec<_> = (0..STREAMS)
        .map(|_| {
            let (client, open) = (client.clone(), open.clone());
            let request = request(&proxy.url, &proxy.auth);
            tokio::spawn(async move {
                let answer = client.request(request).await.unwrap();
                assert!(answer.status().is_success());
                let mut body = answer.into_body();
                // Open once its first bytes are in; then read on to the end.
                let mut counted = false;
                while let Some(frame) = body.frame().await {
                    if !counted && frame.is_ok_and(|f| f.data_ref().is_some()) {
                        open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        counted = true;
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while open.load(std::sync::atomic::Ordering::SeqCst) < STREAMS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = rss_kib(proxy.child.id());
    let opened = open.load(std::sync::atomic::Ordering::SeqCst);
    model.open_gate();
    for stream in streams {
        let _ = tokio::time::timeout(Duration::from_secs(30), stream).await;
    }
    (before, during, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn gateway_against_litellm() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let model = ModelSim::start(ModelSimConfig {
        anthropic_key: PROVIDER_KEY.into(),
        openai_key: "unused".into(),
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let agen = start_agen(&model.url());
    let litellm = start_litellm(&model.url(), dir.path()).await;
    let direct_auth = ("x-api-key", PROVIDER_KEY.to_string());
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut targets = vec![("direct", model.url(), direct_auth)];
    targets.push((agen.name, agen.url.clone(), agen.auth.clone()));
    if let Some(l) = &litellm {
        targets.push((l.name, l.url.clone(), l.auth.clone()));
    }
    // Warm up every path (connections, LiteLLM's first-call setup).
    for (_, url, auth) in &targets {
        for _ in 0..20 {
            ttfb(&client, url, auth).await;
        }
    }
    println!("\ntime to first byte of a streamed answer, {CALLS} calls per pass (p50 / p99):");
    let mut added = vec![Vec::new(); targets.len()];
    let mut added_p99 = vec![Vec::new(); targets.len()];
    for pass in 1..=3 {
        let mut figures = Vec::new();
        for (_, url, auth) in &targets {
            let mut samples = Vec::with_capacity(CALLS);
            for _ in 0..CALLS {
                samples.push(ttfb(&client, url, auth).await);
            }
            figures.push((percentile(samples.clone(), 50), percentile(samples, 99)));
        }
        let line: Vec<String> = targets
            .iter()
            .zip(&figures)
            .map(|((name, _, _), (p50, p99))| format!("{name} {} / {}", ms(*p50), ms(*p99)))
            .collect();
        println!("  pass {pass}: {}", line.join(" · "));
        for (i, (p50, p99)) in figures.iter().enumerate() {
            added[i].push(p50.saturating_sub(figures[0].0));
            added_p99[i].push(p99.saturating_sub(figures[0].1));
        }
    }
    for (i, (name, _, _)) in targets.iter().enumerate().skip(1) {
        let spread: Vec<String> = added[i].iter().map(|d| ms(*d)).collect();
        println!(
            "  added by {name}: p50 {} (passes: {}), p99 {}",
            ms(median(added[i].clone())),
            spread.join(", "),
            ms(median(added_p99[i].clone()))
        );
    }
    if targets.len() == 3 {
        let (a, l) = (median(added[1].clone()), median(added[2].clone()));
        println!(
            "  agen adds {:.3}× what LiteLLM adds at p50 (LiteLLM adds {:.1}× agen's)",
            a.as_secs_f64() / l.as_secs_f64().max(1e-9),
            l.as_secs_f64() / a.as_secs_f64().max(1e-9)
        );
    }

    const WORDS: usize = 5000;
    println!("\na streamed answer of {WORDS} delta events, first byte to last (3 runs, median):");
    let mut per_event = Vec::new();
    for (name, url, auth) in &targets {
        let mut runs = Vec::new();
        let mut bytes = 0;
        for _ in 0..3 {
            let (took, n) = long_stream(&client, &model, url, auth, WORDS).await;
            runs.push(took);
            bytes = n;
        }
        let took = median(runs);
        per_event.push(took);
        println!(
            "  {name}: {} ({:.0} events/s, {:.1} MB/s)",
            ms(took),
            WORDS as f64 / took.as_secs_f64(),
            bytes as f64 / took.as_secs_f64() / 1e6
        );
    }
    for (i, (name, _, _)) in targets.iter().enumerate().skip(1) {
        let added = per_event[i].saturating_sub(per_event[0]).as_secs_f64() / WORDS as f64;
        println!("  added per event by {name}: {:.2} µs", added * 1e6);
    }
    println!("\nresident memory while {STREAMS} streams are held open mid-answer:");
    let mut proxies = vec![&agen];
    proxies.extend(litellm.as_ref());
    for proxy in proxies {
        let (before, during, opened) = memory_for_streams(&model, proxy).await;
        println!(
            "  {}: {:.1} MiB idle, {:.1} MiB with {opened} of {STREAMS} streams open (+{:.1} MiB)",
            proxy.name,
            before as f64 / 1024.0,
            during as f64 / 1024.0,
            during.saturating_sub(before) as f64 / 1024.0
        );
    }
}
