//! The page's objects in the destination bucket: read (HeadObject) and written (PutObject,
//! DeleteObject) one call per file, all at once; each carries its bytes' SHA-256 and the
//! stack that put it.

use crate::resources::prelude::*;
use tokio::task::JoinSet;

use super::files::{body, sha256_hex, PageFile, FILES};

/// Object metadata (`x-amz-meta-…`): the SHA-256 of the bytes, and the stack that put them.
const META_SHA256: &str = "cattube-sha256";
const META_STACK: &str = "cattube-stack";

/// The state's `extra` key of the ETag of the object cattube wrote at `key`.
pub(super) fn etag_key(key: &str) -> String {
    format!("etag:{key}")
}

pub(super) fn bucket(ctx: &StackContext) -> &str {
    ctx.name(crate::destination_bucket::ID)
}

/// What HeadObject says of one file.
#[derive(Clone, Debug)]
pub(super) struct Live {
    sha256: Option<String>,
    content_type: Option<String>,
    cache_control: Option<String>,
    pub(super) stack: Option<String>,
    pub(super) etag: Option<String>,
}

impl Live {
    /// Whether cattube wrote this object: it carries this stack's mark, or the ETag the
    /// state recorded when cattube put it. Anything else is someone else's, never
    /// overwritten or deleted.
    pub(super) fn written_by(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
        key: &str,
    ) -> bool {
        self.stack.as_deref() == Some(ctx.stack.as_str())
            || recorded
                .and_then(|r| r.extra.get(&etag_key(key)))
                .is_some_and(|etag| self.etag.as_deref() == Some(etag.as_str()))
    }

    /// How the live object differs from `file`, if it does.
    pub(super) fn difference(&self, file: &PageFile, source_url: &str) -> Option<String> {
        let wanted_sha = sha256_hex(&body(file, source_url));
        if self.sha256.as_deref() != Some(wanted_sha.as_str()) {
            Some(format!("{} differs from this cattube's page", file.key))
        } else if self.content_type.as_deref() != Some(file.content_type) {
            Some(format!(
                "{} has Content-Type {}, wanted {}",
                file.key,
                self.content_type.as_deref().unwrap_or("none"),
                file.content_type
            ))
        } else if self.cache_control.as_deref() != Some(file.cache_control) {
            Some(format!(
                "{} has Cache-Control {}, wanted {}",
                file.key,
                self.cache_control.as_deref().unwrap_or("none"),
                file.cache_control
            ))
        } else {
            None
        }
    }
}

/// Every file of [`FILES`], in its order: `None` where there is no object.
pub(super) async fn read(ctx: &StackContext) -> Result<Vec<Option<Live>>, StepError> {
    let mut tasks = JoinSet::new();
    for (i, file) in FILES.iter().enumerate() {
        let (s3, bucket, account) = (
            ctx.clients.s3.clone(),
            bucket(ctx).to_string(),
            ctx.account.clone(),
        );
        tasks.spawn(async move {
            let head = s3
                .head_object()
                .bucket(&bucket)
                .key(file.key)
                .expected_bucket_owner(account)
                .send()
                .await;
            let live = head
                .found(Service::S3, || {
                    format!("reading s3://{bucket}/{}", file.key)
                })
                .map(|head| {
                    head.map(|out| {
                        let meta = |k: &str| out.metadata().and_then(|m| m.get(k)).cloned();
                        Live {
                            sha256: meta(META_SHA256),
                            content_type: out.content_type().map(str::to_string),
                            cache_control: out.cache_control().map(str::to_string),
                            stack: meta(META_STACK),
                            etag: out.e_tag().map(str::to_string),
                        }
                    })
                });
            (i, live)
        });
    }
    let mut found = vec![None; FILES.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, live) = joined.map_err(|e| StepError::with_source("reading the player", e))?;
        found[i] = live?;
    }
    Ok(found)
}

/// Runs one S3 call per file of `files` at once.
pub(super) async fn each<F, Fut, T>(
    ctx: &StackContext,
    files: Vec<&'static PageFile>,
    call: F,
) -> Result<Vec<T>, StepError>
where
    F: Fn(aws_sdk_s3::Client, String, String, &'static PageFile) -> Fut,
    Fut: std::future::Future<Output = Result<T, StepError>> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    for file in files {
        tasks.spawn(call(
            ctx.clients.s3.clone(),
            bucket(ctx).to_string(),
            ctx.account.clone(),
            file,
        ));
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|e| StepError::with_source("writing the player", e))??);
    }
    Ok(results)
}

pub(super) async fn put(
    s3: aws_sdk_s3::Client,
    bucket: String,
    account: String,
    file: &'static PageFile,
    stack: String,
    source_url: String,
) -> Result<(&'static str, Option<String>), StepError> {
    let bytes = body(file, &source_url);
    let sha256 = sha256_hex(&bytes);
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(file.key)
        .expected_bucket_owner(account)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .content_type(file.content_type)
        .cache_control(file.cache_control)
        .metadata(META_SHA256, sha256)
        .metadata(META_STACK, stack)
        .send()
        .await
        .context(|| format!("uploading s3://{bucket}/{}", file.key))?;
    Ok((file.key, put.e_tag().map(str::to_string)))
}

pub(super) async fn delete(
    s3: aws_sdk_s3::Client,
    bucket: String,
    account: String,
    file: &'static PageFile,
) -> Result<(), StepError> {
    s3.delete_object()
        .bucket(&bucket)
        .key(file.key)
        .expected_bucket_owner(account)
        .send()
        .await
        .found(Service::S3, || {
            format!("deleting s3://{bucket}/{}", file.key)
        })
        .map(|_| ())
}
