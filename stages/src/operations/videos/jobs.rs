//! The jobs of the stack's queue, newest first, each tied to its source key by the
//! UserMetadata the converter function writes.

use aws_sdk_mediaconvert::types::{JobStatus, Order};
use aws_smithy_types::date_time::Format;
use sha2::{Digest, Sha256};

use super::{not_up, VideoError};
use crate::error::AwsError;
use crate::{arn, Service, StackContext, StepError};

/// ListJobs returns at most this many jobs per page.
const JOBS_PAGE: usize = 20;

/// One job of the stack's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobInfo {
    pub id: String,
    /// The source key the converter recorded in the job's UserMetadata; only its start,
    /// ending in "…", when it was too long for it (then `source_key_sha256` is set).
    pub source_key: Option<String>,
    /// SHA-256 (hex) of the whole source key, when `source_key` holds only its start.
    pub source_key_sha256: Option<String>,
    /// SUBMITTED, PROGRESSING, COMPLETE, CANCELED or ERROR.
    pub status: String,
    /// Percent complete: while PROGRESSING as MediaConvert reports it, 0 while SUBMITTED,
    /// 100 once COMPLETE, none for a failed or cancelled job.
    pub percent: Option<i32>,
    /// When the job was submitted, RFC 3339.
    pub submitted: Option<String>,
    pub error: Option<String>,
}

impl JobInfo {
    pub fn unfinished(&self) -> bool {
        matches!(self.status.as_str(), "SUBMITTED" | "PROGRESSING")
    }

    /// Whether this job converts source key `key`, exactly (by its hash for a long key).
    pub fn is_for(&self, key: &str) -> bool {
        match &self.source_key_sha256 {
            Some(hash) => format!("{:x}", Sha256::digest(key.as_bytes())) == *hash,
            None => self.source_key.as_deref() == Some(key),
        }
    }
}

/// The UserMetadata the converter writes (lambda-artifact/handler.py `user_metadata`).
const METADATA_KEY: &str = "cattube:source-key";
const METADATA_KEY_SHA256: &str = "cattube:source-key-sha256";

/// The inverse of handler.py's `encode_metadata_key`: "=XX" (upper-case hex) is one UTF-8
/// byte, anything else stands for itself. MediaConvert's UserMetadata cannot hold every
/// character an S3 key may have, so the converter stores the key escaped.
pub fn decode_metadata_key(value: &str) -> String {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some(ch) = rest.chars().next() {
        let escape = rest.get(1..3).filter(|h| {
            ch == '='
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        });
        match escape.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                bytes.push(byte);
                rest = &rest[3..];
            }
            None => {
                bytes.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                rest = &rest[ch.len_utf8()..];
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The newest `limit` jobs of the stack's queue, newest first.
pub async fn jobs(ctx: &StackContext, limit: usize) -> Result<Vec<JobInfo>, VideoError> {
    let queue = arn::queue(ctx, crate::queue::ID);
    let mut pages = ctx
        .clients
        .mediaconvert
        .list_jobs()
        .queue(&queue)
        .order(Order::Descending)
        .max_results(limit.clamp(1, JOBS_PAGE) as i32)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while found.len() < limit {
        let Some(page) = pages.next().await else {
            break;
        };
        let page = page.map_err(|e| list_jobs_error(ctx, &e))?;
        found.extend(page.jobs().iter().map(job_info));
    }
    found.truncate(limit);
    Ok(found)
}

/// A ListJobs failure: a missing queue means the stack is not up.
pub(crate) fn list_jobs_error(
    ctx: &StackContext,
    e: &aws_sdk_mediaconvert::error::SdkError<
        aws_sdk_mediaconvert::operation::list_jobs::ListJobsError,
        aws_smithy_runtime_api::http::Response,
    >,
) -> VideoError {
    if Service::MediaConvert.not_found(e) {
        return not_up(
            ctx,
            format!(
                "MediaConvert queue {} does not exist",
                ctx.name(crate::queue::ID)
            ),
        );
    }
    StepError::with_source(
        format!("listing the jobs of queue {}", ctx.name(crate::queue::ID)),
        AwsError::from_sdk(e),
    )
    .into()
}

fn job_info(job: &aws_sdk_mediaconvert::types::Job) -> JobInfo {
    let status = job.status().cloned();
    let percent = match status {
        Some(JobStatus::Complete) => Some(100),
        Some(JobStatus::Progressing) => Some(job.job_percent_complete().unwrap_or(0)),
        Some(JobStatus::Submitted) => Some(0),
        _ => None,
    };
    let submitted = job
        .timing()
        .and_then(|t| t.submit_time())
        .or(job.created_at())
        .and_then(|t| t.fmt(Format::DateTime).ok());
    let metadata = job.user_metadata();
    let source_key_sha256 = metadata.and_then(|m| m.get(METADATA_KEY_SHA256)).cloned();
    let source_key = metadata.and_then(|m| m.get(METADATA_KEY)).map(|v| {
        let key = decode_metadata_key(v);
        match source_key_sha256 {
            Some(_) => format!("{key}…"),
            None => key,
        }
    });
    JobInfo {
        id: job.id().unwrap_or_default().to_string(),
        source_key,
        source_key_sha256,
        status: status
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "UNKNOWN".into()),
        percent,
        submitted,
        error: job.error_message().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_keys_decode_escapes_and_keep_the_rest() {
        assert_eq!(
            decode_metadata_key("cats/tabby cat =281=29.mp4"),
            "cats/tabby cat (1).mp4"
        );
        assert_eq!(
            decode_metadata_key("k=C3=A4tzchen+=25.mp4"),
            "kätzchen+%.mp4"
        );
        // Not an escape (lower-case, short, not hex): kept as it is.
        assert_eq!(decode_metadata_key("a=3d=4=ZZ="), "a=3d=4=ZZ=");
        assert_eq!(decode_metadata_key("Ünï_b"), "Ünï_b");
    }

    #[test]
    fn a_cut_key_is_matched_by_its_hash_and_a_whole_one_exactly() {
        let key = format!("x/{}.mp4", "y".repeat(1018));
        let job = |metadata: &[(&str, &str)]| {
            job_info(
                &aws_sdk_mediaconvert::types::Job::builder()
                    .set_user_metadata(Some(
                        metadata
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                    ))
                    .build(),
            )
        };
        let hash = format!("{:x}", Sha256::digest(key.as_bytes()));
        let cut = job(&[(METADATA_KEY, &key[..256]), (METADATA_KEY_SHA256, &hash)]);
        assert!(cut.is_for(&key));
        assert!(!cut.is_for(&key[..256]) && !cut.is_for(&format!("{key}x")));
        assert_eq!(cut.source_key, Some(format!("{}…", &key[..256])));
        let whole = job(&[(METADATA_KEY, "cats/tabby cat =281=29.mp4")]);
        assert!(whole.is_for("cats/tabby cat (1).mp4"));
        // What the old sanitising stored for that key names another key.
        assert!(!whole.is_for("cats/tabby cat _1_.mp4"));
    }
}
