//! Answers the handlers build: status, headers, body; GitHub's error shape; pagination.

use axum::body::Body;
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) const DOCS: &str = "https://docs.github.com/rest";

pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=utf-8",
            body: value.to_string().into_bytes(),
        }
    }

    pub fn raw(content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            content_type,
            body,
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=utf-8",
            body: Vec::new(),
        }
    }

    /// `{"message", "documentation_url", "status"}`, as GitHub answers errors.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
        )
    }

    pub fn not_found() -> Reply {
        Reply::error(404, "Not Found")
    }

    /// 422 with one `errors` entry, like GitHub's "Validation Failed".
    pub fn validation(resource: &str, field: &str, code: &str, message: &str) -> Reply {
        let error = json!({"resource": resource, "field": field, "code": code, "message": message});
        Reply::json(
            422,
            json!({"message": "Validation Failed", "errors": [error],
                   "documentation_url": DOCS, "status": "422"}),
        )
    }

    pub fn header(mut self, name: &str, value: String) -> Reply {
        self.headers.push((name.to_string(), value));
        self
    }

    /// The HTTP response.
    pub fn into_response(self) -> Response {
        let mut builder = Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, self.content_type);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Body::from(self.body))
            .unwrap_or_else(|_| Response::new(Body::from("simulator: bad response header")))
    }
}

/// `per_page` (default 30, at most 100) and `page` (from 1) from a query.
pub(crate) fn page_params(query: &[(String, String)]) -> (usize, usize) {
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let per_page = get("per_page").unwrap_or(30).clamp(1, 100);
    let page = get("page").unwrap_or(1).max(1);
    (per_page, page)
}

/// One page of `items` and the `Link` header GitHub would send (`next`, `last`, `first`,
/// `prev`), built on `url` (the request's URL without query).
pub(crate) fn paginate(
    items: Vec<Value>,
    query: &[(String, String)],
    url: &str,
) -> (Vec<Value>, Option<String>) {
    let (per_page, page) = page_params(query);
    let last = items.len().div_ceil(per_page).max(1);
    let link = |p: usize, rel: &str| format!("<{url}?per_page={per_page}&page={p}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    let start = per_page.saturating_mul(page - 1);
    let slice = items.into_iter().skip(start).take(per_page).collect();
    (slice, (!links.is_empty()).then(|| links.join(", ")))
}

/// A JSON array page answered with its `Link` header.
pub(crate) fn page_reply(items: Vec<Value>, query: &[(String, String)], url: &str) -> Reply {
    let (slice, link) = paginate(items, query, url);
    let reply = Reply::json(200, Value::Array(slice));
    match link {
        Some(link) => reply.header("link", link),
        None => reply,
    }
}
