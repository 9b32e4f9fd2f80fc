//! Stage 1-2 buckets, observe: whether the bucket is there and this stack's, and how its
//! settings drifted from the secure ones.

use super::*;

// ---------------------------------------------------------------------------------------
// observe

pub(crate) async fn observe(
    ctx: &ObserveContext<'_>,
    spec: &BucketSpec,
) -> StepResult<Observation> {
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
    let ours = tagged_ours || ctx.recorded.is_some_and(|r| r.ownership.is_ours());

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
pub(super) type Answer<O, E> = Result<O, SdkError<E, aws_smithy_runtime_api::http::Response>>;

/// Whether the bucket exists, and is this stack's to use (this account, this region).
pub(super) fn exists(
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

pub(super) fn live_tags(
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

pub(super) fn public_access_drift(
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

pub(super) fn encryption_drift(
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

pub(super) fn ownership_drift(
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

pub(super) fn tls_drift(
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
pub(super) fn encryption_json(rules: &[ServerSideEncryptionRule]) -> serde_json::Value {
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
