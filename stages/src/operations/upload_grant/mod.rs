//! `cattube upload-url`: upload grants, so that someone without AWS credentials (a browser,
//! a CI job, `curl`) can put one video in the source bucket, and nothing else.
//!
//! - A **POST grant** is S3's browser-based upload (a presigned POST, AWS Signature Version
//!   4): a form whose policy, signed with the caller's credentials, pins the key (or a
//!   per-grant prefix under `incoming/`), the content-length range, the content type and the
//!   expiry. S3 refuses a form that breaks any condition, or whose fields the policy does not
//!   cover.
//! - A **multipart grant** is a multipart upload cattube starts for the key, with a presigned
//!   UploadPart URL per part and a presigned CompleteMultipartUpload: parts go up in
//!   parallel, and a failed part is sent again with its own URL. Each part's URL signs its
//!   exact Content-Length (S3 refuses a request whose signed headers differ) and there is a
//!   URL for each of the grant's parts only, so the upload is at most the grant's size. An
//!   upload never completed is aborted by the source bucket's lifecycle rule
//!   ([`crate::source_lifecycle`]).
//!
//! Nothing here is stored: a grant is only as strong as the credentials that signed it, and
//! lasts at most as long as they do (temporary credentials end sooner than `--expires`).

mod multipart;
mod post;

pub use multipart::{
    multipart_grant, signs_content_length, MultipartGrant, PartLayout, DEFAULT_PART_BYTES,
    MAX_OBJECT_BYTES, MAX_PARTS, MAX_PART_BYTES, MIN_PART_BYTES,
};
pub use post::{
    curl_line, describe_refusal, post_grant, post_policy, shell_quote, sign_post, ContentTypes,
    GrantRequest, Keys, PostGrant, INCOMING, MAX_POST_BYTES,
};

use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;

use crate::grant::{Grant, Target};
use crate::{source_bucket, StackContext, StepError};

/// What minting a grant needs: `s3:PutObject` on the granted keys (the signer's permission is
/// what S3 checks when the grant is used), and for multipart grants the create call.
pub const GRANT_OBJECTS: Grant =
    Grant::apply(&["s3:PutObject"], Target::Objects(source_bucket::ID));

/// S3 limits a presigned URL to seven days (SigV4); a POST policy may say more, but the same
/// bound keeps every grant alike.
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// A fresh grant id: 16 random bytes, hex.
pub fn grant_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

async fn credentials(ctx: &StackContext) -> Result<Credentials, StepError> {
    let provider = ctx
        .clients
        .credentials
        .as_ref()
        .ok_or_else(|| StepError::msg("no AWS credentials to sign the grant with"))?;
    provider
        .provide_credentials()
        .await
        .map_err(|e| StepError::with_source("resolving the AWS credentials to sign with", e))
}
