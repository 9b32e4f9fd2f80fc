//! What stages 1 and 2 share: an S3 bucket with the settings a security reviewer signs off
//! (all public access blocked, default encryption, bucket-owner-enforced ownership, TLS
//! only, the stack's tags). The tutorial leaves all of these at the console's defaults.

mod empty;
mod observe;
mod restore;
mod settings;

use crate::resources::prelude::*;

use empty::{empty, Emptied};
pub(crate) use observe::observe;
pub(crate) use restore::restore;
use settings::*;
pub(crate) use settings::{all_public_access_blocked, create_bucket, sse_s3};

use crate::error::absent;
use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use aws_sdk_s3::Client;

use crate::original::Originals;
use crate::policy;

const DRIFT_PUBLIC_ACCESS: &str = "public-access-block";
const DRIFT_ENCRYPTION: &str = "encryption";
const DRIFT_OWNERSHIP: &str = "ownership";
const DRIFT_TLS: &str = "tls-policy";
/// The whole bucket policy, as an original setting (`crate::original`).
const ORIGINAL_POLICY: &str = "policy";
use crate::context::DRIFT_TAGS;

/// The per-bucket facts that differ between stage 1 and stage 2.
pub(crate) struct BucketSpec {
    pub id: crate::naming::ResourceId,
    /// The output key under which the bucket name is published (`source_bucket`…).
    pub output: &'static str,
}

fn http_status<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn outputs(spec: &BucketSpec, name: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([(spec.output, name.to_string())])
}

fn taken_elsewhere(id: crate::naming::ResourceId, name: &str, why: &str) -> StepError {
    StepError::msg(format!(
        "bucket name {name} is not available to this stack ({why}); choose another with `{id} = \"…\"` under [names] in cattube.toml"
    ))
}

// ---------------------------------------------------------------------------------------
// apply

pub(crate) async fn apply(ctx: &ApplyContext<'_>, spec: &BucketSpec) -> StepResult<Applied> {
    let s3 = &ctx.clients.s3;
    let name = ctx.name(spec.id);
    let mut applied = Applied {
        arn: arn::bucket(ctx, spec.id),
        outputs: outputs(spec, name),
        ..Default::default()
    };

    let repair = |key: &str| match ctx.observation {
        Observation::Missing => true,
        Observation::Present(p) => p.has_drift(key),
    };
    let mut ours = ctx.ownership.is_none_or(Ownership::is_ours);

    if let Observation::Missing = ctx.observation {
        if create_or_find(ctx, spec, name).await? {
            applied.changes.push("created bucket".into());
        } else {
            // Someone in this account made it between our look and our create: it is not
            // ours to delete, but it gets the same secure settings.
            applied.adopted = true;
            ours = false;
        }
    }

    let created_now = matches!(ctx.observation, Observation::Missing) && !applied.adopted;

    // Tags first, so that a bucket we created is recognisable as ours as soon as possible.
    // A bucket created just now has no tags and no policy to keep: they are written without
    // reading them first, all in the same round trip as the other settings.
    if ours && repair(DRIFT_TAGS) && !created_now {
        put_tags(s3, ctx, name, false).await?;
        applied.changes.push("tagged bucket".into());
    }
    let tags = async {
        if !(ours && created_now) {
            return Ok(None);
        }
        put_tags(s3, ctx, name, true).await?;
        Ok::<_, StepError>(Some("tagged bucket"))
    };

    let public_access = async {
        if !repair(DRIFT_PUBLIC_ACCESS) {
            return Ok(None);
        }
        s3.put_public_access_block()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .public_access_block_configuration(all_public_access_blocked())
            .send()
            .await
            .context(|| format!("blocking public access to bucket {name}"))?;
        Ok::<_, StepError>(Some("blocked all public access"))
    };
    let encryption = async {
        if !repair(DRIFT_ENCRYPTION) {
            return Ok(None);
        }
        s3.put_bucket_encryption()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .server_side_encryption_configuration(sse_s3()?)
            .send()
            .await
            .context(|| format!("turning on default encryption (SSE-S3) of bucket {name}"))?;
        Ok(Some("default encryption SSE-S3"))
    };
    let ownership_controls = async {
        // A bucket created just now got BucketOwnerEnforced in the create call itself.
        if created_now || !repair(DRIFT_OWNERSHIP) {
            return Ok(None);
        }
        enforce_bucket_owner(ctx, name).await?;
        Ok(Some("object ownership BucketOwnerEnforced"))
    };
    let tls = async {
        if !repair(DRIFT_TLS) {
            return Ok(None);
        }
        require_tls(ctx, name, created_now).await?;
        Ok(Some("bucket policy denies non-TLS requests"))
    };
    let (t, a, b, c, d) = tokio::join!(tags, public_access, encryption, ownership_controls, tls);
    for change in [t?, a?, b?, c?, d?].into_iter().flatten() {
        applied.changes.push(change.into());
    }
    Ok(applied)
}

