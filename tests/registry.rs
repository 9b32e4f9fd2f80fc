//! A resource added to the registry, and nowhere else, is named, has its JSON output keys
//! and is covered by the leak check (the graph's part is `src/plan.rs`'s unit test
//! `a_step_added_to_the_registry_is_placed_by_its_dependencies`: the graph is the binary's).

use crate::support;

use std::collections::BTreeMap;

use cattube_stages::naming::NameKind;
use cattube_stages::step::{
    Applied, ApplyContext, DestroyContext, Destroyed, NameRule, Observation, ObserveContext,
    Present, Service, Spec, Step, StepResult,
};
use cattube_stages::{Registry, ResourceId};
use support::{found_owned, leftovers, s3_client, stack_context, Emulators};

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

/// A bucket of its own, named like the stack's, found by its tags.
struct Dummy;

static DUMMY: Spec = Spec {
    id: ResourceId::new("dummy-bucket"),
    stage: "9",
    depends_on: &[cattube_stages::source_bucket::ID],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::Bucket,
        default: "{stack}-dummy-{account}-{region}",
    }),
    outputs: &["dummy_bucket"],
    service: Service::S3,
    ..Spec::DEFAULT
};

#[async_trait::async_trait]
impl Step for Dummy {
    fn spec(&self) -> &'static Spec {
        &DUMMY
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = ctx.name(DUMMY.id);
        let Ok(tagging) = ctx
            .clients
            .s3
            .get_bucket_tagging()
            .bucket(name)
            .send()
            .await
        else {
            return Ok(Observation::Missing);
        };
        let tags = tagging.tag_set().iter().map(|t| (t.key(), t.value()));
        Ok(Observation::Present(Present {
            name: name.to_string(),
            arn: format!("arn:aws:s3:::{name}"),
            tagged_ours: ctx.tagged_ours(tags),
            ..Present::default()
        }))
    }

    async fn apply(&self, _: &ApplyContext<'_>) -> StepResult<Applied> {
        unreachable!("the test never applies the dummy")
    }

    async fn destroy(&self, _: &DestroyContext<'_>) -> StepResult<Destroyed> {
        unreachable!("the test never destroys the dummy")
    }
}

fn with_dummy() -> Registry {
    Registry::standard().with(Dummy)
}

#[test]
fn a_dummy_resource_is_named_from_its_spec() {
    let registry = with_dummy();
    let named = registry.named();
    assert_eq!(named.len(), Registry::standard().named().len() + 1);
    assert!(named.contains(&(
        "dummy-bucket",
        NameKind::Bucket,
        "{stack}-dummy-{account}-{region}"
    )));
    let names = registry.resolve_names("cattube", ACCOUNT, REGION, &BTreeMap::new());
    assert_eq!(
        names["dummy-bucket"],
        "cattube-dummy-123456789012-eu-west-1"
    );
    // `[names]` overrides it like any other resource.
    let overrides = BTreeMap::from([("dummy-bucket".to_string(), "my-dummy".to_string())]);
    let names = registry.resolve_names("cattube", ACCOUNT, REGION, &overrides);
    assert_eq!(names["dummy-bucket"], "my-dummy");
}

#[test]
fn a_dummy_resource_has_its_output_key() {
    let keys = with_dummy().output_keys();
    let (last, registry) = keys.split_last().unwrap();
    assert_eq!(*last, "dummy_bucket");
    assert_eq!(registry, Registry::standard().output_keys());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dummy_resource_is_in_the_leak_check() {
    let emulators = Emulators::start();
    let registry = with_dummy();
    let ctx = stack_context(&emulators, REGION, "cattube", &BTreeMap::new(), &registry).await;
    assert_eq!(found_owned(&registry, &ctx).await, Vec::<String>::new());

    // A dummy bucket the stack owns (its tags say so) is left behind.
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let name = "cattube-dummy-123456789012-eu-west-1";
    support::create_bucket(&s3, name, REGION).await;
    let tag = |key: &str, value: &str| {
        aws_sdk_s3::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
            .unwrap()
    };
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(tag("cattube:stack", "cattube"))
                .tag_set(tag("managed-by", "cattube"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        found_owned(&registry, &ctx).await,
        [format!("dummy-bucket {name}")]
    );
    // Only the registry that has the dummy sees it: the leak check is the registry's.
    assert_eq!(leftovers(&emulators, REGION).await, Vec::<String>::new());
}
