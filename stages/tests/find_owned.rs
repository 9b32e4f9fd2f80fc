//! `find_owned` without the state file: each kind finds the stack's live instance by its tags
//! or, where the kind has none, by its name, and never reports what someone else made.

use crate::common;

use aws_sdk_cloudfront::operation::get_distribution::GetDistributionOutput;
use aws_sdk_cloudfront::operation::list_distributions::ListDistributionsOutput;
use aws_sdk_cloudfront::operation::list_origin_access_controls::ListOriginAccessControlsOutput;
use aws_sdk_cloudfront::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_cloudfront::types::{
    Distribution as Dist, DistributionConfig, DistributionList, DistributionSummary, HttpVersion,
    OriginAccessControlList, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, OriginAccessControlSummary, PriceClass, Tag, Tags,
};
use aws_sdk_lambda::operation::get_policy::{GetPolicyError, GetPolicyOutput};
use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
use aws_sdk_s3::types::{Event, LambdaFunctionConfiguration};
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_types::error::ErrorMetadata;
use cattube_stages::destination_bucket_policy::DestinationBucketPolicy;
use cattube_stages::distribution::Distribution;
use cattube_stages::lambda_permission::S3_INVOKE as InvokePermission;
use cattube_stages::origin_access_control::OriginAccessControl;
use cattube_stages::source_notification::SourceNotification;
use cattube_stages::{Found, Observation, ObserveContext, StackContext, Step};
use common::{context, MockClients, ACCOUNT};

const REGION: &str = "eu-west-1";

fn ctx(mocks: MockClients) -> StackContext {
    context(REGION, mocks.build())
}

fn dist_arn(id: &str) -> String {
    format!("arn:aws:cloudfront::{ACCOUNT}:distribution/{id}")
}

fn summary(id: &str) -> DistributionSummary {
    DistributionSummary::builder()
        .id(id)
        .arn(dist_arn(id))
        .status("Deployed")
        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
        .domain_name(format!("{id}.cloudfront.net"))
        .comment("")
        .price_class(PriceClass::PriceClassAll)
        .enabled(true)
        .http_version(HttpVersion::Http2and3)
        .web_acl_id("")
        .staging(false)
        .is_ipv6_enabled(true)
        .build()
        .unwrap()
}

fn tags(stack: &str) -> ListTagsForResourceOutput {
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    ListTagsForResourceOutput::builder()
        .tags(
            Tags::builder()
                .items(tag("cattube:stack", stack))
                .items(tag("cattube:region", REGION))
                .items(tag("managed-by", "cattube"))
                .build(),
        )
        .build()
}

/// Two distributions in the account: `EOTHER` is another stack's, `EOURS` this one's.
fn two_distributions() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_cloudfront::Client::list_distributions).then_output(|| {
            ListDistributionsOutput::builder()
                .distribution_list(
                    DistributionList::builder()
                        .marker("")
                        .max_items(100)
                        .is_truncated(false)
                        .quantity(2)
                        .items(summary("EOTHER"))
                        .items(summary("EOURS"))
                        .build()
                        .unwrap(),
                )
                .build()
        }),
        mock!(aws_sdk_cloudfront::Client::list_tags_for_resource)
            .match_requests(|r| r.resource() == Some(dist_arn("EOTHER").as_str()))
            .then_output(|| tags("someone-else")),
        mock!(aws_sdk_cloudfront::Client::list_tags_for_resource)
            .match_requests(|r| r.resource() == Some(dist_arn("EOURS").as_str()))
            .then_output(|| tags("cattube")),
    ]
}

#[tokio::test]
async fn the_distribution_is_found_by_its_tags_only() {
    let ctx = ctx(MockClients {
        cloudfront: two_distributions(),
        ..Default::default()
    });
    let found = Distribution.find_owned(&ctx).await.expect("listed");
    assert_eq!(
        found,
        [Found {
            name: "EOURS.cloudfront.net".into(),
            arn: dist_arn("EOURS"),
        }]
    );
}

