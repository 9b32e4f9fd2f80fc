//! Readers and checks of what cattube printed and wrote: the text summary's rows, the JSON
//! document's lines and arrays, and the state file.

use std::path::Path;

/// The row of a text summary (`status`, `up`, `down`) for resource `id`.
#[track_caller]
pub fn row<'a>(text: &'a str, id: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split_once("] ")
                .is_some_and(|(_, rest)| rest.split_whitespace().next() == Some(id))
        })
        .unwrap_or_else(|| panic!("no {id} row in:\n{text}"))
}

/// The JSON document's line for resource `id`.
#[track_caller]
pub fn resource<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {doc}"))
}

/// A JSON array of strings, as they are (anything else in it fails the test).
#[track_caller]
pub fn strings(array: &serde_json::Value) -> Vec<&str> {
    field_of_each(array, |item| item.as_str())
}

/// The string `field` of each object of a JSON array (a missing one fails the test).
#[track_caller]
pub fn field_strings<'a>(array: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    field_of_each(array, |item| item[field].as_str())
}

#[track_caller]
fn field_of_each<'a>(
    array: &'a serde_json::Value,
    read: impl Fn(&'a serde_json::Value) -> Option<&'a str>,
) -> Vec<&'a str> {
    let items = array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"));
    items
        .iter()
        .map(|item| read(item).unwrap_or_else(|| panic!("no string in {item}")))
        .collect()
}

/// `status`'s line for resource `id` is drifted, and its drift `says` (part of it).
#[track_caller]
pub fn assert_drifted(doc: &serde_json::Value, id: &str, says: &str) {
    let line = resource(doc, id);
    assert_eq!(line["status"], "drifted", "{line}");
    assert!(
        line["drift"].to_string().contains(says),
        "{says:?} not in {line}"
    );
}

/// Every line of the JSON document's `resources` says `action` (the failure names those
/// that do not).
#[track_caller]
pub fn assert_every_action(doc: &serde_json::Value, action: &str) {
    let other: Vec<String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != action)
        .map(|r| format!("{} {}", r["id"], r["action"]))
        .collect();
    assert!(other.is_empty(), "not {action}: {other:?} in {doc}");
}

/// The ownerships a state record may have.
pub const OWNERSHIPS: &[&str] = &["creating", "created", "adopted"];

/// The state file checked: absent (`None`), or valid JSON of schema 1 for `stack` whose every
/// record names a resource and has a known ownership. Panics, saying why, otherwise.
pub fn checked_state(path: &Path, stack: &str) -> Option<serde_json::Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("state file {}: {e}", path.display()),
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("state file is not JSON ({e}): {text}"));
    assert_eq!(doc["schema"], 1, "schema: {text}");
    assert_eq!(doc["stack"], stack, "stack: {text}");
    for key in ["account", "region"] {
        assert!(doc[key].is_string(), "{key}: {text}");
    }
    for (id, record) in doc["resources"].as_object().expect("resources").iter() {
        assert!(record["name"].is_string(), "{id} has no name: {text}");
        let ownership = record["ownership"].as_str().unwrap_or_default();
        assert!(
            OWNERSHIPS.contains(&ownership),
            "{id} has ownership {ownership:?}: {text}"
        );
    }
    Some(doc)
}
