//! The secure settings a bucket is created with.

use super::*;

pub(super) async fn create(
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
pub(super) fn ownership_controls(
    ownership: ObjectOwnership,
) -> Result<OwnershipControls, StepError> {
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
