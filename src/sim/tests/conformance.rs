//! The route table against `shared/github/rest-subset.json` (GitHub's own description).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sim::routes::{LIST_COMMENTS, ROUTES};

fn shared_dir() -> String {
    std::env::var("AGEN_SHARED_GITHUB")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/github").to_string())
}

/// Follows `$ref`s inside the document.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        v = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null);
    }
    v
}

/// (METHOD, path) → (operationId, required body fields, sorted).
fn subset() -> BTreeMap<(String, String), (String, Vec<String>)> {
    let path = format!("{}/rest-subset.json", shared_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("rest-subset.json is JSON");
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let body = resolve(&doc, &op["requestBody"]);
            let schema = resolve(&doc, &body["content"]["application/json"]["schema"]);
            let mut required: Vec<String> = schema["required"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            required.sort();
            ops.insert(
                (method.to_uppercase(), path.clone()),
                (id.to_string(), required),
            );
        }
    }
    ops
}

#[test]
fn route_table_matches_rest_subset() {
    let subset = subset();
    assert_eq!(subset.len(), 31);
    for route in ROUTES {
        let key = (route.method.to_string(), route.path.to_string());
        if route.op == LIST_COMMENTS {
            assert!(
                !subset.contains_key(&key),
                "issues/list-comments is now in the subset"
            );
            continue;
        }
        let (id, required) = subset.get(&key).unwrap_or_else(|| {
            panic!("{} {} is not in rest-subset.json", route.method, route.path)
        });
        assert_eq!(id, route.op, "{} {}", route.method, route.path);
        let mut ours: Vec<String> = route.required.iter().map(|f| f.to_string()).collect();
        ours.sort();
        assert_eq!(&ours, required, "required fields of {id}");
    }
    for ((method, path), (id, _)) in &subset {
        let found = ROUTES
            .iter()
            .any(|r| r.method == method && r.path == path && r.op == id);
        assert!(
            found,
            "{method} {path} ({id}) is missing from the route table"
        );
    }
    assert_eq!(ROUTES.len(), subset.len() + 1);
}
