//! Stage 1: the source bucket's lifecycle rule that aborts a multipart upload a day after it
//! started when nobody completed it (a multipart grant a client gave up on, an `upload`
//! interrupted for good): S3 bills the parts of an unfinished upload until it is aborted,
//! and lists them nowhere a person looks. The rule has id
//! `cattube-abort-incomplete-uploads`; the bucket's other lifecycle rules are kept
//! ([`crate::resources::bucket_rule`]).

use crate::resources::prelude::*;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter,
};

use crate::error::absent;
use crate::resources::bucket_rule::{BucketRules, RuleStep};
use crate::source_bucket;

/// This resource's id (the key of its state and facts).
pub const ID: ResourceId = ResourceId::new("source-lifecycle");

/// The resource, as the registry lists it.
pub const SOURCE_LIFECYCLE: RuleStep<Lifecycle> = RuleStep(Lifecycle);

/// Days after which S3 aborts an upload nobody completed.
pub const ABORT_AFTER_DAYS: i32 = 1;

pub struct Lifecycle;

#[async_trait]
impl BucketRules for Lifecycle {
    type Rule = LifecycleRule;
    const SPEC: Spec = Spec {
        id: ID,
        stage: "1",
        // The rule is written on the bucket.
        depends_on: &[source_bucket::ID],
        service: Service::S3,
        permissions: &[
            Grant::observe(
                &["s3:GetLifecycleConfiguration"],
                Target::Bucket(source_bucket::ID),
            ),
            // DeleteBucketLifecycle is authorised as s3:PutLifecycleConfiguration.
            Grant::apply(
                &[
                    "s3:GetLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                ],
                Target::Bucket(source_bucket::ID),
            ),
            Grant::destroy(
                &[
                    "s3:GetLifecycleConfiguration",
                    "s3:PutLifecycleConfiguration",
                ],
                Target::Bucket(source_bucket::ID),
            ),
        ],
        ..Spec::DEFAULT
    };
    const RULE_ID: &'static str = "cattube-abort-incomplete-uploads";
    const WHAT: &'static str = "lifecycle";

    fn rule_id(rule: &LifecycleRule) -> Option<&str> {
        rule.id()
    }

    fn wanted(_ctx: &StackContext) -> LifecycleRule {
        LifecycleRule::builder()
            .id(Self::RULE_ID)
            // The whole bucket.
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Enabled)
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABORT_AFTER_DAYS)
                    .build(),
            )
            .build()
            .expect("status is set")
    }

    /// Anything else the rule does (expire objects, move them) is not cattube's to do.
    fn differences(_ctx: &StackContext, live: &LifecycleRule) -> Vec<String> {
        let mut found = Vec::new();
        if live.status() != &ExpirationStatus::Enabled {
            found.push("disabled".to_string());
        }
        let days = live
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation());
        if days != Some(ABORT_AFTER_DAYS) {
            found.push(format!(
                "aborts after {days:?} days, not {ABORT_AFTER_DAYS}"
            ));
        }
        let narrowed = live.filter().is_some_and(|f| {
            f.prefix().is_some_and(|p| !p.is_empty())
                || f.tag().is_some()
                || f.and().is_some()
                || f.object_size_greater_than().is_some()
                || f.object_size_less_than().is_some()
        });
        // The rule-level Prefix is deprecated, but a rule written by an older tool may carry it.
        #[allow(deprecated)]
        let old_prefix = live.prefix().is_some_and(|p| !p.is_empty());
        if narrowed || old_prefix {
            found.push("applies to part of the bucket only".to_string());
        }
        if live.expiration().is_some()
            || !live.transitions().is_empty()
            || live.noncurrent_version_expiration().is_some()
            || !live.noncurrent_version_transitions().is_empty()
        {
            found.push("also expires or moves objects".to_string());
        }
        found
    }

    fn change(ctx: &StackContext) -> String {
        format!(
            "bucket {} aborts unfinished multipart uploads after {ABORT_AFTER_DAYS} day",
            ctx.name(source_bucket::ID)
        )
    }

    async fn read(
        ctx: &StackContext,
        bucket: &str,
    ) -> Result<Option<Vec<LifecycleRule>>, StepError> {
        let answer = ctx
            .clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(Some(out.rules().to_vec())),
            Err(e) if absent(&e, &["NoSuchLifecycleConfiguration"]) => Ok(Some(Vec::new())),
            Err(e) if Service::S3.not_found(&e) => Ok(None),
            Err(e) => Err(StepError::with_source(
                format!("reading the lifecycle rules of bucket {bucket}"),
                AwsError::from_sdk(&e),
            )),
        }
    }

    async fn put(
        ctx: &StackContext,
        bucket: &str,
        rules: Vec<LifecycleRule>,
    ) -> Result<(), StepError> {
        let config = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(|e| StepError::with_source("building the lifecycle configuration", e))?;
        ctx.clients
            .s3
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .lifecycle_configuration(config)
            .send()
            .await
            .context(|| format!("writing the lifecycle rules of bucket {bucket}"))?;
        Ok(())
    }

    async fn delete(ctx: &StackContext, bucket: &str) -> Result<(), StepError> {
        ctx.clients
            .s3
            .delete_bucket_lifecycle()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .send()
            .await
            .context(|| format!("deleting the lifecycle configuration of bucket {bucket}"))?;
        Ok(())
    }
}
