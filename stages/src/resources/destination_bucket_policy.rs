//! Stage 6 (last step): the destination bucket's policy lets CloudFront read the videos, and
//! only this distribution: `s3:GetObject` on the bucket's objects for the service principal
//! `cloudfront.amazonaws.com` with `AWS:SourceArn` = the distribution's ARN (the tutorial's
//! "Copy policy" button, pasted into the bucket policy).
//!
//! This step owns two statements: `cattube-cloudfront-read`, and `cattube-cloudfront-no-claims`,
//! which denies CloudFront the converter function's claim objects; with the player off, a
//! third, `cattube-cloudfront-no-catalog`, denies it `catalog.json`. The TLS-only statement belongs
//! to the destination-bucket step. On a bucket the stack created, any other Allow statement
//! widens access to the videos: it is reported as drift and removed by `up`. On an adopted
//! bucket the owner's statements are theirs, and are kept.

use crate::error::absent;
use crate::resources::prelude::*;
use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::distribution;
use crate::policy;

pub struct DestinationBucketPolicy;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    // The distribution's ARN (its `AWS:SourceArn`) carries an id known only once it is
    // created, and S3 validates a bucket policy when it is written (a principal that does
    // not exist is `MalformedPolicy`): existence. The bucket: the policy is its own, and the
    // bucket's step writes its TLS statement into the same policy first.
    depends_on: &[crate::distribution::ID, crate::destination_bucket::ID],
    names: &[],
    name: None,
    outputs: &[],
    service: Service::S3,
    permissions: &[
        Grant::observe(
            &["s3:GetBucketPolicy", "s3:GetBucketTagging"],
            Target::Bucket(crate::destination_bucket::ID),
        ),
        Grant::apply(
            &["s3:PutBucketPolicy"],
            Target::Bucket(crate::destination_bucket::ID),
        ),
        Grant::destroy(
            &[
                "s3:GetBucketPolicy",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
            ],
            Target::Bucket(crate::destination_bucket::ID),
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("destination-bucket-policy");

pub const SID: &str = "cattube-cloudfront-read";
const DRIFT_READ: &str = "cloudfront-read";
const DRIFT_WIDENED: &str = "widened";

fn bucket(ctx: &StackContext) -> &str {
    ctx.name(crate::destination_bucket::ID)
}

/// The statement this step owns.
pub fn cloudfront_read(partition: &str, bucket: &str, distribution_arn: &str) -> Value {
    json!({
        "Sid": SID,
        "Effect": "Allow",
        "Principal": { "Service": "cloudfront.amazonaws.com" },
        "Action": "s3:GetObject",
        "Resource": format!("arn:{partition}:s3:::{bucket}/*"),
        "Condition": { "StringEquals": { "AWS:SourceArn": distribution_arn } }
    })
}

/// The statement that keeps the converter function's claims (`_cattube/claims/…`, see
/// `converter_role::CLAIM_PREFIX`) from ever being served: an explicit Deny to CloudFront,
/// which no Allow can override.
pub const NO_CLAIMS_SID: &str = "cattube-cloudfront-no-claims";

pub fn cloudfront_no_claims(partition: &str, bucket: &str) -> Value {
    json!({
        "Sid": NO_CLAIMS_SID,
        "Effect": "Deny",
        "Principal": { "Service": "cloudfront.amazonaws.com" },
        "Action": "s3:GetObject",
        "Resource": format!(
            "arn:{partition}:s3:::{bucket}/{}*",
            crate::converter_role::CLAIM_PREFIX
        )
    })
}

/// With the player off (`[player] enabled = false`), CloudFront is also denied the catalog
/// (`catalog.json`, which lists every video): the CLI still reads it from S3 with the
/// user's credentials. With the player on, this statement is not wanted.
pub const NO_CATALOG_SID: &str = "cattube-cloudfront-no-catalog";

pub fn cloudfront_no_catalog(partition: &str, bucket: &str) -> Value {
    json!({
        "Sid": NO_CATALOG_SID,
        "Effect": "Deny",
        "Principal": { "Service": "cloudfront.amazonaws.com" },
        "Action": "s3:GetObject",
        "Resource": format!("arn:{partition}:s3:::{bucket}/{}", crate::player_page::CATALOG_KEY)
    })
}

/// The distribution's ARN: known from this run or the state, else looked up by its tags.
async fn distribution_arn(ctx: &StackContext) -> Result<Option<String>, StepError> {
    if let Some(arn) = ctx.arn_of(distribution::SPEC.id) {
        return Ok(Some(arn));
    }
    Ok(distribution::find(ctx).await?.map(|(_, arn)| arn))
}

/// Statements that are neither cattube's nor a Deny: every one of them grants something.
fn foreign_allows(statements: &[Value]) -> Vec<&Value> {
    statements
        .iter()
        .filter(|s| {
            let sid = s.get("Sid").and_then(Value::as_str).unwrap_or_default();
            let effect = s.get("Effect").and_then(Value::as_str).unwrap_or_default();
            !sid.starts_with("cattube-") && effect == "Allow"
        })
        .collect()
}

fn describe(statement: &Value) -> String {
    let sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .unwrap_or("(no Sid)");
    let field = |k: &str| statement.get(k).map(Value::to_string).unwrap_or_default();
    format!(
        "statement {sid} allows {} to {}",
        field("Action"),
        field("Principal")
    )
}

/// The bucket's policy document (`Some(None)`: the bucket has no policy); `None` when the
/// bucket does not exist.
async fn read_policy(ctx: &StackContext) -> Result<Option<Option<String>>, StepError> {
    let name = bucket(ctx);
    match ctx
        .clients
        .s3
        .get_bucket_policy()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.policy().map(str::to_string))),
        Err(e) if absent(&e, &["NoSuchBucketPolicy"]) => Ok(Some(None)),
        Err(e) if Service::S3.not_found(&e) => Ok(None),
        Err(e) => Err(StepError::with_source(
            format!("reading the policy of bucket {name}"),
            AwsError::from_sdk(&e),
        )),
    }
}

