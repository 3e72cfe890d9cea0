//! The App's webhook delivery log: list (newest first, cursor pages), get, redeliver.

use serde_json::{json, Map, Value};

use super::Ctx;
use crate::sim::deliver::DeliveryLog;
use crate::sim::reply::{page_params, Reply};
use crate::sim::shapes;

fn summary(d: &DeliveryLog) -> Value {
    json!({
        "id": d.id, "guid": d.guid, "delivered_at": shapes::time(d.delivered_at),
        "redelivery": d.redelivery, "duration": d.duration, "status": d.status,
        "status_code": d.status_code, "event": d.event, "action": d.action,
        "installation_id": d.installation_id, "repository_id": d.repository_id,
        "throttled_at": null,
    })
}

fn header_map(headers: &[(String, String)]) -> Value {
    let map: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}

/// Cursor `v1_<id>`: continue after the delivery with that id.
pub(crate) fn list(c: &mut Ctx) -> Reply {
    let (per_page, _) = page_params(&c.query);
    let after = c
        .query("cursor")
        .and_then(|v| v.strip_prefix("v1_"))
        .and_then(|v| v.parse::<u64>().ok());
    let newest_first: Vec<&DeliveryLog> = c.st.deliveries.iter().rev().collect();
    let start = match after {
        Some(id) => newest_first
            .iter()
            .position(|d| d.id == id)
            .map_or(newest_first.len(), |p| p + 1),
        None => 0,
    };
    let page: Vec<&DeliveryLog> = newest_first
        .iter()
        .skip(start)
        .take(per_page)
        .copied()
        .collect();
    let reply = Reply::json(200, Value::Array(page.iter().map(|d| summary(d)).collect()));
    match page.last() {
        Some(last) if start + page.len() < newest_first.len() => {
            let link = format!(
                "<{}?per_page={per_page}&cursor=v1_{}>; rel=\"next\"",
                c.url(),
                last.id
            );
            reply.header("link", link)
        }
        _ => reply,
    }
}

pub(crate) fn get(c: &mut Ctx) -> Reply {
    let id = c.m.number("delivery_id");
    let Some(d) = c.st.deliveries.iter().find(|d| Some(d.id) == id) else {
        return Reply::not_found();
    };
    let mut json = summary(d);
    json["url"] = json!(d.url);
    json["request"] = json!({"headers": header_map(&d.request_headers), "payload": d.payload});
    json["response"] =
        json!({"headers": header_map(&d.response_headers), "payload": d.response_body});
    Reply::json(200, json)
}

/// Records the request; the test re-posts with [`crate::sim::Simulator::redeliver`].
pub(crate) fn redeliver(c: &mut Ctx) -> Reply {
    let id = c.m.number("delivery_id");
    let Some(d) = c.st.deliveries.iter().find(|d| Some(d.id) == id) else {
        return Reply::not_found();
    };
    let id = d.id;
    c.st.redeliveries.push(id);
    Reply::json(202, json!({}))
}