/// Makes the bucket's owner own every object in it (ACLs off).
async fn enforce_bucket_owner(ctx: &StackContext, name: &str) -> Result<(), StepError> {
    let controls = ownership_controls(ObjectOwnership::BucketOwnerEnforced)?;
    ctx.clients
        .s3
        .put_bucket_ownership_controls()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .ownership_controls(controls)
        .send()
        .await
        .context(|| format!("enforcing bucket-owner object ownership on bucket {name}"))?;
    Ok(())
}

/// Adds the statement denying non-TLS requests to the bucket policy; on a bucket created
/// just now (`fresh`: no policy to keep) without reading it first.
async fn require_tls(ctx: &StackContext, name: &str, fresh: bool) -> Result<(), StepError> {
    let ours = [policy::deny_insecure_transport(ctx.partition(), name)];
    if fresh {
        put_policy(ctx, name, policy::merge(None, "", &ours)?).await
    } else {
        merge_policy(ctx, name, &ours).await
    }
}

/// Creates the bucket: `true` when this call did, `false` when it is already there and the
/// account's (`BucketAlreadyOwnedByYou`).
async fn create_or_find(
    ctx: &StackContext,
    spec: &BucketSpec,
    name: &str,
) -> Result<bool, StepError> {
    match create(ctx, name).await {
        Ok(()) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
        {
            Ok(false)
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_bucket_already_exists()) =>
        {
            Err(taken_elsewhere(
                spec.id,
                name,
                "another AWS account owns it",
            ))
        }
        Err(err) => Err(StepError::with_source(
            format!("creating bucket {name}"),
            AwsError::from_sdk(&err),
        )),
    }
}

