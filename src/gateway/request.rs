//! What a generating call asks for (model, answer limit, streaming), and the body agen sends
//! on instead: the limit lowered to what the budget pays for, and OpenAI's usage asked for
//! in streams. Anything else in the body goes on as it came.

use serde_json::{Map, Value};

use super::routes::Route;

#[derive(Clone, Debug, PartialEq)]
pub struct ModelRequest {
    pub model: String,
    /// The answer limit the client set, if any.
    pub asked: Option<u64>,
    pub stream: bool,
    body: Map<String, Value>,
}

/// One line for the client: its request cannot be priced or forwarded as it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// The field holding the answer limit: the one the client used, else the route's own.
fn limit_fields(route: Route) -> &'static [&'static str] {
    match route {
        Route::Messages => &["max_tokens"],
        // `max_tokens` is deprecated but still what many clients and compatible servers use.
        Route::ChatCompletions => &["max_completion_tokens", "max_tokens"],
        Route::Responses => &["max_output_tokens"],
        Route::CountTokens | Route::Models => &[],
    }
}

impl ModelRequest {
    pub fn parse(route: Route, bytes: &[u8]) -> Result<ModelRequest, BadRequest> {
        let body: Map<String, Value> = serde_json::from_slice(bytes)
            .map_err(|e| BadRequest(format!("the request body is not a JSON object: {e}")))?;
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            _ => return Err(BadRequest("model: a model name is required".into())),
        };
        let mut asked = None;
        for field in limit_fields(route) {
            match body.get(*field) {
                None | Some(Value::Null) => {}
                Some(v) => match v.as_u64().filter(|n| *n >= 1) {
                    Some(n) => {
                        asked = Some(n);
                        break;
                    }
                    None => {
                        return Err(BadRequest(format!(
                            "{field}: must be an integer of at least 1"
                        )))
                    }
                },
            }
        }
        let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        Ok(ModelRequest {
            model,
            asked,
            stream,
            body,
        })
    }

    /// The body to send: `max_tokens` as decided, and for an OpenAI chat stream the usage
    /// chunk asked for (without it the stream carries no usage at all). `None`: send the
    /// client's own bytes, nothing needed changing.
    pub fn rewritten(&self, route: Route, max_tokens: u64) -> Option<Vec<u8>> {
        let mut body = self.body.clone();
        let mut changed = false;
        if self.asked != Some(max_tokens) {
            let fields = limit_fields(route);
            let field = fields
                .iter()
                .find(|f| body.get(**f).is_some_and(|v| !v.is_null()))
                .or(fields.first())?;
            body.insert((*field).to_string(), Value::from(max_tokens));
            changed = true;
        }
        if route == Route::ChatCompletions && self.stream {
            let options = body
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(options) = options {
                if options.get("include_usage") != Some(&Value::Bool(true)) {
                    options.insert("include_usage".into(), Value::Bool(true));
                    changed = true;
                }
            }
        }
        changed.then(|| serde_json::to_vec(&body).unwrap_or_default())
    }
}