/// Whether the bucket carries this stack's tags (was created by it).
async fn bucket_tagged_ours(ctx: &StackContext) -> Result<bool, StepError> {
    let name = bucket(ctx);
    match ctx
        .clients
        .s3
        .get_bucket_tagging()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
    {
        Ok(out) => Ok(ctx.tagged_ours(out.tag_set().iter().map(|t| (t.key(), t.value())))),
        Err(e) if absent(&e, &["NoSuchTagSet"]) || Service::S3.not_found(&e) => Ok(false),
        Err(e) => Err(StepError::with_source(
            format!("reading the tags of bucket {name}"),
            AwsError::from_sdk(&e),
        )),
    }
}

/// The bucket's policy and whether the bucket carries this stack's tags (was created by
/// it); `None` when the bucket does not exist.
async fn read(ctx: &StackContext) -> Result<Option<(Option<String>, bool)>, StepError> {
    let (policy, ours) = tokio::join!(read_policy(ctx), bucket_tagged_ours(ctx));
    let Some(policy) = policy? else {
        return Ok(None);
    };
    Ok(Some((policy, ours?)))
}

async fn put(ctx: &StackContext, document: Option<String>) -> Result<(), StepError> {
    let s3 = &ctx.clients.s3;
    let name = bucket(ctx);
    match document {
        Some(document) => {
            s3.put_bucket_policy()
                .bucket(name)
                .expected_bucket_owner(&ctx.account)
                .policy(document)
                .send()
                .await
                .context(|| format!("writing the policy of bucket {name}"))?;
        }
        None => {
            s3.delete_bucket_policy()
                .bucket(name)
                .expected_bucket_owner(&ctx.account)
                .send()
                .await
                .context(|| format!("deleting the policy of bucket {name}"))?;
        }
    }
    Ok(())
}