fn get_ours() -> Rule {
    mock!(aws_sdk_cloudfront::Client::get_distribution)
        .match_requests(|r| r.id() == Some("EOURS"))
        .then_output(|| {
            GetDistributionOutput::builder()
                .distribution(
                    Dist::builder()
                        .id("EOURS")
                        .arn(dist_arn("EOURS"))
                        .status("Deployed")
                        .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                        .in_progress_invalidation_batches(0)
                        .domain_name("EOURS.cloudfront.net")
                        .distribution_config(
                            DistributionConfig::builder()
                                .caller_reference("ref")
                                .comment("")
                                .enabled(true)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
        })
}

#[tokio::test]
async fn a_lost_state_still_finds_the_distribution_by_its_tags() {
    let mut rules = two_distributions();
    let get = get_ours();
    rules.push(get.clone());
    let ctx = ctx(MockClients {
        cloudfront: rules,
        ..Default::default()
    });
    let Observation::Present(present) = Distribution
        .observe(&ObserveContext::new(&ctx, None))
        .await
        .expect("observed")
    else {
        panic!("the distribution was not found without the state");
    };
    assert_eq!(present.arn, dist_arn("EOURS"));
    assert!(present.tagged_ours);
    assert_eq!(get.num_calls(), 1);
}

fn oacs(description: &'static str) -> Rule {
    mock!(aws_sdk_cloudfront::Client::list_origin_access_controls).then_output(move || {
        ListOriginAccessControlsOutput::builder()
            .origin_access_control_list(
                OriginAccessControlList::builder()
                    .marker("")
                    .max_items(100)
                    .is_truncated(false)
                    .quantity(2)
                    .items(oac("OACX", "someone-elses-oac", description))
                    .items(oac("OAC1", "cattube-eu-west-1-oac", description))
                    .build()
                    .unwrap(),
            )
            .build()
    })
}

fn oac(id: &str, name: &str, description: &str) -> OriginAccessControlSummary {
    OriginAccessControlSummary::builder()
        .id(id)
        .name(name)
        .description(description)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_oac_is_found_by_its_name_and_mark_but_not_an_adopted_one() {
    let ctx1 = ctx(MockClients {
        cloudfront: vec![oacs("cattube stack cattube (eu-west-1)")],
        ..Default::default()
    });
    let found = OriginAccessControl.find_owned(&ctx1).await.expect("listed");
    assert_eq!(
        found,
        [Found {
            name: "cattube-eu-west-1-oac".into(),
            arn: format!("arn:aws:cloudfront::{ACCOUNT}:origin-access-control/OAC1"),
        }]
    );
    // The same name without the stack's mark: someone else's, used but never reported.
    let ctx2 = ctx(MockClients {
        cloudfront: vec![oacs("made by hand")],
        ..Default::default()
    });
    assert_eq!(OriginAccessControl.find_owned(&ctx2).await.unwrap(), []);
    // Observing without the state still finds it by name.
    let observed = OriginAccessControl
        .observe(&ObserveContext::new(&ctx2, None))
        .await
        .unwrap();
    assert!(observed.present().is_some_and(|p| !p.tagged_ours));
}

fn lambda_policy(sid: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Sid": sid, "Effect": "Allow", "Action": "lambda:InvokeFunction",
                        "Principal": { "Service": "s3.amazonaws.com" } }]
    })
    .to_string()
}

#[tokio::test]
async fn the_invoke_permission_is_found_by_its_statement_id() {
    let ours = mock!(aws_sdk_lambda::Client::get_policy)
        .match_requests(|r| r.function_name() == Some("cattube-converter"))
        .then_output(|| {
            GetPolicyOutput::builder()
                .policy(lambda_policy("cattube-s3-invoke"))
                .build()
        });
    let ctx1 = ctx(MockClients {
        lambda: vec![ours],
        ..Default::default()
    });
    let found = InvokePermission.find_owned(&ctx1).await.expect("read");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, "cattube-s3-invoke");

    let other = mock!(aws_sdk_lambda::Client::get_policy).then_output(|| {
        GetPolicyOutput::builder()
            .policy(lambda_policy("theirs"))
            .build()
    });
    let ctx2 = ctx(MockClients {
        lambda: vec![other],
        ..Default::default()
    });
    assert_eq!(InvokePermission.find_owned(&ctx2).await.unwrap(), []);

    let gone = mock!(aws_sdk_lambda::Client::get_policy).then_error(|| {
        GetPolicyError::generic(
            ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .build(),
        )
    });
    let ctx3 = ctx(MockClients {
        lambda: vec![gone],
        ..Default::default()
    });
    assert_eq!(InvokePermission.find_owned(&ctx3).await.unwrap(), []);
}

