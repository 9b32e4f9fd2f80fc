//! Resource policies shared between cattube and whoever else writes them: cattube owns the
//! statements whose `Sid` starts with `cattube-` and keeps every other statement as it is.

use serde_json::{json, Value};

use crate::StepError;

/// The statements of the policy document of `owner` (e.g. "bucket NAME"); an absent policy
/// has none. A document that is not a policy is refused rather than read as empty: a merge
/// would then replace it and drop its owner's statements.
pub fn statements(policy: Option<&str>, owner: &str) -> Result<Vec<Value>, StepError> {
    let Some(text) = policy else {
        return Ok(Vec::new());
    };
    let refuse = |why: String| {
        StepError::msg(format!(
            "the policy of {owner} {why}: cattube will not replace it (that would drop its owner's statements); fix it or delete it, then run again"
        ))
    };
    let doc: Value =
        serde_json::from_str(text).map_err(|e| refuse(format!("is not valid JSON ({e})")))?;
    match doc.get("Statement") {
        Some(Value::Array(list)) => Ok(list.clone()),
        Some(single @ Value::Object(_)) => Ok(vec![single.clone()]),
        None if doc.is_object() => Ok(Vec::new()),
        _ => Err(refuse("has no Statement list".to_string())),
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
pub fn merge(existing: Option<&str>, owner: &str, ours: &[Value]) -> Result<String, StepError> {
    let our_sids: Vec<&str> = ours.iter().filter_map(sid).collect();
    let mut merged: Vec<Value> = statements(existing, owner)?
        .into_iter()
        .filter(|s| !sid(s).is_some_and(|id| our_sids.contains(&id)))
        .collect();
    merged.extend(ours.iter().cloned());
    Ok(json!({ "Version": "2012-10-17", "Statement": merged }).to_string())
}

/// `existing` without the statements of these `Sid`s; `None` when nothing else is left (the
/// policy should then be deleted rather than written empty).
pub fn remove(
    existing: Option<&str>,
    owner: &str,
    sids: &[&str],
) -> Result<Option<String>, StepError> {
    let kept: Vec<Value> = statements(existing, owner)?
        .into_iter()
        .filter(|s| !sid(s).is_some_and(|id| sids.contains(&id)))
        .collect();
    Ok((!kept.is_empty())
        .then(|| json!({ "Version": "2012-10-17", "Statement": kept }).to_string()))
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
        let merged = merge(Some(&existing), "bucket b", std::slice::from_ref(&ours)).unwrap();
        let list = statements(Some(&merged), "bucket b").unwrap();
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
        let only_ours = merge(None, "bucket b", std::slice::from_ref(&ours)).unwrap();
        assert_eq!(
            remove(
                Some(&only_ours),
                "bucket b",
                &["cattube-deny-insecure-transport"]
            )
            .unwrap(),
            None
        );
        let theirs = json!({"Sid": "x", "Effect": "Deny"});
        let both = merge(
            Some(&merge(None, "bucket b", &[theirs]).unwrap()),
            "bucket b",
            &[ours],
        )
        .unwrap();
        let left = remove(
            Some(&both),
            "bucket b",
            &["cattube-deny-insecure-transport"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(statements(Some(&left), "bucket b").unwrap().len(), 1);
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

    /// An owner's policy that cattube cannot read is refused, naming the bucket, never
    /// merged as if it were empty (which would replace it and drop the owner's statements).
    #[test]
    fn an_unparsable_policy_is_refused_not_replaced() {
        let ours = [deny_insecure_transport("aws", "owners-bucket")];
        for bad in [
            "{not json",
            r#"{"Statement": "allow everything"}"#,
            "[1, 2]",
        ] {
            let err = merge(Some(bad), "bucket owners-bucket", &ours).unwrap_err();
            assert!(
                err.to_string()
                    .contains("the policy of bucket owners-bucket")
                    && err.to_string().contains("will not replace it"),
                "{bad}: {err}"
            );
            assert!(
                remove(Some(bad), "bucket owners-bucket", &["x"]).is_err(),
                "{bad}"
            );
        }
        // An absent policy, and a document without statements, are simply empty.
        assert!(merge(None, "bucket b", &ours).is_ok());
        assert_eq!(
            statements(Some(r#"{"Version":"2012-10-17"}"#), "bucket b").unwrap(),
            Vec::<Value>::new()
        );
    }
}