/// Puts the stack's tags on the bucket. PutBucketTagging replaces the whole set, so the
/// tags someone else added are read and kept, unless the bucket is `fresh` (created by this
/// run: nobody else has tagged it).
async fn put_tags(
    s3: &Client,
    ctx: &StackContext,
    name: &str,
    fresh: bool,
) -> Result<(), StepError> {
    let existing = if fresh {
        Err(None)
    } else {
        s3.get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map_err(Some)
    };
    let mut tags: BTreeMap<String, String> = match existing {
        Ok(out) => out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect(),
        Err(None) => BTreeMap::new(),
        Err(Some(e)) if absent(&e, &["NoSuchTagSet"]) => BTreeMap::new(),
        Err(Some(e)) => {
            return Err(StepError::with_source(
                format!("reading the tags of bucket {name}"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    tags.extend(ctx.tags().iter().map(|(k, v)| (k.clone(), v.clone())));
    let tag_set = tags
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StepError::with_source("building tags", e))?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|e| StepError::with_source("building tags", e))?;
    s3.put_bucket_tagging()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .tagging(tagging)
        .send()
        .await
        .context(|| format!("tagging bucket {name}"))?;
    Ok(())
}

/// Puts `ours` into the bucket's policy, keeping every statement that is not cattube's.
pub(crate) async fn merge_policy(
    ctx: &StackContext,
    name: &str,
    ours: &[serde_json::Value],
) -> Result<(), StepError> {
    let s3 = &ctx.clients.s3;
    let existing = match s3
        .get_bucket_policy()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
    {
        Ok(out) => out.policy().map(str::to_string),
        Err(e) if absent(&e, &["NoSuchBucketPolicy"]) => None,
        Err(e) => {
            return Err(StepError::with_source(
                format!("reading the policy of bucket {name}"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let merged = policy::merge(existing.as_deref(), &format!("bucket {name}"), ours)?;
    put_policy(ctx, name, merged).await
}

async fn put_policy(ctx: &StackContext, name: &str, merged: String) -> Result<(), StepError> {
    ctx.clients
        .s3
        .put_bucket_policy()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .policy(merged)
        .send()
        .await
        .context(|| format!("writing the policy of bucket {name}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// destroy

/// `--keep-buckets` keeps the stack's buckets (source, destination, failures) and every object in them.
pub(crate) fn kept_by(options: &DestroyOptions) -> Option<String> {
    options
        .keep_buckets
        .then(|| "kept with its objects: --keep-buckets".to_string())
}

pub(crate) async fn destroy(ctx: &DestroyContext<'_>, spec: &BucketSpec) -> StepResult<Destroyed> {
    let name = ctx.name(spec.id);
    if let Some(reason) = kept_by(ctx.options) {
        return Ok(Destroyed::Kept(reason));
    }
    // Objects can arrive while we empty (an upload in flight): empty again, a few times.
    for _ in 0..3 {
        if empty(ctx, name).await? == Emptied::BucketGone {
            return Ok(Destroyed::AlreadyGone);
        }
        let answer = ctx
            .clients
            .s3
            .delete_bucket()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send()
            .await;
        if matches!(&answer, Err(e) if absent(e, &["BucketNotEmpty"])) {
            continue;
        }
        return Service::S3.deleted(answer, || format!("deleting bucket {name}"));
    }
    Err(StepError::msg(format!(
        "bucket {name} keeps receiving objects: emptied three times and still not empty"
    )))
}

/// The `Step` of a bucket module: its registry entry and its [`BucketSpec`], the rest shared.
/// The same shape as [`crate::resources::iam_role::role_step`] for the roles.
macro_rules! bucket_step {
    ($step:ident, $bucket:expr, $spec:expr) => {
        #[async_trait::async_trait]
        impl $crate::step::Step for $step {
            fn spec(&self) -> &'static $crate::step::Spec {
                &$spec
            }
            fn kept_by(&self, options: &$crate::step::DestroyOptions) -> Option<String> {
                $crate::resources::bucket::kept_by(options)
            }
            async fn observe(
                &self,
                ctx: &$crate::step::ObserveContext<'_>,
            ) -> $crate::step::StepResult<$crate::Observation> {
                $crate::resources::bucket::observe(ctx, &$bucket).await
            }
            async fn apply(
                &self,
                ctx: &$crate::step::ApplyContext<'_>,
            ) -> $crate::step::StepResult<$crate::Applied> {
                $crate::resources::bucket::apply(ctx, &$bucket).await
            }
            async fn restore(
                &self,
                ctx: &$crate::StackContext,
                recorded: &$crate::Recorded,
            ) -> Result<Vec<String>, $crate::StepError> {
                $crate::resources::bucket::restore(ctx, &$bucket, recorded).await
            }
            async fn destroy(
                &self,
                ctx: &$crate::step::DestroyContext<'_>,
            ) -> $crate::step::StepResult<$crate::Destroyed> {
                $crate::resources::bucket::destroy(ctx, &$bucket).await
            }
        }
    };
}
pub(crate) use bucket_step;

/// The IAM actions of `observe`, `apply` and `destroy` above, on bucket `id`.
pub(crate) const fn permissions(id: crate::naming::ResourceId) -> [crate::grant::Grant; 6] {
    use crate::grant::{Grant, Target};
    [
        Grant::observe(
            // HeadBucket is authorized as ListBucket.
            &[
                "s3:ListBucket",
                "s3:GetBucketTagging",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketOwnershipControls",
                "s3:GetBucketPolicy",
            ],
            Target::Bucket(id),
        ),
        Grant::apply(
            &[
                "s3:CreateBucket",
                "s3:GetBucketTagging",
                "s3:PutBucketTagging",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
            ],
            Target::Bucket(id),
        ),
        // `restore`: an adopted bucket's settings put back as they were (the Delete calls
        // of a setting it did not have are authorized as its Put).
        Grant::destroy(
            &[
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
            ],
            Target::Bucket(id),
        ),
        Grant::destroy(
            &[
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
                "s3:DeleteBucket",
            ],
            Target::Bucket(id),
        ),
        // DeleteObjects is authorized per object, as DeleteObject / DeleteObjectVersion.
        Grant::destroy(
            &["s3:DeleteObject", "s3:DeleteObjectVersion"],
            Target::Objects(id),
        ),
        Grant::destroy(&["s3:AbortMultipartUpload"], Target::Objects(id)),
    ]
}

/// A bucket's URL, as the S3 client addresses it (virtual-hosted on AWS, path-style
/// on an emulator), ending in '/': the SDK's own presigning resolves the endpoint, and the
/// object's key is cut off its URL.
pub async fn bucket_url(ctx: &StackContext, bucket: &str) -> Result<String, StepError> {
    const PROBE: &str = "cattube-endpoint-probe";
    let presigned = ctx
        .clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(PROBE)
        .presigned(
            PresigningConfig::expires_in(Duration::from_secs(60))
                .map_err(|e| StepError::with_source("a presigned URL's expiry", e))?,
        )
        .await
        .map_err(|e| StepError::with_source("resolving the bucket's endpoint", e))?;
    let uri = presigned.uri();
    let path = uri.split('?').next().unwrap_or(uri);
    path.strip_suffix(PROBE)
        .map(str::to_string)
        .ok_or_else(|| StepError::msg(format!("unexpected presigned URL shape: {path}")))
}
