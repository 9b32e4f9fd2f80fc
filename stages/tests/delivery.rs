//! Stage 6 and its teardown against mocked CloudFront: what moto does not enforce
//! (disable before delete, ETags, an OAC in use, a deployment that takes several polls,
//! `--no-wait` then a second `down`). Each test fails without the handling it names.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudfront::operation::delete_distribution::{
    DeleteDistributionError, DeleteDistributionOutput,
};
use aws_sdk_cloudfront::operation::delete_origin_access_control::{
    DeleteOriginAccessControlError, DeleteOriginAccessControlOutput,
};
use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
use aws_sdk_cloudfront::operation::get_distribution_config::GetDistributionConfigOutput;
use aws_sdk_cloudfront::operation::get_origin_access_control::GetOriginAccessControlOutput;
use aws_sdk_cloudfront::operation::update_distribution::{
    UpdateDistributionError, UpdateDistributionOutput,
};
use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, Distribution as Dist, DistributionConfig, Origin,
    OriginAccessControl as Oac, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, Origins,
    ViewerProtocolPolicy,
};
use aws_sdk_cloudfront::Client;
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::error::ErrorMetadata;
use cattube_stages::distribution::Distribution;
use cattube_stages::origin_access_control::OriginAccessControl;
use cattube_stages::step::DestroyOptions;
use cattube_stages::{
    ApplyContext, DestroyContext, Destroyed, Ownership, Recorded, StackContext, Step, StepResult,
};
use common::{context, MockClients};

const DIST_ID: &str = "E2EXAMPLE";

