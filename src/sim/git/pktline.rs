//! The ref updates a push asks for: the pkt-line commands at the start of a
//! `git-receive-pack` request body (`<old> <new> <ref>\0caps`, then `<old> <new> <ref>`
//! lines, up to the flush packet `0000`), for the call record.

use serde_json::{json, Value};

/// One requested ref update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Update {
    pub name: String,
    pub old: String,
    pub new: String,
}

/// The commands before the first flush packet; stops quietly at anything malformed.
pub(crate) fn updates(body: &[u8]) -> Vec<Update> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(len) = rest.get(..4).and_then(|h| std::str::from_utf8(h).ok()) {
        let Ok(len) = usize::from_str_radix(len, 16) else {
            break;
        };
        if len < 4 {
            break; // flush (0000) or a delimiter: the commands are over
        }
        let Some(line) = rest.get(4..len) else {
            break;
        };
        rest = &rest[len..];
        let line = line.split(|b| *b == 0).next().unwrap_or_default();
        let text = String::from_utf8_lossy(line);
        let mut words = text.trim_end_matches('\n').splitn(3, ' ');
        if let (Some(old), Some(new), Some(name)) = (words.next(), words.next(), words.next()) {
            if old.len() == 40 && new.len() == 40 {
                out.push(Update {
                    name: name.to_string(),
                    old: old.to_string(),
                    new: new.to_string(),
                });
            }
        }
    }
    out
}

/// `{"updates":[{"ref","old","new"}]}`, the recorded body of a push.
pub(crate) fn record_body(updates: &[Update]) -> Value {
    let list: Vec<Value> = updates
        .iter()
        .map(|u| json!({"ref": u.name, "old": u.old, "new": u.new}))
        .collect();
    json!({ "updates": list })
}

#[cfg(test)]
mod tests;
