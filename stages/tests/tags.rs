//! One comparison of a live resource's tags with the stack's, for every taggable step.

use crate::common;

use common::{context, MockClients};

#[test]
fn a_missing_or_changed_tag_is_drift_and_an_extra_one_is_not() {
    let ctx = context("eu-west-1", MockClients::default().build());
    let mut live: Vec<(String, String)> = ctx
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    live.push(("owner".into(), "someone".into()));
    let pairs = |live: &[(String, String)]| -> Vec<(String, String)> { live.to_vec() };
    let view = |live: &[(String, String)]| {
        ctx.tag_drift(
            live.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        view(&live),
        None,
        "every wanted tag present, an extra one kept"
    );

    let mut changed = pairs(&live);
    changed.retain(|(k, _)| k != "managed-by");
    changed[0].1 = "other".into();
    let drift = view(&changed).expect("drift");
    assert_eq!(drift.key, "tags");
    assert!(
        drift.detail.contains("managed-by=cattube"),
        "{}",
        drift.detail
    );
    assert!(
        drift.detail.contains(&format!("{}=", changed[0].0)),
        "{}",
        drift.detail
    );
}
