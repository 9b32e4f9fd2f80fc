//! Resource policies shared between cattube and whoever else writes them: cattube owns the
//! statements whose `Sid` starts with `cattube-` and keeps every other statement as it is.

use serde_json::{json, Value};

/// The statements of a policy document (an absent or unparsable policy has none).
pub fn statements(policy: Option<&str>) -> Vec<Value> {
    let Some(doc) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    match doc.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    }
}

fn sid(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// The statement with this `Sid`.
pub fn find<'a>(statements: &'a [Value], wanted_sid: &str) -> Option<&'a Value> {
    statements.iter().find(|s| sid(s) == Some(wanted_sid))
}

/// `existing` with `ours` put in place of any statement of the same `Sid`; the others are
/// kept in their order.
pub fn merge(existing: Option<&str>, ours: &[Value]) -> String {
    let our_sids: Vec<&str> = ours.iter().filter_map(sid).collect();
    let mut merged: Vec<Value> = statements(existing)
        .into_iter()
        .filter(|s| !sid(s).is_some_and(|id| our_sids.contains(&id)))
        .collect();
    merged.extend(ours.iter().cloned());
    json!({ "Version": "2012-10-17", "Statement": merged }).to_string()
}

/// `existing` without the statements of these `Sid`s; `None` when nothing else is left (the
/// policy should then be deleted rather than written empty).
pub fn remove(existing: Option<&str>, sids: &[&str]) -> Option<String> {
    let kept: Vec<Value> = statements(existing)
        .into_iter()
        .filter(|s| !sid(s).is_some_and(|id| sids.contains(&id)))
        .collect();
    (!kept.is_empty()).then(|| json!({ "Version": "2012-10-17", "Statement": kept }).to_string())
}

/// Two statements mean the same: AWS may return a one-element list as a scalar, reorder
/// lists, or expand `"*"` principals, so compare a normal form.
pub fn same(a: &Value, b: &Value) -> bool {
    normal(a) == normal(b)
}

fn normal(value: &Value) -> Value {
    match value {
        Value::Array(items) if items.len() == 1 => normal(&items[0]),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normal).collect();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normal(v))).collect())
        }
        other => other.clone(),
    }
}

/// A statement that denies every request to the bucket that does not use TLS.
pub fn deny_insecure_transport(partition: &str, bucket: &str) -> Value {
    json!({
        "Sid": "cattube-deny-insecure-transport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [format!("arn:{partition}:s3:::{bucket}"), format!("arn:{partition}:s3:::{bucket}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_foreign_statements_and_replaces_ours() {
        let existing = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "theirs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject", "Resource": "*"},
            {"Sid": "cattube-deny-insecure-transport", "Effect": "Allow"}
        ]})
        .to_string();
        let ours = deny_insecure_transport("aws", "b");
        let merged = merge(Some(&existing), std::slice::from_ref(&ours));
        let list = statements(Some(&merged));
        assert_eq!(list.len(), 2);
        assert_eq!(sid(&list[0]), Some("theirs"));
        assert!(same(
            find(&list, "cattube-deny-insecure-transport").unwrap(),
            &ours
        ));
    }

    #[test]
    fn remove_leaves_others_or_nothing() {
        let ours = deny_insecure_transport("aws", "b");
        let only_ours = merge(None, std::slice::from_ref(&ours));
        assert_eq!(
            remove(Some(&only_ours), &["cattube-deny-insecure-transport"]),
            None
        );
        let theirs = json!({"Sid": "x", "Effect": "Deny"});
        let both = merge(Some(&merge(None, &[theirs])), &[ours]);
        let left = remove(Some(&both), &["cattube-deny-insecure-transport"]).unwrap();
        assert_eq!(statements(Some(&left)).len(), 1);
    }

    #[test]
    fn same_ignores_list_shape_and_order() {
        let a = json!({"Action": ["s3:GetObject"], "Resource": ["b", "a"]});
        let b = json!({"Action": "s3:GetObject", "Resource": ["a", "b"]});
        assert!(same(&a, &b));
        assert!(!same(
            &a,
            &json!({"Action": "s3:*", "Resource": ["a", "b"]})
        ));
    }
}
