//! Is the stack up for uploads, and where do a key's outputs play: the source bucket and its
//! notification, the distribution's domain, the live job template, the outputs that exist.

use tokio::task::JoinSet;

use super::outputs::{output_keys, output_names, OutputName};
use super::{cdn_url, not_up, VideoError};
use crate::error::{AwsError, AwsFound};
use crate::grant::{Grant, Target};
use crate::{arn, distribution, Service, StackContext, StepError};

// What `upload` calls, as IAM authorizes it (`cattube permissions`): `check_source`,
// `playback`, `already_uploaded` and `upload`.

/// HeadBucket is authorized as ListBucket.
pub const UPLOAD_BUCKET: Grant = Grant::observe(
    &["s3:ListBucket", "s3:GetBucketNotification"],
    Target::Bucket(crate::source_bucket::ID),
);
/// HeadObject is authorized as GetObject; a multipart upload's parts as PutObject.
pub const UPLOAD_OBJECTS: Grant = Grant::apply(
    &["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    Target::Objects(crate::source_bucket::ID),
);
pub const UPLOAD_DISTRIBUTION: Grant =
    Grant::observe(&["cloudfront:GetDistribution"], Target::Distributions);
pub const UPLOAD_JOB_TEMPLATE: Grant = Grant::observe(
    &["mediaconvert:GetJobTemplate"],
    Target::JobTemplate(crate::job_template::ID),
);

/// Uploads make sense only when the source bucket is this account's and its notification
/// invokes the stack's converter: otherwise nothing would be converted.
pub async fn check_source(ctx: &StackContext) -> Result<(), VideoError> {
    let s3 = &ctx.clients.s3;
    let bucket = ctx.name(crate::source_bucket::ID);
    // Both at once; the bucket's answer is looked at first (a missing or foreign bucket
    // makes the notification's answer moot).
    let (head, notification) = tokio::join!(
        s3.head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .send(),
        crate::source_notification::read(ctx)
    );
    match head {
        Ok(_) => {}
        Err(e) if Service::S3.not_found(&e) => {
            return Err(not_up(ctx, format!("source bucket {bucket} does not exist")))
        }
        Err(e) => {
            return match e.raw_response().map(|r| r.status().as_u16()) {
                Some(403) => Err(VideoError::NotUp(format!(
                    "source bucket {bucket} belongs to another account: set `source-bucket` under [names] in cattube.toml"
                ))),
                _ => Err(StepError::with_source(
                    format!("checking source bucket {bucket}"),
                    AwsError::from_sdk(&e),
                )
                .into()),
            }
        }
    }
    let Some(config) = notification? else {
        return Err(not_up(
            ctx,
            format!("source bucket {bucket} does not exist"),
        ));
    };
    let function = arn::function(ctx, crate::converter_function::ID);
    let notifies = config
        .lambda_function_configurations()
        .iter()
        .any(|c| c.lambda_function_arn() == function);
    if !notifies {
        return Err(not_up(
            ctx,
            format!("source bucket {bucket} does not notify the converter function, so uploads would not be converted"),
        ));
    }
    Ok(())
}

/// Where the outputs of a source key can be watched: the distribution's domain and what the
/// job template writes.
#[derive(Clone, Debug)]
pub struct Playback {
    pub domain: String,
    pub outputs: Vec<OutputName>,
}

/// One output of a source key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputUrl {
    /// Its key in the destination bucket.
    pub key: String,
    pub url: String,
}

impl Playback {
    pub fn urls(&self, source_key: &str) -> Vec<OutputUrl> {
        output_keys(source_key, &self.outputs)
            .into_iter()
            .map(|key| OutputUrl {
                url: cdn_url(&self.domain, &key),
                key,
            })
            .collect()
    }
}

/// The stack's distribution domain and the live job template's outputs, read in parallel.
pub async fn playback(ctx: &StackContext) -> Result<Playback, VideoError> {
    let (domain, outputs) = tokio::join!(distribution_domain(ctx), template_outputs(ctx));
    Ok(Playback {
        domain: domain?,
        outputs: outputs?,
    })
}

pub async fn distribution_domain(ctx: &StackContext) -> Result<String, VideoError> {
    let Some(dist) = distribution::live(ctx).await? else {
        return Err(not_up(ctx, "it has no CloudFront distribution".to_string()));
    };
    let id = dist.id();
    if dist.distribution_config().is_some_and(|c| !c.enabled()) {
        return Err(not_up(
            ctx,
            format!("distribution {id} is disabled and serves nothing"),
        ));
    }
    // The stack's own domain once attached (`[domain]`), else CloudFront's.
    Ok(distribution::serving_domain(&dist))
}

async fn template_outputs(ctx: &StackContext) -> Result<Vec<OutputName>, VideoError> {
    let name = ctx.name(crate::job_template::ID);
    let Some(got) = ctx
        .clients
        .mediaconvert
        .get_job_template()
        .name(name)
        .send()
        .await
        .found(Service::MediaConvert, || {
            format!("reading MediaConvert job template {name}")
        })?
    else {
        return Err(not_up(
            ctx,
            format!("MediaConvert job template {name} does not exist"),
        ));
    };
    Ok(got
        .job_template()
        .and_then(|t| t.settings())
        .map(output_names)
        .unwrap_or_default())
}

/// Whether each key exists in the destination bucket (HeadObject, all at once).
pub async fn exist(ctx: &StackContext, keys: &[String]) -> Result<Vec<bool>, VideoError> {
    exist_in(ctx, ctx.name(crate::destination_bucket::ID), keys).await
}

/// Whether a source key was ever uploaded: it is in the source bucket.
pub async fn uploaded(ctx: &StackContext, key: &str) -> Result<bool, VideoError> {
    let found = exist_in(ctx, ctx.name(crate::source_bucket::ID), &[key.to_string()]).await?;
    Ok(found.first().copied().unwrap_or(false))
}

async fn exist_in(
    ctx: &StackContext,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<bool>, VideoError> {
    let bucket = bucket.to_string();
    let mut tasks = JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let (s3, bucket, key, account) = (
            ctx.clients.s3.clone(),
            bucket.clone(),
            key.clone(),
            ctx.account.clone(),
        );
        tasks.spawn(async move {
            let head = s3
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .expected_bucket_owner(account)
                .send()
                .await;
            let found = head
                .found(Service::S3, || format!("checking s3://{bucket}/{key}"))
                .map(|head| head.is_some());
            (i, found)
        });
    }
    let mut found = vec![false; keys.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, exists) = joined.map_err(|e| StepError::with_source("checking outputs", e))?;
        found[i] = exists?;
    }
    Ok(found)
}
