//! Emptying a bucket before it is deleted: every version, delete marker and unfinished
//! multipart upload.

use super::*;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Emptied {
    Empty,
    BucketGone,
}

/// Deletes every object version, delete marker and unfinished multipart upload: a bucket
/// with any of them cannot be deleted, and forgotten upload parts are billed.
pub(super) async fn empty(ctx: &StackContext, name: &str) -> Result<Emptied, StepError> {
    // Independent of each other: listed together, one round instead of two in every `down`.
    let (emptied, ()) = tokio::try_join!(delete_versions(ctx, name), abort_uploads(ctx, name))?;
    Ok(emptied)
}

/// Deletes every object version and delete marker.
pub(super) async fn delete_versions(ctx: &StackContext, name: &str) -> Result<Emptied, StepError> {
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
pub(super) async fn abort_uploads(ctx: &StackContext, name: &str) -> Result<(), StepError> {
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
pub(super) async fn delete_batch(
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
