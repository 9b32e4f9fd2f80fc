//! `cattube upload`'s requests: one PutObject below [`MULTIPART_THRESHOLD`], otherwise a
//! multipart upload whose parts are read from disk as they are sent; every request of one
//! command shares one bound ([`Slots`]).

use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use tokio::task::JoinSet;

use super::content_type;
use crate::error::{AwsContext, AwsError};
use crate::{StackContext, StepError};

/// Files this large or larger go up as a multipart upload.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// The size of each part (S3: at least 5 MiB but the last, at most 10,000 parts).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Requests of one `upload` command in flight at once, parts and files together (the AWS
/// CLI's default `max_concurrent_requests`): enough to fill a link with latency, a bound on
/// memory and connections whatever the number or size of the files.
pub const REQUESTS_IN_FLIGHT: usize = 10;

/// Receives the bytes of a file just sent (called as parts finish).
pub type Sent = Arc<dyn Fn(u64) + Send + Sync>;

/// What files uploaded together share.
#[derive(Clone)]
pub struct Slots {
    /// The bound on requests in flight (see [`REQUESTS_IN_FLIGHT`]): each PutObject,
    /// multipart start, part and completion holds a permit while it is sent.
    requests: Arc<tokio::sync::Semaphore>,
    /// Held by the one multipart upload whose parts are being started, until it has started
    /// its last: parts go out file after file (as the AWS CLI's transfer queue sends them),
    /// so each file is completed while the next one's parts are sent, instead of every file
    /// advancing together and all completing at the end.
    starting_parts: Arc<tokio::sync::Mutex<()>>,
}

/// Fresh [`Slots`]: [`REQUESTS_IN_FLIGHT`] permits.
pub fn slots() -> Slots {
    Slots {
        requests: Arc::new(tokio::sync::Semaphore::new(REQUESTS_IN_FLIGHT)),
        starting_parts: Arc::default(),
    }
}

async fn slot(slots: &Slots) -> tokio::sync::OwnedSemaphorePermit {
    slots
        .requests
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed")
}

/// Puts `path` (`size` bytes) at `key` in the source bucket: one PutObject below
/// [`MULTIPART_THRESHOLD`], otherwise a multipart upload of [`PART_SIZE`] parts, each read
/// from disk as it is sent, aborted on failure. Every request waits for a permit of `slots`,
/// so files uploaded together share one bound on requests in flight.
pub async fn upload(
    ctx: &StackContext,
    path: &Path,
    key: &str,
    size: u64,
    sent: Sent,
    slots: &Slots,
) -> Result<(), StepError> {
    let file = FileUpload {
        ctx,
        bucket: ctx.name(crate::source_bucket::ID),
        key,
        path,
        size,
        sent,
        slots,
    };
    if size < MULTIPART_THRESHOLD {
        file.put_object().await
    } else {
        file.multipart().await
    }
}

/// One file on its way to its key: what each of its requests names.
struct FileUpload<'a> {
    ctx: &'a StackContext,
    bucket: &'a str,
    key: &'a str,
    path: &'a Path,
    size: u64,
    sent: Sent,
    slots: &'a Slots,
}

