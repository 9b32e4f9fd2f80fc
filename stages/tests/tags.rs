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

/// The function's log group found untagged (Lambda made it for a stack older than the
/// resource) is adopted: `up` never puts the stack's tags on it. The same group when it is
/// the stack's own is retagged, so the mock sees the call when it is made.
#[tokio::test]
async fn an_adopted_log_group_keeps_its_tags() {
    use aws_sdk_cloudwatchlogs::operation::tag_resource::TagResourceOutput;
    use aws_smithy_mocks::mock;
    use cattube_stages::function_log_group::FunctionLogGroup;
    use cattube_stages::{ApplyContext, Observation, Ownership, Present, Step};

    for (ownership, retagged) in [(Ownership::Adopted, 0), (Ownership::Created, 1)] {
        let tag = mock!(aws_sdk_cloudwatchlogs::Client::tag_resource)
            .then_output(|| TagResourceOutput::builder().build());
        let ctx = context(
            "eu-west-1",
            MockClients {
                logs: vec![tag.clone()],
                ..Default::default()
            }
            .build(),
        );
        let drift = ctx
            .tag_drift([("owner", "someone")])
            .expect("untagged: drift");
        let observation = Observation::Present(Present {
            name: "/aws/lambda/cattube-converter".into(),
            drift: vec![drift],
            ..Default::default()
        });
        let applied = FunctionLogGroup
            .apply(&ApplyContext::new(&ctx, &observation, Some(ownership)))
            .await
            .unwrap();
        assert_eq!(tag.num_calls(), retagged, "{ownership:?}: {applied:?}");
    }
}

/// `Present::tagged`, which every tagged step's `observe` ends with: the stack's tags make
/// a live resource the stack's, and its tags drift only when it is the stack's (tagged so,
/// or recorded as created); an adopted one keeps its owner's. `retags` is `apply`'s side.
#[test]
fn tag_drift_is_the_stacks_own_resources_only() {
    use cattube_stages::{Drift, Ownership, Present, Recorded};
    use std::collections::BTreeMap;

    let ctx = context("eu-west-1", MockClients::default().build());
    let recorded = |ownership| Recorded {
        name: "r".into(),
        arn: String::new(),
        ownership,
        extra: BTreeMap::new(),
    };
    let foreign = BTreeMap::from([("owner".to_string(), "someone".to_string())]);
    let other = vec![Drift::new("other", "found before the tags")];
    let present = |tags: &BTreeMap<String, String>, recorded: Option<&Recorded>| {
        Present::tagged(&ctx, "r", "arn:r", tags, recorded, other.clone())
    };
    let keys = |p: &Present| p.drift.iter().map(|d| d.key).collect::<Vec<_>>();

    let ours = present(&ctx.tags, None);
    assert!(ours.tagged_ours);
    assert_eq!(keys(&ours), ["other"], "its tags are the stack's");

    let created = present(&foreign, Some(&recorded(Ownership::Created)));
    assert!(!created.tagged_ours);
    assert_eq!(keys(&created), ["other", "tags"], "recorded as created");
    assert!(created.retags(Some(Ownership::Created)));
    assert!(created.retags(None), "no record: the stack's to tag");
    assert!(!created.retags(Some(Ownership::Adopted)));

    for adopted in [None, Some(recorded(Ownership::Adopted))] {
        let adopted = present(&foreign, adopted.as_ref());
        assert!(!adopted.tagged_ours);
        assert_eq!(
            keys(&adopted),
            ["other"],
            "an adopted resource keeps its tags"
        );
        assert!(!adopted.retags(None));
    }
}
