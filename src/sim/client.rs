//! A small client for tests that call the simulated GitHub themselves:
//! `sim.as_(&token).post(path, body)`, `.get(path)`, `.patch(path, body)`, `.put(path, body)`,
//! `.delete(path)`, and `sim.anonymous().get(path)` for calls without credentials.
//!
//! Every call sends `Accept: application/vnd.github+json` and a `User-Agent` (GitHub refuses
//! a call without one) and, unless anonymous, `Authorization: Bearer {token}` with an App JWT
//! or an installation token. A call the simulator does not answer panics: this is for tests.

use serde_json::Value;

use super::http_client;
use super::Simulator;

/// Calls to one simulator with one credential, or none. It keeps the simulator running.
#[derive(Clone)]
pub struct SimClient {
    sim: Simulator,
    bearer: Option<String>,
    user_agent: bool,
}

/// What the simulator answered to a [`SimClient`] call.
#[derive(Clone, Debug)]
pub struct SimAnswer {
    pub status: u16,
    /// The body as JSON; `Null` when it is empty or not JSON (see `body`).
    pub json: Value,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SimAnswer {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// GitHub's error `message`, or `""`.
    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or_default()
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Simulator {
    /// A client authenticating with `token` (an App JWT or an installation token).
    pub fn as_(&self, token: &str) -> SimClient {
        SimClient {
            sim: self.clone(),
            bearer: Some(token.to_string()),
            user_agent: true,
        }
    }

    /// A client sending no credentials.
    pub fn anonymous(&self) -> SimClient {
        SimClient {
            sim: self.clone(),
            bearer: None,
            user_agent: true,
        }
    }
}

impl SimClient {
    /// The same client, sending no `User-Agent` header.
    pub fn without_user_agent(mut self) -> SimClient {
        self.user_agent = false;
        self
    }

    pub async fn get(&self, path: &str) -> SimAnswer {
        self.send("GET", path, None).await
    }

    pub async fn delete(&self, path: &str) -> SimAnswer {
        self.send("DELETE", path, None).await
    }

    /// POSTs `body` as JSON; `None` sends an empty body.
    pub async fn post(&self, path: &str, body: impl Into<Option<Value>>) -> SimAnswer {
        self.send("POST", path, body.into()).await
    }

    /// PATCHes `body` as JSON; `None` sends an empty body.
    pub async fn patch(&self, path: &str, body: impl Into<Option<Value>>) -> SimAnswer {
        self.send("PATCH", path, body.into()).await
    }

    /// PUTs `body` as JSON; `None` sends an empty body.
    pub async fn put(&self, path: &str, body: impl Into<Option<Value>>) -> SimAnswer {
        self.send("PUT", path, body.into()).await
    }

    /// Any method, with an optional JSON body.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> SimAnswer {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send_bytes(method, path, bytes).await
    }

    /// Any method, with `body` sent as it is (e.g. to send what is not JSON).
    pub async fn send_bytes(&self, method: &str, path: &str, body: Vec<u8>) -> SimAnswer {
        let mut headers = vec![(
            "accept".to_string(),
            "application/vnd.github+json".to_string(),
        )];
        if self.user_agent {
            headers.push(("user-agent".to_string(), "agen-sim-client".to_string()));
        }
        if let Some(token) = &self.bearer {
            headers.push(("authorization".to_string(), format!("Bearer {token}")));
        }
        let url = format!("{}{path}", self.sim.api_url());
        let reply = http_client::send(method, &url, &headers, body)
            .await
            .unwrap_or_else(|e| panic!("the simulator answers {method} {path}: {e:#}"));
        SimAnswer {
            status: reply.status,
            json: serde_json::from_slice(&reply.body).unwrap_or(Value::Null),
            headers: reply.headers,
            body: reply.body,
        }
    }
}