impl FileUpload<'_> {
    /// `length` bytes of the file from `offset`, streamed from disk as they are sent.
    async fn read(&self, offset: u64, length: u64) -> Result<ByteStream, StepError> {
        ByteStream::read_from()
            .path(self.path)
            .offset(offset)
            .length(Length::Exact(length))
            .build()
            .await
            .map_err(|e| StepError::with_source(format!("reading {}", self.path.display()), e))
    }

    async fn put_object(&self) -> Result<(), StepError> {
        let (bucket, key) = (self.bucket, self.key);
        let _permit = slot(self.slots).await;
        self.ctx
            .clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type(self.path))
            .content_length(self.size as i64)
            .expected_bucket_owner(&self.ctx.account)
            .body(self.read(0, self.size).await?)
            .send()
            .await
            .context(|| format!("uploading s3://{bucket}/{key}"))?;
        (self.sent)(self.size);
        Ok(())
    }

    /// Starts the multipart upload, sends its parts and completes it; aborts it when any of
    /// that fails, since the parts of an unfinished upload are stored (and billed) until
    /// aborted.
    async fn multipart(&self) -> Result<(), StepError> {
        let upload_id = self.start().await?;
        let done = async {
            let parts = self.send_parts(&upload_id).await?;
            self.complete(&upload_id, parts).await
        }
        .await;
        match done {
            Ok(()) => Ok(()),
            Err(err) => Err(self.abort(&upload_id, err).await),
        }
    }

    async fn start(&self) -> Result<String, StepError> {
        let (bucket, key) = (self.bucket, self.key);
        let permit = slot(self.slots).await;
        let created = self
            .ctx
            .clients
            .s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type(self.path))
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .expected_bucket_owner(&self.ctx.account)
            .send()
            .await
            .context(|| format!("starting the multipart upload of s3://{bucket}/{key}"))?;
        drop(permit);
        let upload_id = created.upload_id().ok_or_else(|| {
            StepError::msg(format!("S3 gave no upload id for s3://{bucket}/{key}"))
        })?;
        Ok(upload_id.to_string())
    }

    /// Every part, in order. A part is opened only once it has a permit, so at most
    /// [`REQUESTS_IN_FLIGHT`] parts (of all files) are read at once, each streamed from disk
    /// as it is sent; while waiting for one, finished parts are collected.
    async fn send_parts(&self, upload_id: &str) -> Result<Vec<CompletedPart>, StepError> {
        let count = self.size.div_ceil(PART_SIZE);
        let mut done: Vec<CompletedPart> = Vec::with_capacity(count as usize);
        let mut tasks = JoinSet::new();
        let mut next = 0u64;
        // This file's turn to start parts (fair: in the order files asked).
        let mut turn = Some(self.slots.starting_parts.lock().await);
        loop {
            if next == count {
                // Every part started: the next file may start its own.
                turn.take();
            }
            let permit = if next == count {
                match tasks.join_next().await {
                    Some(joined) => {
                        done.push(finished_part(joined)?);
                        continue;
                    }
                    None => break,
                }
            } else if tasks.is_empty() {
                slot(self.slots).await
            } else {
                tokio::select! {
                    permit = slot(self.slots) => permit,
                    Some(joined) = tasks.join_next() => {
                        done.push(finished_part(joined)?);
                        continue;
                    }
                }
            };
            let offset = next * PART_SIZE;
            let length = PART_SIZE.min(self.size - offset);
            let number = (next + 1) as i32;
            let request = self
                .ctx
                .clients
                .s3
                .upload_part()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(length as i64)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .expected_bucket_owner(&self.ctx.account)
                .body(self.read(offset, length).await?);
            let sent = self.sent.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let out = request
                    .send()
                    .await
                    .context(|| format!("uploading part {number}"))?;
                sent(length);
                Ok::<_, StepError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                        .build(),
                )
            });
            next += 1;
        }
        done.sort_by_key(|p| p.part_number());
        Ok(done)
    }

    async fn complete(&self, upload_id: &str, parts: Vec<CompletedPart>) -> Result<(), StepError> {
        let (bucket, key) = (self.bucket, self.key);
        let _permit = slot(self.slots).await;
        self.ctx
            .clients
            .s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .expected_bucket_owner(&self.ctx.account)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .context(|| format!("completing the multipart upload of s3://{bucket}/{key}"))?;
        Ok(())
    }

    /// The upload's error, once its parts were aborted (or saying that aborting failed too).
    async fn abort(&self, upload_id: &str, err: StepError) -> StepError {
        let aborted = self
            .ctx
            .clients
            .s3
            .abort_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(upload_id)
            .expected_bucket_owner(&self.ctx.account)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e));
        StepError::with_source(
            format!(
                "uploading s3://{}/{} ({})",
                self.bucket,
                self.key,
                abort_outcome(upload_id, aborted)
            ),
            err,
        )
    }
}

/// A finished part's task: its part, or why it failed.
fn finished_part(
    joined: Result<Result<CompletedPart, StepError>, tokio::task::JoinError>,
) -> Result<CompletedPart, StepError> {
    joined.map_err(|e| StepError::with_source("uploading a part", e))?
}

/// What became of the parts of a failed multipart upload, for its error message: only an
/// abort S3 confirmed says they are gone.
fn abort_outcome<T, E: std::fmt::Display>(upload_id: &str, aborted: Result<T, E>) -> String {
    match aborted {
        Ok(_) => "the multipart upload was aborted".into(),
        Err(e) => format!(
            "aborting the multipart upload {upload_id} failed too ({e}): its parts are kept \
             and billed until it is aborted (`cattube down` removes the bucket with them)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_abort_is_not_reported_as_aborted() {
        assert_eq!(
            abort_outcome::<(), &str>("u1", Ok(())),
            "the multipart upload was aborted"
        );
        let failed = abort_outcome::<(), _>("u1", Err("AccessDenied: no"));
        assert!(!failed.contains("was aborted"), "{failed}");
        assert!(
            failed.contains("aborting the multipart upload u1 failed too (AccessDenied: no)"),
            "{failed}"
        );
    }
}