fn config(enabled: bool) -> DistributionConfig {
    DistributionConfig::builder()
        .caller_reference("ref")
        .comment("cattube stack cattube (eu-west-1)")
        .enabled(enabled)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("cattube-destination")
                        .domain_name("b.s3.eu-west-1.amazonaws.com")
                        .origin_access_control_id("OAC1")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("cattube-destination")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn get_config(enabled: bool, etag: &'static str) -> GetDistributionConfigOutput {
    GetDistributionConfigOutput::builder()
        .distribution_config(config(enabled))
        .e_tag(etag)
        .build()
}

fn dist(status: &str) -> Dist {
    Dist::builder()
        .id(DIST_ID)
        .arn(format!(
            "arn:aws:cloudfront::123456789012:distribution/{DIST_ID}"
        ))
        .status(status)
        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
        .in_progress_invalidation_batches(0)
        .domain_name("d111111abcdef8.cloudfront.net")
        .distribution_config(config(false))
        .build()
        .unwrap()
}

fn get_dist(status: &'static str, etag: &'static str) -> impl Fn() -> GetDistributionOutput {
    move || {
        GetDistributionOutput::builder()
            .distribution(dist(status))
            .e_tag(etag)
            .build()
    }
}

/// GetDistribution answering `before` (status, ETag) `times` times, then `Deployed` with the
/// ETag `deployed` from then on.
fn deployed_after(
    before: (&'static str, &'static str),
    times: usize,
    deployed: &'static str,
) -> Rule {
    mock!(Client::get_distribution)
        .sequence()
        .output(get_dist(before.0, before.1))
        .times(times)
        .output(get_dist("Deployed", deployed))
        .repeatedly()
        .build()
}

fn recorded(extra: &[(&str, &str)]) -> Recorded {
    Recorded {
        name: String::new(),
        arn: format!("arn:aws:cloudfront::123456789012:distribution/{DIST_ID}"),
        ownership: Ownership::Created,
        extra: extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn cf_context(rules: Vec<Rule>) -> StackContext {
    let mocks = MockClients {
        cloudfront: rules,
        ..Default::default()
    };
    let mut ctx = context("eu-west-1", mocks.build());
    ctx.settings.deploy_timeout = Duration::from_secs(5);
    ctx
}

fn code<E>(code: &'static str, generic: fn(ErrorMetadata) -> E) -> impl Fn() -> E {
    move || generic(ErrorMetadata::builder().code(code).build())
}

/// Deletes the distribution the state records (by its id), as `down` does: it must end
/// deleted.
async fn delete_the_recorded_distribution(ctx: &StackContext) {
    let destroyed = destroy_recorded(&Distribution, ctx, &recorded(&[("id", DIST_ID)]))
        .await
        .expect("deleted");
    assert_eq!(destroyed, Destroyed::Deleted);
}

/// The progress the steps report on `ctx` from now on, one `id: message` line each.
fn progress_of(ctx: &StackContext) -> Arc<Mutex<Vec<String>>> {
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    ctx.set_progress(Arc::new(move |id, message| {
        seen.lock().unwrap().push(format!("{id}: {message}"))
    }));
    progress
}

#[tokio::test]
async fn delete_waits_for_disable_and_uses_the_new_etag() {
    let read = mock!(Client::get_distribution_config).then_output(|| get_config(true, "E1"));
    let disable = mock!(Client::update_distribution)
        .match_requests(|r| {
            r.if_match() == Some("E1") && r.distribution_config().is_some_and(|c| !c.enabled())
        })
        .then_output(|| UpdateDistributionOutput::builder().e_tag("E2").build());
    let status = mock!(Client::get_distribution).then_output(get_dist("Deployed", "E2"));
    let delete = mock!(Client::delete_distribution)
        .match_requests(|r| r.if_match() == Some("E2"))
        .then_output(|| DeleteDistributionOutput::builder().build());
    // What CloudFront answers a delete of a distribution that is still enabled.
    let refused = mock!(Client::delete_distribution).then_error(code(
        "DistributionNotDisabled",
        DeleteDistributionError::generic,
    ));
    let ctx = cf_context(vec![
        read,
        disable.clone(),
        status,
        delete.clone(),
        refused.clone(),
    ]);
    delete_the_recorded_distribution(&ctx).await;
    assert_eq!(disable.num_calls(), 1, "disabled first");
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(refused.num_calls(), 0, "never deleted while enabled");
}

#[tokio::test]
async fn stale_etags_are_read_again() {
    let read = mock!(Client::get_distribution_config)
        .sequence()
        .output(|| get_config(true, "E1"))
        .output(|| get_config(true, "E2"))
        .repeatedly()
        .build();
    let stale = mock!(Client::update_distribution)
        .match_requests(|r| r.if_match() == Some("E1"))
        .then_error(code("PreconditionFailed", UpdateDistributionError::generic));
    let disable = mock!(Client::update_distribution)
        .match_requests(|r| r.if_match() == Some("E2"))
        .then_output(|| UpdateDistributionOutput::builder().e_tag("E3").build());
    let status = deployed_after(("Deployed", "E3"), 1, "E4");
    // Someone touched it after it was deployed: the first delete's ETag is stale.
    let delete = mock!(Client::delete_distribution)
        .sequence()
        .error(code("PreconditionFailed", DeleteDistributionError::generic))
        .output(|| DeleteDistributionOutput::builder().build())
        .build();
    let ctx = cf_context(vec![
        read,
        stale.clone(),
        disable.clone(),
        status,
        delete.clone(),
    ]);
    delete_the_recorded_distribution(&ctx).await;
    assert_eq!((stale.num_calls(), disable.num_calls()), (1, 1));
    assert_eq!(delete.num_calls(), 2);
}

#[tokio::test]
async fn deployment_is_polled_until_deployed() {
    let read = mock!(Client::get_distribution_config).then_output(|| get_config(false, "E1"));
    let status = deployed_after(("InProgress", "E1"), 3, "E2");
    let delete = mock!(Client::delete_distribution)
        .match_requests(|r| r.if_match() == Some("E2"))
        .then_output(|| DeleteDistributionOutput::builder().build());
    let early = mock!(Client::delete_distribution).then_error(code(
        "DistributionNotDisabled",
        DeleteDistributionError::generic,
    ));
    let ctx = cf_context(vec![read, status.clone(), delete.clone(), early.clone()]);
    let progress = progress_of(&ctx);
    delete_the_recorded_distribution(&ctx).await;
    assert_eq!(status.num_calls(), 4, "three InProgress, then Deployed");
    assert_eq!((delete.num_calls(), early.num_calls()), (1, 0));
    let progress = progress.lock().unwrap();
    assert!(
        progress.iter().any(|m| m.contains("InProgress for")),
        "{progress:?}"
    );
}

#[tokio::test]
async fn no_wait_disables_and_records_then_a_second_down_finishes() {
    let read = mock!(Client::get_distribution_config).then_output(|| get_config(true, "E1"));
    let disable = mock!(Client::update_distribution)
        .then_output(|| UpdateDistributionOutput::builder().e_tag("E2").build());
    let delete = mock!(Client::delete_distribution)
        .then_output(|| DeleteDistributionOutput::builder().build());
    let ctx = cf_context(vec![read, disable.clone(), delete.clone()]);
    let no_wait = DestroyOptions {
        no_wait: true,
        ..Default::default()
    };
    let first = Distribution
        .destroy(&DestroyContext::new(
            &ctx,
            Some(&recorded(&[("id", DIST_ID)])),
            &no_wait,
        ))
        .await
        .expect("disabled");
    let Destroyed::Pending { extra, .. } = first else {
        panic!("expected pending, got {first:?}");
    };
    assert_eq!(extra.get("disabling").map(String::as_str), Some("true"));
    assert_eq!(extra.get("id").map(String::as_str), Some(DIST_ID));
    assert_eq!(disable.num_calls(), 1);
    assert_eq!(delete.num_calls(), 0, "--no-wait does not wait to delete");

    // The next `down`: the state carries the record with `extra`; CloudFront has deployed
    // the disabled distribution meanwhile.
    let read = mock!(Client::get_distribution_config).then_output(|| get_config(false, "E2"));
    let again = mock!(Client::update_distribution)
        .then_output(|| UpdateDistributionOutput::builder().build());
    let status = deployed_after(("InProgress", "E2"), 1, "E2");
    let delete = mock!(Client::delete_distribution)
        .match_requests(|r| r.if_match() == Some("E2"))
        .then_output(|| DeleteDistributionOutput::builder().build());
    let ctx = cf_context(vec![read, again.clone(), status, delete.clone()]);
    let record = recorded(&[("id", DIST_ID), ("disabling", "true")]);
    let second = destroy_recorded(&Distribution, &ctx, &record)
        .await
        .expect("deleted");
    assert_eq!(second, Destroyed::Deleted);
    assert_eq!(again.num_calls(), 0, "already disabled: no second update");
    assert_eq!(delete.num_calls(), 1);
}

/// `step`'s `destroy` on the resource `record` describes, as `down` runs it by default.
async fn destroy_recorded(
    step: &dyn Step,
    ctx: &StackContext,
    record: &Recorded,
) -> StepResult<Destroyed> {
    let options = DestroyOptions::default();
    step.destroy(&DestroyContext::new(ctx, Some(record), &options))
        .await
}

/// GetOriginAccessControl answering with the stack's OAC `OAC1`, at ETag `O1`.
fn get_our_oac() -> Rule {
    mock!(Client::get_origin_access_control).then_output(|| {
        GetOriginAccessControlOutput::builder()
            .origin_access_control(
                Oac::builder()
                    .id("OAC1")
                    .origin_access_control_config(
                        OriginAccessControlConfig::builder()
                            .name("cattube-eu-west-1-oac")
                            .description("cattube stack cattube (eu-west-1)")
                            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
                            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
                            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .e_tag("O1")
            .build()
    })
}

/// The state's record of the OAC `OAC1` the stack created.
fn our_oac_record() -> Recorded {
    Recorded {
        name: "cattube-eu-west-1-oac".into(),
        arn: "arn:aws:cloudfront::123456789012:origin-access-control/OAC1".into(),
        ownership: Ownership::Created,
        extra: BTreeMap::new(),
    }
}

#[tokio::test]
async fn oac_in_use_is_retried_until_the_distribution_is_gone() {
    let read = get_our_oac();
    let delete = mock!(Client::delete_origin_access_control)
        .match_requests(|r| r.if_match() == Some("O1") && r.id() == Some("OAC1"))
        .sequence()
        .error(code(
            "OriginAccessControlInUse",
            DeleteOriginAccessControlError::generic,
        ))
        .times(2)
        .output(|| DeleteOriginAccessControlOutput::builder().build())
        .build();
    let ctx = cf_context(vec![read, delete.clone()]);
    let record = our_oac_record();
    let destroyed = destroy_recorded(&OriginAccessControl, &ctx, &record)
        .await
        .expect("deleted");
    assert_eq!(destroyed, Destroyed::Deleted);
    assert_eq!(delete.num_calls(), 3);
}

#[tokio::test]
async fn oac_in_use_past_the_bound_is_an_error_naming_it() {
    let read = get_our_oac();
    let delete = mock!(Client::delete_origin_access_control).then_error(code(
        "OriginAccessControlInUse",
        DeleteOriginAccessControlError::generic,
    ));
    let mut ctx = cf_context(vec![read, delete]);
    ctx.settings.propagation_timeout = Duration::from_millis(200);
    let record = our_oac_record();
    let err = destroy_recorded(&OriginAccessControl, &ctx, &record)
        .await
        .unwrap_err();
    // The error names the OAC (by its id) and carries CloudFront's code.
    assert!(
        err.to_string().contains("origin access control OAC1"),
        "{err}"
    );
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(chain.contains("OriginAccessControlInUse"), "{chain}");
}

#[tokio::test]
async fn up_wait_polls_until_deployed_with_progress() {
    use aws_sdk_cloudfront::operation::create_distribution_with_tags::CreateDistributionWithTagsOutput;
    let create = mock!(Client::create_distribution_with_tags)
        .match_requests(|r| {
            let Some(config) = r
                .distribution_config_with_tags()
                .and_then(|c| c.distribution_config())
            else {
                return false;
            };
            let origin = &config.origins().unwrap().items()[0];
            let behavior = config.default_cache_behavior().unwrap();
            origin.origin_access_control_id() == Some("OAC1")
                && origin.domain_name()
                    == "cattube-destination-123456789012-eu-west-1.s3.eu-west-1.amazonaws.com"
                && behavior.viewer_protocol_policy() == &ViewerProtocolPolicy::RedirectToHttps
                && config.enabled()
        })
        .then_output(|| {
            CreateDistributionWithTagsOutput::builder()
                .distribution(dist("InProgress"))
                .e_tag("E1")
                .build()
        });
    let status = deployed_after(("InProgress", "E1"), 2, "E1");
    let mut ctx = cf_context(vec![create.clone(), status.clone()]);
    ctx.settings.wait_for_deploy = true;
    ctx.learn_found(
        "origin-access-control",
        "arn:aws:cloudfront::123456789012:origin-access-control/OAC1",
        &BTreeMap::new(),
    );
    let progress = progress_of(&ctx);
    let applied = Distribution
        .apply(&ApplyContext::new(
            &ctx,
            &cattube_stages::Observation::Missing,
            None,
        ))
        .await
        .expect("created");
    assert_eq!(create.num_calls(), 1);
    assert_eq!(status.num_calls(), 3);
    assert_eq!(applied.outputs["distribution_status"], "Deployed");
    assert_eq!(applied.extra["id"], DIST_ID);
    assert!(progress
        .lock()
        .unwrap()
        .iter()
        .any(|m| m.contains("InProgress for")));
}