fn notifications(id: &'static str) -> Rule {
    mock!(aws_sdk_s3::Client::get_bucket_notification_configuration)
        .match_requests(|r| r.bucket() == Some("cattube-source-123456789012-eu-west-1"))
        .then_output(move || {
            GetBucketNotificationConfigurationOutput::builder()
                .lambda_function_configurations(
                    LambdaFunctionConfiguration::builder()
                        .id(id)
                        .lambda_function_arn("arn:aws:lambda:eu-west-1:123456789012:function:f")
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build()
        })
}

#[tokio::test]
async fn the_source_notification_is_found_by_its_id() {
    let ctx1 = ctx(MockClients {
        s3: vec![notifications("cattube-notifications")],
        ..Default::default()
    });
    let found = SourceNotification.find_owned(&ctx1).await.expect("read");
    assert_eq!(found.len(), 1, "{found:?}");
    let ctx2 = ctx(MockClients {
        s3: vec![notifications("theirs")],
        ..Default::default()
    });
    assert_eq!(SourceNotification.find_owned(&ctx2).await.unwrap(), []);
}

fn bucket_policy(sid: &'static str) -> Rule {
    mock!(aws_sdk_s3::Client::get_bucket_policy)
        .match_requests(|r| r.bucket() == Some("cattube-destination-123456789012-eu-west-1"))
        .then_output(move || {
            GetBucketPolicyOutput::builder()
                .policy(
                    serde_json::json!({
                        "Version": "2012-10-17",
                        "Statement": [{ "Sid": sid, "Effect": "Allow", "Action": "s3:GetObject",
                                        "Principal": { "Service": "cloudfront.amazonaws.com" },
                                        "Resource": "arn:aws:s3:::b/*" }]
                    })
                    .to_string(),
                )
                .build()
        })
}

#[tokio::test]
async fn the_destination_bucket_policy_is_found_by_its_statement() {
    // Reads the policy only: no tags, no distribution lookup (no rule would answer them).
    let ctx1 = ctx(MockClients {
        s3: vec![bucket_policy("cattube-cloudfront-read")],
        ..Default::default()
    });
    let found = DestinationBucketPolicy
        .find_owned(&ctx1)
        .await
        .expect("read");
    assert_eq!(
        found,
        [Found {
            name: "cattube-destination-123456789012-eu-west-1".into(),
            arn: "arn:aws:s3:::cattube-destination-123456789012-eu-west-1".into(),
        }]
    );
    let ctx2 = ctx(MockClients {
        s3: vec![bucket_policy("the-owners")],
        ..Default::default()
    });
    assert_eq!(DestinationBucketPolicy.find_owned(&ctx2).await.unwrap(), []);
    let none = mock!(aws_sdk_s3::Client::get_bucket_policy).then_error(|| {
        GetBucketPolicyError::generic(ErrorMetadata::builder().code("NoSuchBucketPolicy").build())
    });
    let ctx3 = ctx(MockClients {
        s3: vec![none],
        ..Default::default()
    });
    assert_eq!(DestinationBucketPolicy.find_owned(&ctx3).await.unwrap(), []);
}

#[tokio::test]
async fn a_recorded_arn_is_a_fact_that_spares_the_listing() {
    // Only the recorded distribution answers: listing the account's would fail the test.
    let (get, tags_of_ours) = (get_ours(), two_distributions().remove(2));
    let ctx = ctx(MockClients {
        cloudfront: vec![get.clone(), tags_of_ours],
        ..Default::default()
    });
    let record = cattube_stages::Recorded {
        name: "EOURS.cloudfront.net".into(),
        arn: dist_arn("EOURS"),
        ownership: cattube_stages::Ownership::Created,
        extra: Default::default(),
    };
    ctx.learn_recorded("distribution", &record);
    assert_eq!(
        ctx.id_of(cattube_stages::distribution::ID).as_deref(),
        Some("EOURS")
    );
    assert_eq!(
        ctx.arn_of(cattube_stages::distribution::ID),
        Some(dist_arn("EOURS"))
    );
    let observed = Distribution
        .observe(&ObserveContext::new(&ctx, None))
        .await
        .expect("observed");
    assert!(observed.present().is_some());
    assert_eq!(get.num_calls(), 1);
    // What a step finds is learned under its own id, outputs included.
    ctx.learn_found(
        "distribution",
        &dist_arn("ENEW"),
        &observed.present().unwrap().outputs,
    );
    assert_eq!(
        ctx.id_of(cattube_stages::distribution::ID).as_deref(),
        Some("ENEW")
    );
    assert_eq!(
        ctx.output_of(cattube_stages::distribution::ID, "distribution_domain")
            .as_deref(),
        Some("EOURS.cloudfront.net")
    );
    assert_eq!(
        ctx.output_of(cattube_stages::queue::ID, "distribution_domain"),
        None
    );
}
