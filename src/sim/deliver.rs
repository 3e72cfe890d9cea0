//! Delivering webhooks to agen: signed the way GitHub signs them, posted, and logged for
//! the delivery-log API (`/app/hook/deliveries`). (Verifying them on agen's side is the
//! crate's `webhook` module.)

use std::time::Instant;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::Value;
use sha2::Sha256;

use super::http_client;
use super::Simulator;

/// A webhook ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The `X-GitHub-Delivery` GUID.
    pub id: String,
    pub event: String,
    /// Compact JSON, exactly the bytes that are signed and sent.
    pub body: Vec<u8>,
    /// `sha256=` + hex HMAC-SHA256 of `body` with the webhook secret.
    pub signature: String,
    /// Whether this is a redelivery of an earlier delivery.
    pub redelivery: bool,
}

/// One delivery attempt, as the delivery-log API reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryLog {
    pub id: u64,
    pub guid: String,
    pub delivered_at: DateTime<Utc>,
    pub redelivery: bool,
    /// Seconds.
    pub duration: f64,
    /// `OK`, `Invalid HTTP Response: 401`, or the connection error.
    pub status: String,
    /// 0 when no response came back.
    pub status_code: u16,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<u64>,
    pub repository_id: Option<u64>,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub payload: Value,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
}

/// `sha256=` + hex HMAC-SHA256(secret, body): the `X-Hub-Signature-256` value.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A random GUID in UUID v4 shape.
fn guid() -> String {
    let mut b: [u8; 16] = rand::thread_rng().gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Deep merge for test overrides: objects merge key by key, everything else replaces.
pub fn merge_json(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge_json(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

impl Simulator {
    /// A new delivery of `event` with `payload`, signed with the webhook secret.
    pub fn webhook(&self, event: &str, payload: Value) -> Delivery {
        let body = payload.to_string().into_bytes();
        Delivery {
            id: guid(),
            event: event.to_string(),
            signature: sign(self.config().webhook_secret.as_bytes(), &body),
            body,
            redelivery: false,
        }
    }

    /// Every delivery attempt made through [`Delivery::post`], oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryLog> {
        self.shared().lock().deliveries.clone()
    }

    /// Delivery ids whose redelivery was requested through the API, in order.
    pub fn redelivery_requests(&self) -> Vec<u64> {
        self.shared().lock().redeliveries.clone()
    }

    /// The logged delivery `delivery_id` again, same GUID and bytes, marked as a redelivery.
    pub fn redeliver(&self, delivery_id: u64) -> Option<Delivery> {
        let st = self.shared().lock();
        let log = st.deliveries.iter().find(|d| d.id == delivery_id)?;
        let body = log.payload.to_string().into_bytes();
        Some(Delivery {
            id: log.guid.clone(),
            event: log.event.clone(),
            signature: sign(self.config().webhook_secret.as_bytes(), &body),
            body,
            redelivery: true,
        })
    }
}

impl Delivery {
    /// POSTs the delivery to `url` with GitHub's headers, logs the attempt in the
    /// simulator, and returns the HTTP status.
    pub async fn post(&self, sim: &Simulator, url: &str) -> anyhow::Result<u16> {
        let headers: Vec<(String, String)> = [
            ("x-github-event", self.event.as_str()),
            ("x-github-delivery", self.id.as_str()),
            ("x-hub-signature-256", self.signature.as_str()),
            ("content-type", "application/json"),
            ("user-agent", "GitHub-Hookshot/sim"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let started = Instant::now();
        let result = http_client::send("POST", url, &headers, self.body.clone()).await;
        let duration = started.elapsed().as_secs_f64();
        let payload: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let mut st = sim.shared().lock();
        let (status, status_code, response_headers, response_body) = match &result {
            Ok(r) if (200..300).contains(&r.status) => (
                "OK".to_string(),
                r.status,
                r.headers.clone(),
                r.body.clone(),
            ),
            Ok(r) => (
                format!("Invalid HTTP Response: {}", r.status),
                r.status,
                r.headers.clone(),
                r.body.clone(),
            ),
            Err(e) => (format!("failed to connect: {e}"), 0, Vec::new(), Vec::new()),
        };
        let log = DeliveryLog {
            id: st.id(),
            guid: self.id.clone(),
            delivered_at: st.now(),
            redelivery: self.redelivery,
            duration,
            status,
            status_code,
            event: self.event.clone(),
            action: payload
                .get("action")
                .and_then(Value::as_str)
                .map(str::to_string),
            installation_id: payload.pointer("/installation/id").and_then(Value::as_u64),
            repository_id: payload.pointer("/repository/id").and_then(Value::as_u64),
            url: url.to_string(),
            request_headers: headers,
            payload,
            response_headers,
            response_body: String::from_utf8_lossy(&response_body).into_owned(),
        };
        st.deliveries.push(log);
        drop(st);
        Ok(result?.status)
    }
}
