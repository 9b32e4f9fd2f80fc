//! Stage 8: upload cat videos, check the jobs, watch them through CloudFront.
//!
//! Not a [`crate::Step`]: these are the things a user does with a stack that is up. Uploads
//! go to the source bucket (one PutObject, or a multipart upload with parallel parts for
//! large files, read from disk part by part); jobs are the stack queue's, newest first; the
//! URLs of a source key's outputs are derived from the live job template (output group
//! types, name modifiers, extensions, containers) the way the converter function names them:
//! in the key's folder, with the key's base name (`cats/tabby cat.mp4` →
//! `cats/tabby cat-hd.mp4`, `cats/tabby cat-sd.mp4`).
//!
//! One concept a file: `keys` (a file's object key), `cdn` (the URLs cattube prints),
//! `outputs` (what the job template names), `playback` (is the stack up, and where its
//! outputs play), `upload` (PutObject or multipart), `etag` (is a file already there),
//! `jobs` (the queue's jobs).

mod cdn;
mod etag;
mod jobs;
mod keys;
mod outputs;
mod playback;
mod upload;

pub use cdn::{cdn_origin, cdn_url};
pub use etag::{already_uploaded, expected_etag};
pub(crate) use jobs::list_jobs_error;
pub use jobs::{decode_metadata_key, jobs, JobInfo};
pub use keys::{content_type, folder_key, object_key, upload_key, KeyError, MAX_KEY_BYTES};
pub use outputs::{output_keys, output_names, video_prefix, OutputName};
pub use playback::{
    check_source, distribution_domain, exist, playback, uploaded, OutputUrl, Playback,
    UPLOAD_BUCKET, UPLOAD_DISTRIBUTION, UPLOAD_JOB_TEMPLATE, UPLOAD_OBJECTS,
};
pub use upload::{slots, upload, Sent, Slots, MULTIPART_THRESHOLD, PART_SIZE, REQUESTS_IN_FLIGHT};

use crate::{StackContext, StepError};

/// Why a stage-8 command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The stack (or the part of it this command needs) does not exist: nothing was changed,
    /// and `cattube up` is the remedy. The message says what is missing.
    #[error("{0}")]
    NotUp(String),
    #[error(transparent)]
    Aws(#[from] StepError),
}

fn not_up(ctx: &StackContext, what: String) -> VideoError {
    VideoError::NotUp(format!(
        "stack {} is not up in {}: {what}; run `cattube up` first",
        ctx.stack, ctx.region
    ))
}
