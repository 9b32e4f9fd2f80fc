//! Stage 8, optional: the source bucket's CORS rule that lets pages on `[uploads]
//! allowed-origins` upload with a grant (`cattube upload-url`): POST (a presigned POST) and
//! PUT (a multipart grant's parts), the `content-type` header, and ETag exposed so that a
//! page can complete a multipart upload. No origin is allowed that is not written (no
//! wildcard unless the list holds one). The rule has id `cattube-uploads`; the bucket's
//! other CORS rules are kept ([`crate::resources::bucket_rule`]). Without `[uploads]` the
//! stack wants no rule: `up` removes its own.

use crate::resources::prelude::*;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::error::absent;
use crate::resources::bucket_rule::{BucketRules, RuleStep};
use crate::{source_bucket, Settings};

/// This resource's id (the key of its state and facts).
pub const ID: ResourceId = ResourceId::new("source-cors");

/// The resource, as the registry lists it.
pub const SOURCE_CORS: RuleStep<Cors> = RuleStep(Cors);

/// What a browser may send: a presigned POST's form, a multipart grant's parts.
pub const METHODS: [&str; 2] = ["POST", "PUT"];
pub const HEADERS: [&str; 1] = ["content-type"];
/// A page completes a multipart upload with each part's ETag.
pub const EXPOSED: [&str; 1] = ["ETag"];
/// How long a browser may cache the preflight's answer.
pub const MAX_AGE_S: i32 = 3000;

pub struct Cors;

#[async_trait]
impl BucketRules for Cors {
    type Rule = CorsRule;
    const SPEC: Spec = Spec {
        id: ID,
        stage: "8",
        // The rule is written on the bucket.
        depends_on: &[source_bucket::ID],
        service: Service::S3,
        permissions: &[
            Grant::observe(&["s3:GetBucketCORS"], Target::Bucket(source_bucket::ID)),
            // DeleteBucketCors is authorised as s3:PutBucketCORS.
            Grant::apply(
                &["s3:GetBucketCORS", "s3:PutBucketCORS"],
                Target::Bucket(source_bucket::ID),
            ),
            Grant::destroy(
                &["s3:GetBucketCORS", "s3:PutBucketCORS"],
                Target::Bucket(source_bucket::ID),
            ),
        ],
        ..Spec::DEFAULT
    };
    const RULE_ID: &'static str = "cattube-uploads";
    const WHAT: &'static str = "CORS";

    fn rule_id(rule: &CorsRule) -> Option<&str> {
        rule.id()
    }

    fn wanted(ctx: &StackContext) -> CorsRule {
        CorsRule::builder()
            .id(Self::RULE_ID)
            .set_allowed_origins(Some(ctx.settings.upload_origins.clone()))
            .set_allowed_methods(Some(METHODS.map(String::from).to_vec()))
            .set_allowed_headers(Some(HEADERS.map(String::from).to_vec()))
            .set_expose_headers(Some(EXPOSED.map(String::from).to_vec()))
            .max_age_seconds(MAX_AGE_S)
            .build()
            .expect("origins and methods are set")
    }

    fn differences(ctx: &StackContext, live: &CorsRule) -> Vec<String> {
        let wanted = Self::wanted(ctx);
        let mut found = Vec::new();
        let mut compare = |what: &str, live: &[String], wanted: &[String]| {
            let norm = |v: &[String]| {
                let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
                v.sort();
                v
            };
            if norm(live) != norm(wanted) {
                found.push(format!("{what} are {live:?}, not {wanted:?}"));
            }
        };
        compare("origins", live.allowed_origins(), wanted.allowed_origins());
        compare("methods", live.allowed_methods(), wanted.allowed_methods());
        compare("headers", live.allowed_headers(), wanted.allowed_headers());
        compare(
            "exposed headers",
            live.expose_headers(),
            wanted.expose_headers(),
        );
        if live.max_age_seconds() != wanted.max_age_seconds() {
            found.push(format!("max age is {:?}", live.max_age_seconds()));
        }
        found
    }

    fn change(ctx: &StackContext) -> String {
        format!(
            "bucket {} accepts uploads from {}",
            ctx.name(source_bucket::ID),
            ctx.settings.upload_origins.join(", ")
        )
    }

    fn wanted_by(settings: &Settings) -> bool {
        !settings.upload_origins.is_empty()
    }

    fn unwanted_reason() -> &'static str {
        "not configured ([uploads] allowed-origins is empty)"
    }

    async fn read(ctx: &StackContext, bucket: &str) -> Result<Option<Vec<CorsRule>>, StepError> {
        let answer = ctx
            .clients
            .s3
            .get_bucket_cors()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .send()
            .await;
        match answer {
            Ok(out) => Ok(Some(out.cors_rules().to_vec())),
            Err(e) if absent(&e, &["NoSuchCORSConfiguration"]) => Ok(Some(Vec::new())),
            Err(e) if Service::S3.not_found(&e) => Ok(None),
            Err(e) => Err(StepError::with_source(
                format!("reading the CORS rules of bucket {bucket}"),
                AwsError::from_sdk(&e),
            )),
        }
    }

    async fn put(ctx: &StackContext, bucket: &str, rules: Vec<CorsRule>) -> Result<(), StepError> {
        let config = CorsConfiguration::builder()
            .set_cors_rules(Some(rules))
            .build()
            .map_err(|e| StepError::with_source("building the CORS configuration", e))?;
        ctx.clients
            .s3
            .put_bucket_cors()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .cors_configuration(config)
            .send()
            .await
            .context(|| format!("writing the CORS rules of bucket {bucket}"))?;
        Ok(())
    }

    async fn delete(ctx: &StackContext, bucket: &str) -> Result<(), StepError> {
        ctx.clients
            .s3
            .delete_bucket_cors()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .send()
            .await
            .context(|| format!("deleting the CORS configuration of bucket {bucket}"))?;
        Ok(())
    }
}
