//! What stages 1 and 2 share: an S3 bucket with the settings a security reviewer signs off
//! (all public access blocked, default encryption, bucket-owner-enforced ownership, TLS
//! only, the stack's tags). The tutorial leaves all of these at the console's defaults.

use crate::error::absent;
use crate::error::AwsFound;
use crate::Service;
use std::collections::BTreeMap;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use aws_sdk_s3::Client;

use crate::error::{AwsContext, AwsError};
use crate::original::Originals;
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Observation, Ownership, Present, Recorded,
};
use crate::{arn, policy, StackContext, StepError};

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

// ---------------------------------------------------------------------------------------
// observe

pub(crate) async fn observe(
    ctx: &StackContext,
    spec: &BucketSpec,
    recorded: Option<&Recorded>,
) -> Result<Observation, StepError> {
    let s3 = &ctx.clients.s3;
    let name = ctx.name(spec.id);
    let doing = |what: &str| format!("reading the {what} of bucket {name}");

    // Existence and the five settings in one round trip, not two: when the bucket is
    // missing the other reads fail too, and their answers are dropped.
    let (head, tags, public_access, encryption, ownership, bucket_policy) = tokio::join!(
        s3.head_bucket()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send(),
        s3.get_bucket_tagging()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send(),
        s3.get_public_access_block()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send(),
        s3.get_bucket_encryption()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send(),
        s3.get_bucket_ownership_controls()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send(),
        s3.get_bucket_policy()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .send(),
    );

    if !exists(ctx, spec, head)? {
        return Ok(Observation::Missing);
    }
    let tags = live_tags(tags, &doing)?;
    let tagged_ours = ctx.tagged_ours(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let ours = tagged_ours || recorded.is_some_and(|r| r.ownership.is_ours());

    let mut drift = Vec::new();
    drift.extend(public_access_drift(public_access, &doing)?);
    drift.extend(encryption_drift(encryption, &doing)?);
    drift.extend(ownership_drift(ownership, &doing)?);
    drift.extend(tls_drift(ctx, name, bucket_policy, &doing)?);

    // Tags are ours to keep right only on a bucket the stack created; an adopted bucket's
    // tags belong to its owner (and our tags on it would make it look deletable).
    if ours {
        drift.extend(ctx.tag_drift(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }

    Ok(Observation::Present(Present {
        name: name.to_string(),
        arn: arn::bucket(ctx, spec.id),
        tagged_ours,
        drift,
        pending: None,
        outputs: outputs(spec, name),
    }))
}

/// An S3 answer: its output, or the SDK error with the raw response.
type Answer<O, E> = Result<O, SdkError<E, aws_smithy_runtime_api::http::Response>>;

/// Whether the bucket exists, and is this stack's to use (this account, this region).
fn exists(
    ctx: &StackContext,
    spec: &BucketSpec,
    head: Answer<
        aws_sdk_s3::operation::head_bucket::HeadBucketOutput,
        aws_sdk_s3::operation::head_bucket::HeadBucketError,
    >,
) -> Result<bool, StepError> {
    let name = ctx.name(spec.id);
    match head {
        Ok(head) => match head.bucket_region().filter(|r| *r != ctx.region) {
            Some(region) => Err(taken_elsewhere(
                spec.id,
                name,
                &format!("it is in region {region}"),
            )),
            None => Ok(true),
        },
        Err(err) if Service::S3.not_found(&err) => Ok(false),
        Err(err) => match http_status(&err) {
            Some(403) => Err(taken_elsewhere(spec.id, name, "another account owns it")),
            Some(301) => Err(taken_elsewhere(spec.id, name, "it is in another region")),
            _ => Err(StepError::with_source(
                format!("reading the existence of bucket {name}"),
                AwsError::from_sdk(&err),
            )),
        },
    }
}

fn live_tags(
    tags: Answer<
        aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput,
        aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingError,
    >,
    doing: &dyn Fn(&str) -> String,
) -> Result<Vec<(String, String)>, StepError> {
    match tags {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) if absent(&e, &["NoSuchTagSet"]) => Ok(Vec::new()),
        Err(e) => Err(StepError::with_source(
            doing("tags"),
            AwsError::from_sdk(&e),
        )),
    }
}

fn public_access_drift(
    public_access: Answer<
        aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockOutput,
        aws_sdk_s3::operation::get_public_access_block::GetPublicAccessBlockError,
    >,
    doing: &dyn Fn(&str) -> String,
) -> Result<Option<Drift>, StepError> {
    let public_access = match public_access {
        Ok(out) => out.public_access_block_configuration().cloned(),
        Err(e) if absent(&e, &["NoSuchPublicAccessBlockConfiguration"]) => None,
        Err(e) => {
            return Err(StepError::with_source(
                doing("public access block"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let open: Vec<&str> = match &public_access {
        None => vec![
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        ],
        Some(c) => [
            ("BlockPublicAcls", c.block_public_acls()),
            ("IgnorePublicAcls", c.ignore_public_acls()),
            ("BlockPublicPolicy", c.block_public_policy()),
            ("RestrictPublicBuckets", c.restrict_public_buckets()),
        ]
        .into_iter()
        .filter(|(_, on)| *on != Some(true))
        .map(|(setting, _)| setting)
        .collect(),
    };
    let was = public_access.as_ref().map(|c| {
        serde_json::json!({
            "BlockPublicAcls": c.block_public_acls(),
            "IgnorePublicAcls": c.ignore_public_acls(),
            "BlockPublicPolicy": c.block_public_policy(),
            "RestrictPublicBuckets": c.restrict_public_buckets(),
        })
    });
    Ok((!open.is_empty()).then(|| {
        Drift::new(
            DRIFT_PUBLIC_ACCESS,
            format!("public access block off: {}", open.join(", ")),
        )
        .was(DRIFT_PUBLIC_ACCESS, was)
    }))
}

fn encryption_drift(
    encryption: Answer<
        aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionOutput,
        aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionError,
    >,
    doing: &dyn Fn(&str) -> String,
) -> Result<Option<Drift>, StepError> {
    let rules = match encryption {
        Ok(out) => out
            .server_side_encryption_configuration()
            .map(|c| c.rules().to_vec())
            .unwrap_or_default(),
        Err(e) if absent(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) => Vec::new(),
        Err(e) => {
            return Err(StepError::with_source(
                doing("default encryption"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let encrypted = rules
        .iter()
        .any(|r| r.apply_server_side_encryption_by_default().is_some());
    let was = (!rules.is_empty()).then(|| encryption_json(&rules));
    Ok((!encrypted)
        .then(|| Drift::new(DRIFT_ENCRYPTION, "no default encryption").was(DRIFT_ENCRYPTION, was)))
}

fn ownership_drift(
    ownership: Answer<
        aws_sdk_s3::operation::get_bucket_ownership_controls::GetBucketOwnershipControlsOutput,
        aws_sdk_s3::operation::get_bucket_ownership_controls::GetBucketOwnershipControlsError,
    >,
    doing: &dyn Fn(&str) -> String,
) -> Result<Option<Drift>, StepError> {
    let rules: Vec<ObjectOwnership> = match ownership {
        Ok(out) => out
            .ownership_controls()
            .map(|c| {
                c.rules()
                    .iter()
                    .map(|r| r.object_ownership().clone())
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) if absent(&e, &["OwnershipControlsNotFoundError"]) => Vec::new(),
        Err(e) => {
            return Err(StepError::with_source(
                doing("ownership controls"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let enforced = rules.contains(&ObjectOwnership::BucketOwnerEnforced);
    let was = rules.first().map(|o| serde_json::Value::from(o.as_str()));
    Ok((!enforced).then(|| {
        Drift::new(
            DRIFT_OWNERSHIP,
            "object ownership is not BucketOwnerEnforced (ACLs enabled)",
        )
        .was(DRIFT_OWNERSHIP, was)
    }))
}

fn tls_drift(
    ctx: &StackContext,
    name: &str,
    bucket_policy: Answer<
        aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyOutput,
        aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyError,
    >,
    doing: &dyn Fn(&str) -> String,
) -> Result<Option<Drift>, StepError> {
    let bucket_policy = match bucket_policy {
        Ok(out) => out.policy().map(str::to_string),
        Err(e) if absent(&e, &["NoSuchBucketPolicy"]) => None,
        Err(e) => {
            return Err(StepError::with_source(
                doing("policy"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let wanted_tls = policy::deny_insecure_transport(ctx.partition(), name);
    let statements = policy::statements(bucket_policy.as_deref(), &format!("bucket {name}"))?;
    let tls_ok = policy::find(&statements, "cattube-deny-insecure-transport")
        .is_some_and(|s| policy::same(s, &wanted_tls));
    // The whole policy as it is: the statements the destination-bucket-policy step merges in
    // later are in the same document, and `down` puts back the owner's exactly.
    let was = bucket_policy.map(serde_json::Value::from);
    Ok((!tls_ok).then(|| {
        Drift::new(DRIFT_TLS, "bucket policy does not deny non-TLS requests")
            .was(ORIGINAL_POLICY, was)
    }))
}

/// Default-encryption rules as an original setting.
fn encryption_json(rules: &[ServerSideEncryptionRule]) -> serde_json::Value {
    rules
        .iter()
        .map(|r| {
            let by_default = r.apply_server_side_encryption_by_default();
            serde_json::json!({
                "SSEAlgorithm": by_default.map(|d| d.sse_algorithm().as_str()),
                "KMSMasterKeyID": by_default.and_then(|d| d.kms_master_key_id()),
                "BucketKeyEnabled": r.bucket_key_enabled(),
            })
        })
        .collect()
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

pub(crate) async fn apply(
    ctx: &StackContext,
    spec: &BucketSpec,
    observation: &Observation,
    ownership: Option<Ownership>,
) -> Result<Applied, StepError> {
    let s3 = &ctx.clients.s3;
    let name = ctx.name(spec.id);
    let mut applied = Applied {
        arn: arn::bucket(ctx, spec.id),
        outputs: outputs(spec, name),
        ..Default::default()
    };

    let repair = |key: &str| match observation {
        Observation::Missing => true,
        Observation::Present(p) => p.has_drift(key),
    };
    let mut ours = ownership.is_none_or(Ownership::is_ours);

    if let Observation::Missing = observation {
        match create(ctx, name).await {
            Ok(()) => applied.changes.push("created bucket".into()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                // Someone in this account made it between our look and our create: it is
                // not ours to delete, but it gets the same secure settings.
                applied.adopted = true;
                ours = false;
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_exists()) =>
            {
                return Err(taken_elsewhere(
                    spec.id,
                    name,
                    "another AWS account owns it",
                ));
            }
            Err(err) => {
                return Err(StepError::with_source(
                    format!("creating bucket {name}"),
                    AwsError::from_sdk(&err),
                ))
            }
        }
    }

    let created_now = matches!(observation, Observation::Missing) && !applied.adopted;

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
        let controls = ownership_controls(ObjectOwnership::BucketOwnerEnforced)?;
        s3.put_bucket_ownership_controls()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .ownership_controls(controls)
            .send()
            .await
            .context(|| format!("enforcing bucket-owner object ownership on bucket {name}"))?;
        Ok(Some("object ownership BucketOwnerEnforced"))
    };
    let tls = async {
        if !repair(DRIFT_TLS) {
            return Ok(None);
        }
        let ours = [policy::deny_insecure_transport(ctx.partition(), name)];
        if created_now {
            put_policy(ctx, name, policy::merge(None, "", &ours)?).await?;
        } else {
            merge_policy(ctx, name, &ours).await?;
        }
        Ok(Some("bucket policy denies non-TLS requests"))
    };
    let (t, a, b, c, d) = tokio::join!(tags, public_access, encryption, ownership_controls, tls);
    for change in [t?, a?, b?, c?, d?].into_iter().flatten() {
        applied.changes.push(change.into());
    }
    Ok(applied)
}

async fn create(
    ctx: &StackContext,
    name: &str,
) -> Result<(), SdkError<CreateBucketError, aws_smithy_runtime_api::http::Response>> {
    create_bucket(&ctx.clients.s3, name, &ctx.region).await
}

/// Creates a bucket in `region` with BucketOwnerEnforced ownership (set in the create call).
pub(crate) async fn create_bucket(
    s3: &Client,
    name: &str,
    region: &str,
) -> Result<(), SdkError<CreateBucketError, aws_smithy_runtime_api::http::Response>> {
    let mut request = s3
        .create_bucket()
        .bucket(name)
        .object_ownership(ObjectOwnership::BucketOwnerEnforced);
    // us-east-1 is the one region that must not be named (S3 answers InvalidLocationConstraint).
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request.send().await.map(|_| ())
}

/// Ownership controls of one rule.
fn ownership_controls(ownership: ObjectOwnership) -> Result<OwnershipControls, StepError> {
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ownership)
        .build()
        .map_err(|e| StepError::with_source("building the ownership rule", e))?;
    OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(|e| StepError::with_source("building the ownership controls", e))
}

/// All four public access blocks on.
pub(crate) fn all_public_access_blocked() -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

/// Default encryption with S3-managed keys (SSE-S3).
pub(crate) fn sse_s3() -> Result<ServerSideEncryptionConfiguration, StepError> {
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| StepError::with_source("building the encryption rule", e))?;
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(|e| StepError::with_source("building the encryption configuration", e))
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
// restore

/// Puts back, on an adopted bucket, each setting `up` changed, as recorded before the change.
pub(crate) async fn restore(
    ctx: &StackContext,
    spec: &BucketSpec,
    recorded: &Recorded,
) -> Result<Vec<String>, StepError> {
    let s3 = &ctx.clients.s3;
    let name = ctx.name(spec.id);
    let owner = ctx.account.as_str();
    let originals = Originals::of(recorded);
    let bad = |setting: &str| {
        StepError::msg(format!(
            "the recorded {setting} of bucket {name} in the state cannot be read back"
        ))
    };
    let public_access = originals
        .put_back(
            DRIFT_PUBLIC_ACCESS,
            "public access block",
            || async {
                s3.delete_public_access_block()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .context(|| format!("removing the public access block of bucket {name}"))
                    .map(drop)
            },
            |was| async move {
                s3.put_public_access_block()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .public_access_block_configuration(public_access_block(&was))
                    .send()
                    .await
                    .context(|| format!("restoring the public access block of bucket {name}"))?;
                Ok("public access block".to_string())
            },
        )
        .await?;
    let encryption = originals
        .put_back(
            DRIFT_ENCRYPTION,
            "default encryption",
            || async {
                s3.delete_bucket_encryption()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .context(|| format!("removing the default encryption of bucket {name}"))
                    .map(drop)
            },
            |was| async move {
                let configuration =
                    encryption_configuration(&was).ok_or_else(|| bad("default encryption"))??;
                s3.put_bucket_encryption()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .server_side_encryption_configuration(configuration)
                    .send()
                    .await
                    .context(|| format!("restoring the default encryption of bucket {name}"))?;
                Ok("default encryption".to_string())
            },
        )
        .await?;
    let ownership = originals
        .put_back(
            DRIFT_OWNERSHIP,
            "ownership controls",
            || async {
                s3.delete_bucket_ownership_controls()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .context(|| format!("removing the ownership controls of bucket {name}"))
                    .map(drop)
            },
            |was| async move {
                let ownership = was.as_str().ok_or_else(|| bad("object ownership"))?;
                let controls = ownership_controls(ObjectOwnership::from(ownership))?;
                s3.put_bucket_ownership_controls()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .ownership_controls(controls)
                    .send()
                    .await
                    .context(|| format!("restoring the object ownership of bucket {name}"))?;
                Ok(format!("object ownership {ownership}"))
            },
        )
        .await?;
    let policy = originals
        .put_back(
            ORIGINAL_POLICY,
            "bucket policy",
            || async {
                s3.delete_bucket_policy()
                    .bucket(name)
                    .expected_bucket_owner(owner)
                    .send()
                    .await
                    .context(|| format!("removing the policy of bucket {name}"))
                    .map(drop)
            },
            |was| async move {
                let text = was.as_str().ok_or_else(|| bad("policy"))?;
                put_policy(ctx, name, text.to_string()).await?;
                Ok("bucket policy".to_string())
            },
        )
        .await?;
    Ok([public_access, encryption, ownership, policy]
        .into_iter()
        .flatten()
        .collect())
}

/// A recorded public access block (`GetPublicAccessBlock`'s four flags) as S3 takes it back.
fn public_access_block(was: &serde_json::Value) -> PublicAccessBlockConfiguration {
    let flag = |key: &str| was.get(key).and_then(serde_json::Value::as_bool);
    PublicAccessBlockConfiguration::builder()
        .set_block_public_acls(flag("BlockPublicAcls"))
        .set_ignore_public_acls(flag("IgnorePublicAcls"))
        .set_block_public_policy(flag("BlockPublicPolicy"))
        .set_restrict_public_buckets(flag("RestrictPublicBuckets"))
        .build()
}

/// A recorded default encryption (its rules) as S3 takes it back; `None` when the record is
/// not a list of rules.
fn encryption_configuration(
    was: &serde_json::Value,
) -> Option<Result<ServerSideEncryptionConfiguration, StepError>> {
    let rules = was.as_array()?.iter().map(|rule| {
        let text = |key: &str| rule.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let by_default = match text("SSEAlgorithm") {
            Some(algorithm) => Some(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::from(algorithm.as_str()))
                    .set_kms_master_key_id(text("KMSMasterKeyID"))
                    .build()
                    .map_err(|e| StepError::with_source("building the encryption rule", e))?,
            ),
            None => None,
        };
        Ok(ServerSideEncryptionRule::builder()
            .set_apply_server_side_encryption_by_default(by_default)
            .set_bucket_key_enabled(rule.get("BucketKeyEnabled").and_then(|v| v.as_bool()))
            .build())
    });
    Some(
        rules
            .collect::<Result<Vec<_>, StepError>>()
            .and_then(|rules| {
                ServerSideEncryptionConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()
                    .map_err(|e| StepError::with_source("building the encryption configuration", e))
            }),
    )
}

// ---------------------------------------------------------------------------------------
// destroy

/// `--keep-buckets` keeps the stack's buckets (source, destination, failures) and every object in them.
pub(crate) fn kept_by(options: &DestroyOptions) -> Option<String> {
    options
        .keep_buckets
        .then(|| "kept with its objects: --keep-buckets".to_string())
}

pub(crate) async fn destroy(
    ctx: &StackContext,
    spec: &BucketSpec,
    options: &DestroyOptions,
) -> Result<Destroyed, StepError> {
    let name = ctx.name(spec.id);
    if let Some(reason) = kept_by(options) {
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

#[derive(Debug, PartialEq, Eq)]
enum Emptied {
    Empty,
    BucketGone,
}

/// Deletes every object version, delete marker and unfinished multipart upload: a bucket
/// with any of them cannot be deleted, and forgotten upload parts are billed.
async fn empty(ctx: &StackContext, name: &str) -> Result<Emptied, StepError> {
    // Independent of each other: listed together, one round instead of two in every `down`.
    let (emptied, ()) = tokio::try_join!(delete_versions(ctx, name), abort_uploads(ctx, name))?;
    Ok(emptied)
}

/// Deletes every object version and delete marker.
async fn delete_versions(ctx: &StackContext, name: &str) -> Result<Emptied, StepError> {
    let s3 = &ctx.clients.s3;
    let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
    loop {
        // ListObjectVersions pages on two markers: the SDK has no paginator for it.
        let Some(page) = s3
            .list_object_versions()
            .bucket(name)
            .expected_bucket_owner(&ctx.account)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .found(Service::S3, || {
                format!("listing the objects of bucket {name}")
            })?
        else {
            return Ok(Emptied::BucketGone);
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let objects = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                Some(
                    ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version.map(str::to_string))
                        .build(),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StepError::with_source("building the delete request", e))?;
        if !objects.is_empty() {
            delete_batch(ctx, name, objects).await?;
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
    Ok(Emptied::Empty)
}

/// Aborts every unfinished multipart upload (a bucket already gone has none).
async fn abort_uploads(ctx: &StackContext, name: &str) -> Result<(), StepError> {
    let s3 = &ctx.clients.s3;
    let Some(uploads) = s3
        .list_multipart_uploads()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
        .found(Service::S3, || {
            format!("listing unfinished uploads to bucket {name}")
        })?
    else {
        return Ok(());
    };
    for upload in uploads.uploads() {
        if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
            s3.abort_multipart_upload()
                .bucket(name)
                .key(key)
                .upload_id(id)
                .expected_bucket_owner(&ctx.account)
                .send()
                .await
                .context(|| format!("aborting the unfinished upload of {key} to bucket {name}"))?;
        }
    }
    Ok(())
}

/// One DeleteObjects call (at most 1000 keys, which is what one listing page holds).
async fn delete_batch(
    ctx: &StackContext,
    name: &str,
    objects: Vec<ObjectIdentifier>,
) -> Result<(), StepError> {
    let count = objects.len();
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .map_err(|e| StepError::with_source("building the delete request", e))?;
    let out = ctx
        .clients
        .s3
        .delete_objects()
        .bucket(name)
        .expected_bucket_owner(&ctx.account)
        .delete(delete)
        .send()
        .await
        .context(|| format!("deleting {count} object versions from bucket {name}"))?;
    if let Some(first) = out.errors().first() {
        return Err(StepError::msg(format!(
            "deleting objects from bucket {name}: {} of {count} failed, first {}: {} {}",
            out.errors().len(),
            first.key().unwrap_or("?"),
            first.code().unwrap_or("?"),
            first.message().unwrap_or("")
        )));
    }
    Ok(())
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
                ctx: &$crate::StackContext,
                recorded: Option<&$crate::Recorded>,
            ) -> Result<$crate::Observation, $crate::StepError> {
                $crate::resources::bucket::observe(ctx, &$bucket, recorded).await
            }
            async fn apply(
                &self,
                ctx: &$crate::StackContext,
                observation: &$crate::Observation,
                ownership: Option<$crate::Ownership>,
            ) -> Result<$crate::Applied, $crate::StepError> {
                $crate::resources::bucket::apply(ctx, &$bucket, observation, ownership).await
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
                ctx: &$crate::StackContext,
                _recorded: Option<&$crate::Recorded>,
                options: &$crate::step::DestroyOptions,
            ) -> Result<$crate::Destroyed, $crate::StepError> {
                $crate::resources::bucket::destroy(ctx, &$bucket, options).await
            }
        }
    };
}
pub(crate) use bucket_step;

/// The IAM actions of `observe`, `apply` and `destroy` above, on bucket `id`.
pub(crate) const fn permissions(id: crate::naming::ResourceId) -> [crate::grant::Grant; 6] {
    use crate::grant::{Grant, Phase, Target};
    [
        Grant::new(
            Phase::Observe,
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
        Grant::new(
            Phase::Apply,
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
        Grant::new(
            Phase::Destroy,
            &[
                "s3:PutBucketPublicAccessBlock",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
            ],
            Target::Bucket(id),
        ),
        Grant::new(
            Phase::Destroy,
            &[
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
                "s3:DeleteBucket",
            ],
            Target::Bucket(id),
        ),
        // DeleteObjects is authorized per object, as DeleteObject / DeleteObjectVersion.
        Grant::new(
            Phase::Destroy,
            &["s3:DeleteObject", "s3:DeleteObjectVersion"],
            Target::Objects(id),
        ),
        Grant::new(
            Phase::Destroy,
            &["s3:AbortMultipartUpload"],
            Target::Objects(id),
        ),
    ]
}