#[async_trait]
impl Step for DestinationBucketPolicy {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// A statement has no tags: the stack's statement in the destination bucket's policy is
    /// ours, also on an adopted bucket (the bucket is not this step's).
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        let Some(document) = read_policy(ctx).await? else {
            return Ok(Vec::new());
        };
        let statements =
            policy::statements(document.as_deref(), &format!("bucket {}", bucket(ctx)))?;
        Ok(policy::find(&statements, SID)
            .map(|_| Found {
                name: bucket(ctx).to_string(),
                arn: format!("arn:{}:s3:::{}", ctx.partition(), bucket(ctx)),
            })
            .into_iter()
            .collect())
    }

    /// The policy is the destination bucket's: its name is the bucket's.
    fn shown_name(&self, ctx: &StackContext) -> String {
        bucket(ctx).to_string()
    }

    // -----------------------------------------------------------------------------------
    // observe

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let (read, arn) = tokio::join!(read(ctx), distribution_arn(ctx));
        let Some((document, bucket_ours)) = read? else {
            return Ok(Observation::Missing);
        };
        let owner = format!("bucket {}", bucket(ctx));
        let statements = policy::statements(document.as_deref(), &owner)?;
        let Some(current) = policy::find(&statements, SID) else {
            return Ok(Observation::Missing);
        };
        let mut drift = Vec::new();
        // Without a distribution yet there is nothing to compare with: the engine looks
        // again once the distribution step has run.
        if let Some(arn) = arn? {
            let wanted = cloudfront_read(ctx.partition(), bucket(ctx), &arn);
            if !policy::same(current, &wanted) {
                drift.push(Drift::new(
                    DRIFT_READ,
                    "CloudFront's read statement does not name exactly this distribution's objects and ARN",
                ));
            }
        }
        let no_claims = cloudfront_no_claims(ctx.partition(), bucket(ctx));
        if !policy::find(&statements, NO_CLAIMS_SID).is_some_and(|s| policy::same(s, &no_claims)) {
            drift.push(Drift::new(
                DRIFT_READ,
                "the statement denying CloudFront the converter's claims is missing or changed",
            ));
        }
        let no_catalog = policy::find(&statements, NO_CATALOG_SID);
        if ctx.settings.player_enabled && no_catalog.is_some() {
            drift.push(Drift::new(
                DRIFT_READ,
                "CloudFront is denied catalog.json although the player is enabled",
            ));
        }
        if !ctx.settings.player_enabled
            && !no_catalog.is_some_and(|s| {
                policy::same(s, &cloudfront_no_catalog(ctx.partition(), bucket(ctx)))
            })
        {
            drift.push(Drift::new(
                DRIFT_READ,
                "the player is disabled but CloudFront may read catalog.json",
            ));
        }
        if bucket_ours {
            for statement in foreign_allows(&statements) {
                drift.push(Drift::new(
                    DRIFT_WIDENED,
                    format!("bucket policy widened: {}", describe(statement)),
                ));
            }
        }
        // The statement carries cattube's Sid: it was put there by this stack.
        let arn = format!("arn:{}:s3:::{}", ctx.partition(), bucket(ctx));
        Ok(Observation::Present(Present::ours(bucket(ctx), arn, drift)))
    }

    // -----------------------------------------------------------------------------------
    // apply

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = bucket(ctx);
        let arn = distribution_arn(ctx).await?.ok_or_else(|| {
            StepError::msg("the distribution is not known: its ARN goes into the bucket policy")
        })?;
        let (document, bucket_ours) = read(ctx)
            .await?
            .ok_or_else(|| StepError::msg(format!("bucket {name} does not exist")))?;
        let mut changes = Vec::new();
        // Read, change, write: the TLS statement and (on an adopted bucket) the owner's
        // statements are kept as they are.
        let owner = format!("bucket {name}");
        let mut statements = policy::statements(document.as_deref(), &owner)?;
        if bucket_ours {
            let widened: Vec<String> = foreign_allows(&statements)
                .into_iter()
                .map(describe)
                .collect();
            if !widened.is_empty() {
                statements.retain(|s| {
                    let sid = s.get("Sid").and_then(Value::as_str).unwrap_or_default();
                    sid.starts_with("cattube-")
                        || s.get("Effect").and_then(Value::as_str) != Some("Allow")
                });
                changes.extend(widened.into_iter().map(|w| format!("removed {w}")));
            }
        }
        let mut ours = vec![
            cloudfront_read(ctx.partition(), name, &arn),
            cloudfront_no_claims(ctx.partition(), name),
        ];
        if ctx.settings.player_enabled {
            statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(NO_CATALOG_SID));
        } else {
            ours.push(cloudfront_no_catalog(ctx.partition(), name));
        }
        let base = json!({ "Version": "2012-10-17", "Statement": statements }).to_string();
        let merged = policy::merge(Some(&base), &owner, &ours)?;
        put(ctx, Some(merged)).await?;
        changes.push(format!(
            "CloudFront may read the objects of {name}, for {arn} only"
        ));
        Ok(Applied {
            arn: format!("arn:{}:s3:::{name}", ctx.partition()),
            adopted: false,
            changes,
            outputs: BTreeMap::new(),
            extra: BTreeMap::new(),
            ..Default::default()
        })
    }

    // -----------------------------------------------------------------------------------
    // destroy

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        // Only our statement goes (also with --keep-buckets: the distribution it names is
        // being deleted); the policy itself is deleted only when nothing else is left.
        let Some((document, _)) = read(ctx).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        let owner = format!("bucket {}", bucket(ctx));
        let statements = policy::statements(document.as_deref(), &owner)?;
        if policy::find(&statements, SID).is_none() {
            return Ok(Destroyed::AlreadyGone);
        }
        put(
            ctx,
            policy::remove(
                document.as_deref(),
                &owner,
                &[SID, NO_CLAIMS_SID, NO_CATALOG_SID],
            )?,
        )
        .await?;
        Ok(Destroyed::Deleted)
    }
}
