//! The gateway's pure parts: routes, request reading and rewriting, usage metering. Whole
//! calls through a real listener against the model simulator are in `tests/api/gateway.rs`.

use http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};

use super::meter::Meter;
use super::request::ModelRequest;
use super::routes::{target, Provider, Route};
use crate::budget::Usage;

fn route_of(
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> Option<(Provider, Route, String)> {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let uri: Uri = uri.parse().unwrap();
    target(&method, &uri, &map).map(|t| (t.provider, t.route, t.upstream_path))
}

#[test]
fn only_the_model_routes_are_served() {
    let anthropic = Some(Provider::Anthropic);
    let cases = [
        (
            Method::POST,
            "/v1/messages",
            anthropic.map(|p| (p, Route::Messages, "/v1/messages")),
        ),
        (
            Method::POST,
            "/v1/messages?beta=true",
            anthropic.map(|p| (p, Route::Messages, "/v1/messages?beta=true")),
        ),
        (
            Method::POST,
            "/v1/messages/count_tokens",
            anthropic.map(|p| (p, Route::CountTokens, "/v1/messages/count_tokens")),
        ),
        (
            Method::POST,
            "/v1/chat/completions",
            Some((
                Provider::OpenAi,
                Route::ChatCompletions,
                "/chat/completions",
            )),
        ),
        (
            Method::POST,
            "/v1/responses",
            Some((Provider::OpenAi, Route::Responses, "/responses")),
        ),
        (
            Method::GET,
            "/v1/models",
            Some((Provider::OpenAi, Route::Models, "/models")),
        ),
    ];
    for (method, uri, expected) in cases {
        let got = route_of(method.clone(), uri, &[]);
        let expected = expected.map(|(p, r, path)| (p, r, path.to_string()));
        assert_eq!(got, expected, "{method} {uri}");
    }
    for (method, uri) in [
        (Method::GET, "/v1/messages"),
        (Method::POST, "/v1/files"),
        (Method::GET, "/v1/files"),
        (Method::POST, "/v1/../admin"),
        (Method::POST, "/v1/messages/../../admin"),
        (Method::POST, "/v1/%6Dessages"),
        (Method::POST, "/v1/messages?beta=true&x=1"),
        (Method::POST, "/v1/messages/batches"),
        (Method::POST, "/v1/chat/completions?api-version=1"),
        (Method::POST, "http://169.254.169.254/v1/messages"),
        (Method::POST, "https://api.anthropic.com/v1/messages"),
        (Method::GET, "/v1/models?x=%0a"),
        (Method::POST, "/v1/embeddings"),
        (Method::POST, "/"),
        (Method::DELETE, "/v1/responses"),
    ] {
        assert_eq!(
            route_of(method.clone(), uri, &[]),
            None,
            "{method} {uri} must be refused"
        );
    }
}

#[test]
fn listing_models_goes_to_the_provider_the_client_speaks() {
    let anthropic = route_of(
        Method::GET,
        "/v1/models",
        &[("anthropic-version", "2023-06-01")],
    );
    assert_eq!(
        anthropic,
        Some((Provider::Anthropic, Route::Models, "/v1/models".into()))
    );
    let openai = route_of(Method::GET, "/v1/models", &[("authorization", "Bearer t")]);
    assert_eq!(
        openai,
        Some((Provider::OpenAi, Route::Models, "/models".into()))
    );
}

#[test]
fn a_request_names_its_model_and_limit_or_is_refused_saying_which_field() {
    let r = ModelRequest::parse(
        Route::Messages,
        br#"{"model":"m","max_tokens":100,"stream":true}"#,
    )
    .unwrap();
    assert_eq!(
        (r.model.as_str(), r.asked, r.stream),
        ("m", Some(100), true)
    );
    let r =
        ModelRequest::parse(Route::ChatCompletions, br#"{"model":"m","max_tokens":7}"#).unwrap();
    assert_eq!(r.asked, Some(7));
    let r = ModelRequest::parse(Route::Responses, br#"{"model":"m","input":"x"}"#).unwrap();
    assert_eq!(r.asked, None);
    for (body, problem) in [
        (&b"not json"[..], "the request body is not a JSON object"),
        (br#"{"max_tokens":1}"#, "model: a model name is required"),
        (
            br#"{"model":"m","max_tokens":-5}"#,
            "max_tokens: must be an integer of at least 1",
        ),
        (
            br#"{"model":"m","max_tokens":"9"}"#,
            "max_tokens: must be an integer of at least 1",
        ),
    ] {
        let err = ModelRequest::parse(Route::Messages, body).unwrap_err();
        assert!(
            err.0.starts_with(problem),
            "{}: {}",
            String::from_utf8_lossy(body),
            err.0
        );
    }
}

fn rewritten(route: Route, body: Value, max_tokens: u64) -> Option<Value> {
    let request = ModelRequest::parse(route, body.to_string().as_bytes()).unwrap();
    request
        .rewritten(route, max_tokens)
        .map(|b| serde_json::from_slice(&b).unwrap())
}

#[test]
fn the_body_changes_only_where_the_budget_or_metering_needs_it() {
    let body = json!({"model": "m", "max_tokens": 100, "messages": []});
    assert_eq!(
        rewritten(Route::Messages, body.clone(), 100),
        None,
        "unchanged: sent as it came"
    );
    assert_eq!(
        rewritten(Route::Messages, body, 40).unwrap()["max_tokens"],
        40
    );

    let chat = json!({"model": "m", "messages": [], "stream": true});
    let sent = rewritten(Route::ChatCompletions, chat, 500).unwrap();
    assert_eq!(
        sent["max_completion_tokens"], 500,
        "a limit is set when the client set none"
    );
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let legacy = json!({"model": "m", "messages": [], "max_tokens": 900});
    let sent = rewritten(Route::ChatCompletions, legacy, 300).unwrap();
    assert_eq!(
        sent["max_tokens"], 300,
        "the field the client used is the one lowered"
    );
    assert!(sent.get("max_completion_tokens").is_none());

    let responses = json!({"model": "m", "input": "x"});
    assert_eq!(
        rewritten(Route::Responses, responses, 64).unwrap()["max_output_tokens"],
        64
    );
}

#[test]
fn anthropic_usage_is_read_from_the_answer_or_the_stream_start_and_last_delta() {
    let mut meter = Meter::default();
    meter.read_json(
        Route::Messages,
        br#"{"usage":{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":3,"cache_read_input_tokens":2}}"#,
    );
    assert_eq!(
        meter.usage(),
        Some(Usage {
            input: 10,
            output: 5,
            cache_write: 3,
            cache_read: 2
        })
    );

    let mut meter = Meter::default();
    meter.read_event(
        Route::Messages,
        "message_start",
        r#"{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":100}}}"#,
    );
    assert_eq!(meter.usage(), None, "not final before message_delta");
    meter.read_event(
        Route::Messages,
        "message_delta",
        r#"{"usage":{"output_tokens":7}}"#,
    );
    meter.read_event(
        Route::Messages,
        "message_delta",
        r#"{"usage":{"output_tokens":15}}"#,
    );
    assert_eq!(
        meter.usage(),
        Some(Usage {
            input: 25,
            output: 15,
            cache_write: 0,
            cache_read: 100
        })
    );
}

#[test]
fn openai_usage_keeps_cached_tokens_apart() {
    let mut meter = Meter::default();
    meter.read_event(
        Route::ChatCompletions,
        "message",
        r#"{"choices":[{"delta":{"content":"hi"}}]}"#,
    );
    assert_eq!(meter.usage(), None);
    meter.read_event(
        Route::ChatCompletions,
        "message",
        r#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":60}}}"#,
    );
    assert_eq!(
        meter.usage(),
        Some(Usage {
            input: 40,
            output: 9,
            cache_write: 0,
            cache_read: 60
        })
    );

    let mut meter = Meter::default();
    meter.read_event(
        Route::Responses,
        "response.output_text.delta",
        r#"{"delta":"x"}"#,
    );
    meter.read_event(
        Route::Responses,
        "response.incomplete",
        r#"{"response":{"usage":{"input_tokens":50,"output_tokens":64,"input_tokens_details":{"cached_tokens":0}}}}"#,
    );
    assert_eq!(
        meter.usage(),
        Some(Usage {
            input: 50,
            output: 64,
            cache_write: 0,
            cache_read: 0
        })
    );
}
