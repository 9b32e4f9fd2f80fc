//! Putting back the settings `up` changed on an adopted bucket.

use super::*;

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
    let bad = |setting: &str| unreadable(name, setting);
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
    let policy = put_back_policy(ctx, name, &originals).await?;
    Ok([public_access, encryption, ownership, policy]
        .into_iter()
        .flatten()
        .collect())
}

/// A recorded setting the state holds in a form S3 cannot take back.
fn unreadable(name: &str, setting: &str) -> StepError {
    StepError::msg(format!(
        "the recorded {setting} of bucket {name} in the state cannot be read back"
    ))
}

/// Puts back the bucket policy of adopted bucket `name` as recorded (removed when it had
/// none).
async fn put_back_policy(
    ctx: &StackContext,
    name: &str,
    originals: &Originals,
) -> Result<Option<String>, StepError> {
    let s3 = &ctx.clients.s3;
    let owner = ctx.account.as_str();
    originals
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
                let text = was.as_str().ok_or_else(|| unreadable(name, "policy"))?;
                put_policy(ctx, name, text.to_string()).await?;
                Ok("bucket policy".to_string())
            },
        )
        .await
}

/// A recorded public access block (`GetPublicAccessBlock`'s four flags) as S3 takes it back.
pub(super) fn public_access_block(was: &serde_json::Value) -> PublicAccessBlockConfiguration {
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
pub(super) fn encryption_configuration(
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
