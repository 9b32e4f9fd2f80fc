//! Stage 8: upload cat videos, check the jobs, watch them through CloudFront.
//!
//! Not a [`crate::Step`]: these are the things a user does with a stack that is up. Uploads
//! go to the source bucket (one PutObject, or a multipart upload with parallel parts for
//! large files, read from disk part by part); jobs are the stack queue's, newest first; the
//! URLs of a source key's outputs are derived from the live job template (output group
//! types, name modifiers, extensions, containers) the way the converter function names them:
//! in the key's folder, with the key's base name (`cats/tabby cat.mp4` →
//! `cats/tabby cat-hd.mp4`, `cats/tabby cat-sd.mp4`).

use crate::error::AwsFound;
use crate::Service;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_mediaconvert::types::{
    JobStatus, JobTemplateSettings, Order, Output as McOutput, OutputGroupType,
};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::date_time::Format;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::error::{AwsContext, AwsError};
use crate::{arn, distribution, StackContext, StepError};

/// Files this large or larger go up as a multipart upload.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// The size of each part (S3: at least 5 MiB but the last, at most 10,000 parts).
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// Requests of one `upload` command in flight at once, parts and files together (the AWS
/// CLI's default `max_concurrent_requests`): enough to fill a link with latency, a bound on
/// memory and connections whatever the number or size of the files.
pub const REQUESTS_IN_FLIGHT: usize = 10;
/// The longest S3 key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// ListJobs returns at most this many jobs per page.
const JOBS_PAGE: usize = 20;

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

// ---------------------------------------------------------------------------------------
// keys, names and URLs (pure)

/// The key of a file inside an uploaded folder: its path below the folder, '/' between the
/// parts; `None` when a part is not UTF-8 (S3 keys are).
pub fn folder_key(inside: &std::path::Path) -> Option<String> {
    let parts: Option<Vec<&str>> = inside.iter().map(|p| p.to_str()).collect();
    parts.map(|p| p.join("/"))
}

/// Why a file cannot be uploaded under its key.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("its key '{0}' is longer than S3's {MAX_KEY_BYTES} bytes")]
    TooLong(String),
}

/// The key of an uploaded file ([`object_key`]), checked against S3's limit.
pub fn upload_key(prefix: Option<&str>, file_name: &str) -> Result<String, KeyError> {
    let key = object_key(prefix, file_name);
    if key.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong(key));
    }
    Ok(key)
}

/// The object key of an uploaded file: its file name below the prefix, a folder (`cats` and
/// `cats/` are the same; leading and repeated slashes are dropped).
pub fn object_key(prefix: Option<&str>, file_name: &str) -> String {
    let folder: Vec<&str> = prefix
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if folder.is_empty() {
        file_name.to_string()
    } else {
        format!("{}/{file_name}", folder.join("/"))
    }
}

/// The content type of a file, from its extension (`video/mp4`, `video/quicktime`…).
pub fn content_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// RFC 3986 path segment: everything but the unreserved characters is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `https://<domain>/<key>`, each path segment of the key percent-encoded (UTF-8), the
/// slashes between them kept: `cats/tabby cat-hd.mp4` → `cats/tabby%20cat-hd.mp4`.
pub fn cdn_url(domain: &str, key: &str) -> String {
    let path: Vec<String> = key
        .split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect();
    format!("{}/{}", cdn_origin(domain), path.join("/"))
}

/// Where a distribution's URLs point: `https://<domain>`, or with `CATTUBE_CDN_ENDPOINT`
/// set to `http://localhost:PORT` (the local cloud, `scripts/local-cloud`), its CloudFront
/// at `http://<domain>.localhost:PORT`: one host per distribution, which curl and browsers
/// resolve to loopback. Every URL cattube prints (up, url, videos, open) goes through this.
pub fn cdn_origin(domain: &str) -> String {
    cdn_origin_at(
        domain,
        std::env::var("CATTUBE_CDN_ENDPOINT").ok().as_deref(),
    )
}

fn cdn_origin_at(domain: &str, endpoint: Option<&str>) -> String {
    match endpoint.and_then(|e| e.split_once("://")) {
        Some((scheme, host)) => format!("{scheme}://{domain}.{}", host.trim_end_matches('/')),
        None => format!("https://{domain}"),
    }
}

/// What one output of the job template adds to the base name: `-hd.mp4`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputName {
    pub suffix: String,
}

/// What every output key of a source key starts with: its folder and base name (the
/// prefix a private stack's signed cookies grant, [`crate::signed::video_resource`]).
pub fn video_prefix(key: &str) -> String {
    output_keys(
        key,
        &[OutputName {
            suffix: String::new(),
        }],
    )
    .pop()
    .unwrap_or_default()
}

/// The output keys of a source key: its folder, its base name (the last segment without its
/// extension, as the converter function passes it to MediaConvert) and each output's suffix.
pub fn output_keys(key: &str, outputs: &[OutputName]) -> Vec<String> {
    let (folder, name) = match key.rsplit_once('/') {
        Some((folder, name)) => (format!("{folder}/"), name),
        None => (String::new(), key),
    };
    // posixpath.splitext: a leading dot does not start an extension (".mp4" stays ".mp4").
    let base = match name.rfind('.') {
        Some(dot) if name[..dot].chars().any(|c| c != '.') => &name[..dot],
        _ => name,
    };
    outputs
        .iter()
        .map(|o| format!("{folder}{base}{}", o.suffix))
        .collect()
}

/// The default extension MediaConvert gives a file output in `container`, when the output
/// sets no `Extension`. RAW outputs are named after their codec.
fn container_extension(container: &str, output: &McOutput) -> String {
    match container {
        "MP4" => "mp4".into(),
        "MOV" => "mov".into(),
        "MKV" => "mkv".into(),
        "WEBM" => "webm".into(),
        "M2TS" => "m2ts".into(),
        "M3U8" => "m3u8".into(),
        "MPD" => "mp4".into(),
        "CMFC" => "mp4".into(),
        "F4V" => "f4v".into(),
        "MXF" => "mxf".into(),
        "GIF" => "gif".into(),
        "OGG" => "ogg".into(),
        "RAW" => raw_extension(output),
        other => other.to_lowercase(),
    }
}

fn raw_extension(output: &McOutput) -> String {
    let video = output
        .video_description()
        .and_then(|v| v.codec_settings())
        .and_then(|c| c.codec())
        .map(|c| c.as_str().to_string());
    if let Some(codec) = video {
        return match codec.as_str() {
            "H_264" => "h264".into(),
            "H_265" => "h265".into(),
            "MPEG2" => "m2v".into(),
            "FRAME_CAPTURE" => "jpg".into(),
            other => other.to_lowercase().replace('_', ""),
        };
    }
    let audio = output
        .audio_descriptions()
        .first()
        .and_then(|a| a.codec_settings())
        .and_then(|c| c.codec())
        .map(|c| c.as_str().to_string());
    if let Some(codec) = audio {
        return match codec.as_str() {
            "VORBIS" => "ogg".into(),
            "WAV" => "wav".into(),
            other => other.to_lowercase(),
        };
    }
    let caption = output
        .caption_descriptions()
        .first()
        .and_then(|c| c.destination_settings())
        .and_then(|d| d.destination_type())
        .map(|d| d.as_str().to_string());
    match caption.as_deref() {
        Some("WEBVTT") => "vtt".into(),
        Some(other) => other.to_lowercase(),
        None => "raw".into(),
    }
}

/// The suffixes of every output the job template writes, in its order: each file group
/// output's name modifier and extension; the manifest of each streaming group (HLS `.m3u8`,
/// DASH `.mpd`, CMAF both, Smooth `.ism`) carrying the group's base name.
pub fn output_names(settings: &JobTemplateSettings) -> Vec<OutputName> {
    let mut names = Vec::new();
    for group in settings.output_groups() {
        let kind = group
            .output_group_settings()
            .and_then(|s| s.r#type())
            .cloned();
        match kind {
            Some(OutputGroupType::FileGroupSettings) => {
                for output in group.outputs() {
                    let extension = match output.extension().filter(|e| !e.is_empty()) {
                        Some(extension) => extension.trim_start_matches('.').to_string(),
                        None => {
                            let container = output
                                .container_settings()
                                .and_then(|c| c.container())
                                .map(|c| c.as_str())
                                .unwrap_or("MP4");
                            container_extension(container, output)
                        }
                    };
                    names.push(OutputName {
                        suffix: format!(
                            "{}.{extension}",
                            output.name_modifier().unwrap_or_default()
                        ),
                    });
                }
            }
            Some(OutputGroupType::HlsGroupSettings) => names.push(OutputName {
                suffix: ".m3u8".into(),
            }),
            Some(OutputGroupType::DashIsoGroupSettings) => names.push(OutputName {
                suffix: ".mpd".into(),
            }),
            Some(OutputGroupType::CmafGroupSettings) => {
                names.push(OutputName {
                    suffix: ".m3u8".into(),
                });
                names.push(OutputName {
                    suffix: ".mpd".into(),
                });
            }
            Some(OutputGroupType::MsSmoothGroupSettings) => names.push(OutputName {
                suffix: ".ism".into(),
            }),
            _ => {}
        }
    }
    names
}

// ---------------------------------------------------------------------------------------
// is the stack up?

// What `upload` calls, as IAM authorizes it (`cattube permissions`): `check_source`,
// `playback`, `already_uploaded` and `upload` below.
use crate::grant::{Grant, Phase, Target};

/// HeadBucket is authorized as ListBucket.
pub const UPLOAD_BUCKET: Grant = Grant::new(
    Phase::Observe,
    &["s3:ListBucket", "s3:GetBucketNotification"],
    Target::Bucket(crate::source_bucket::ID),
);
/// HeadObject is authorized as GetObject; a multipart upload's parts as PutObject.
pub const UPLOAD_OBJECTS: Grant = Grant::new(
    Phase::Apply,
    &["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    Target::Objects(crate::source_bucket::ID),
);
pub const UPLOAD_DISTRIBUTION: Grant = Grant::new(
    Phase::Observe,
    &["cloudfront:GetDistribution"],
    Target::Distributions,
);
pub const UPLOAD_JOB_TEMPLATE: Grant = Grant::new(
    Phase::Observe,
    &["mediaconvert:GetJobTemplate"],
    Target::JobTemplate(crate::job_template::ID),
);

/// Uploads make sense only when the source bucket is this account's and its notification
/// invokes the stack's converter: otherwise nothing would be converted.
pub async fn check_source(ctx: &StackContext) -> Result<(), VideoError> {
    let s3 = &ctx.clients.s3;
    let bucket = ctx.name(crate::source_bucket::ID);
    // Both at once; the bucket's answer is looked at first (a missing or foreign bucket
    // makes the notification's answer moot).
    let (head, notification) = tokio::join!(
        s3.head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .send(),
        crate::source_notification::read(ctx)
    );
    match head {
        Ok(_) => {}
        Err(e) if Service::S3.not_found(&e) => {
            return Err(not_up(ctx, format!("source bucket {bucket} does not exist")))
        }
        Err(e) => {
            return match e.raw_response().map(|r| r.status().as_u16()) {
                Some(403) => Err(VideoError::NotUp(format!(
                    "source bucket {bucket} belongs to another account: set `source-bucket` under [names] in cattube.toml"
                ))),
                _ => Err(StepError::with_source(
                    format!("checking source bucket {bucket}"),
                    AwsError::from_sdk(&e),
                )
                .into()),
            }
        }
    }
    let Some(config) = notification? else {
        return Err(not_up(
            ctx,
            format!("source bucket {bucket} does not exist"),
        ));
    };
    let function = arn::function(ctx, crate::converter_function::ID);
    let notifies = config
        .lambda_function_configurations()
        .iter()
        .any(|c| c.lambda_function_arn() == function);
    if !notifies {
        return Err(not_up(
            ctx,
            format!("source bucket {bucket} does not notify the converter function, so uploads would not be converted"),
        ));
    }
    Ok(())
}

/// Where the outputs of a source key can be watched: the distribution's domain and what the
/// job template writes.
#[derive(Clone, Debug)]
pub struct Playback {
    pub domain: String,
    pub outputs: Vec<OutputName>,
}

/// One output of a source key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputUrl {
    /// Its key in the destination bucket.
    pub key: String,
    pub url: String,
}

impl Playback {
    pub fn urls(&self, source_key: &str) -> Vec<OutputUrl> {
        output_keys(source_key, &self.outputs)
            .into_iter()
            .map(|key| OutputUrl {
                url: cdn_url(&self.domain, &key),
                key,
            })
            .collect()
    }
}

/// The stack's distribution domain and the live job template's outputs, read in parallel.
pub async fn playback(ctx: &StackContext) -> Result<Playback, VideoError> {
    let (domain, outputs) = tokio::join!(distribution_domain(ctx), template_outputs(ctx));
    Ok(Playback {
        domain: domain?,
        outputs: outputs?,
    })
}

pub async fn distribution_domain(ctx: &StackContext) -> Result<String, VideoError> {
    let Some(dist) = distribution::live(ctx).await? else {
        return Err(not_up(ctx, "it has no CloudFront distribution".to_string()));
    };
    let id = dist.id();
    if dist.distribution_config().is_some_and(|c| !c.enabled()) {
        return Err(not_up(
            ctx,
            format!("distribution {id} is disabled and serves nothing"),
        ));
    }
    // The stack's own domain once attached (`[domain]`), else CloudFront's.
    Ok(distribution::serving_domain(&dist))
}

async fn template_outputs(ctx: &StackContext) -> Result<Vec<OutputName>, VideoError> {
    let name = ctx.name(crate::job_template::ID);
    let Some(got) = ctx
        .clients
        .mediaconvert
        .get_job_template()
        .name(name)
        .send()
        .await
        .found(Service::MediaConvert, || {
            format!("reading MediaConvert job template {name}")
        })?
    else {
        return Err(not_up(
            ctx,
            format!("MediaConvert job template {name} does not exist"),
        ));
    };
    Ok(got
        .job_template()
        .and_then(|t| t.settings())
        .map(output_names)
        .unwrap_or_default())
}

/// Whether each key exists in the destination bucket (HeadObject, all at once).
pub async fn exist(ctx: &StackContext, keys: &[String]) -> Result<Vec<bool>, VideoError> {
    exist_in(ctx, ctx.name(crate::destination_bucket::ID), keys).await
}

/// Whether a source key was ever uploaded: it is in the source bucket.
pub async fn uploaded(ctx: &StackContext, key: &str) -> Result<bool, VideoError> {
    let found = exist_in(ctx, ctx.name(crate::source_bucket::ID), &[key.to_string()]).await?;
    Ok(found.first().copied().unwrap_or(false))
}

async fn exist_in(
    ctx: &StackContext,
    bucket: &str,
    keys: &[String],
) -> Result<Vec<bool>, VideoError> {
    let bucket = bucket.to_string();
    let mut tasks = JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let (s3, bucket, key, account) = (
            ctx.clients.s3.clone(),
            bucket.clone(),
            key.clone(),
            ctx.account.clone(),
        );
        tasks.spawn(async move {
            let head = s3
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .expected_bucket_owner(account)
                .send()
                .await;
            let found = head
                .found(Service::S3, || format!("checking s3://{bucket}/{key}"))
                .map(|head| head.is_some());
            (i, found)
        });
    }
    let mut found = vec![false; keys.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, exists) = joined.map_err(|e| StepError::with_source("checking outputs", e))?;
        found[i] = exists?;
    }
    Ok(found)
}

// ---------------------------------------------------------------------------------------
// upload

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
    let s3 = &ctx.clients.s3;
    let bucket = ctx.name(crate::source_bucket::ID);
    let content_type = content_type(path);
    let read = |offset: u64, length: u64| {
        let path = path.to_path_buf();
        async move {
            ByteStream::read_from()
                .path(&path)
                .offset(offset)
                .length(Length::Exact(length))
                .build()
                .await
                .map_err(|e| StepError::with_source(format!("reading {}", path.display()), e))
        }
    };
    if size < MULTIPART_THRESHOLD {
        let _permit = slot(slots).await;
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .content_length(size as i64)
            .expected_bucket_owner(&ctx.account)
            .body(read(0, size).await?)
            .send()
            .await
            .context(|| format!("uploading s3://{bucket}/{key}"))?;
        sent(size);
        return Ok(());
    }

    let permit = slot(slots).await;
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
        .context(|| format!("starting the multipart upload of s3://{bucket}/{key}"))?;
    drop(permit);
    let upload_id = created
        .upload_id()
        .ok_or_else(|| StepError::msg(format!("S3 gave no upload id for s3://{bucket}/{key}")))?
        .to_string();

    let part = |joined: Result<Result<CompletedPart, StepError>, tokio::task::JoinError>| {
        joined.map_err(|e| StepError::with_source("uploading a part", e))?
    };
    let parts = async {
        let count = size.div_ceil(PART_SIZE);
        let mut done: Vec<CompletedPart> = Vec::with_capacity(count as usize);
        let mut tasks = JoinSet::new();
        let mut next = 0u64;
        // This file's turn to start parts (fair: in the order files asked).
        let mut turn = Some(slots.starting_parts.lock().await);
        loop {
            if next == count {
                // Every part started: the next file may start its own.
                turn.take();
            }
            // A part is opened only once it has a permit, so at most REQUESTS_IN_FLIGHT
            // parts (of all files) are read at once, each streamed from disk as it is sent.
            // While waiting for one, finished parts are collected.
            let permit = if next == count {
                match tasks.join_next().await {
                    Some(joined) => {
                        done.push(part(joined)?);
                        continue;
                    }
                    None => break,
                }
            } else if tasks.is_empty() {
                slot(slots).await
            } else {
                tokio::select! {
                    permit = slot(slots) => permit,
                    Some(joined) = tasks.join_next() => {
                        done.push(part(joined)?);
                        continue;
                    }
                }
            };
            let offset = next * PART_SIZE;
            let length = PART_SIZE.min(size - offset);
            let number = (next + 1) as i32;
            let body = read(offset, length).await?;
            let request = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .content_length(length as i64)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .expected_bucket_owner(&ctx.account)
                .body(body);
            let sent = sent.clone();
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
        let _permit = slot(slots).await;
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .expected_bucket_owner(&ctx.account)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .context(|| format!("completing the multipart upload of s3://{bucket}/{key}"))?;
        Ok::<_, StepError>(())
    }
    .await;

    if let Err(err) = parts {
        // Parts of an unfinished upload are stored (and billed) until aborted.
        let aborted = s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .expected_bucket_owner(&ctx.account)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(&e));
        return Err(StepError::with_source(
            format!(
                "uploading s3://{bucket}/{key} ({})",
                abort_outcome(&upload_id, aborted)
            ),
            err,
        ));
    }
    Ok(())
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

/// The ETag S3 gives the object [`upload`] makes of a file of `size` bytes, in a bucket
/// encrypted with SSE-S3 (as the stack's are): the hex MD5 of the bytes for one PutObject;
/// for a multipart upload, the MD5 of its parts' binary MD5s one after another, then
/// `-<number of parts>`. Reads the file once; run it off the async threads.
pub fn expected_etag(path: &Path, size: u64) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1024 * 1024];
    if size < MULTIPART_THRESHOLD {
        let mut whole = Md5::new();
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            whole.update(&buffer[..n]);
        }
        return Ok(hex(&whole.finalize()));
    }
    let (mut parts, mut count) = (Md5::new(), 0u64);
    let mut remaining = size;
    while remaining > 0 {
        let mut part = Md5::new();
        let mut left = PART_SIZE.min(remaining);
        remaining -= left;
        while left > 0 {
            let want = buffer.len().min(left as usize);
            let n = file.read(&mut buffer[..want])?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was read",
                ));
            }
            part.update(&buffer[..n]);
            left -= n as u64;
        }
        parts.update(part.finalize());
        count += 1;
    }
    Ok(format!("{}-{count}", hex(&parts.finalize())))
}

/// Whether `key` in the source bucket already holds this file: same size, and the ETag
/// [`expected_etag`] computes (read only when the sizes match). An object uploaded with
/// another part size has another ETag and is sent again: never a false "same".
pub async fn already_uploaded(
    ctx: &StackContext,
    path: &Path,
    key: &str,
    size: u64,
) -> Result<bool, StepError> {
    let bucket = ctx.name(crate::source_bucket::ID);
    let head = ctx
        .clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await;
    let Some(head) = head.found(Service::S3, || format!("checking s3://{bucket}/{key}"))? else {
        return Ok(false);
    };
    if head.content_length() != Some(size as i64) {
        return Ok(false);
    }
    let Some(etag) = head.e_tag().map(|t| t.trim_matches('"').to_string()) else {
        return Ok(false);
    };
    let path = path.to_path_buf();
    let local = tokio::task::spawn_blocking(move || expected_etag(&path, size))
        .await
        .map_err(|e| StepError::with_source("hashing a file", e))?
        .map_err(|e| StepError::with_source("reading the file to compare it", e))?;
    Ok(local == etag)
}

// ---------------------------------------------------------------------------------------
// jobs

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
    use aws_sdk_mediaconvert::types::{
        ContainerSettings, ContainerType, OutputGroup, OutputGroupSettings,
    };

    fn output(modifier: &str, container: ContainerType, extension: Option<&str>) -> McOutput {
        McOutput::builder()
            .name_modifier(modifier)
            .container_settings(ContainerSettings::builder().container(container).build())
            .set_extension(extension.map(str::to_string))
            .build()
    }

    fn settings(groups: Vec<(OutputGroupType, Vec<McOutput>)>) -> JobTemplateSettings {
        JobTemplateSettings::builder()
            .set_output_groups(Some(
                groups
                    .into_iter()
                    .map(|(kind, outputs)| {
                        OutputGroup::builder()
                            .output_group_settings(
                                OutputGroupSettings::builder().r#type(kind).build(),
                            )
                            .set_outputs(Some(outputs))
                            .build()
                    })
                    .collect(),
            ))
            .build()
    }

    #[test]
    fn etags_follow_the_part_size() {
        let dir = tempfile_dir();
        let small = dir.join("small");
        std::fs::write(&small, b"meow").unwrap();
        let single = expected_etag(&small, 4).unwrap();
        assert_eq!(single.len(), 32, "{single}");
        assert!(!single.contains('-'), "{single}");
        // Just over the threshold: two parts, the second short.
        let big = dir.join("big");
        let size = MULTIPART_THRESHOLD + 1;
        std::fs::write(&big, vec![7u8; size as usize]).unwrap();
        let multi = expected_etag(&big, size).unwrap();
        let parts = size.div_ceil(PART_SIZE);
        assert!(multi.ends_with(&format!("-{parts}")), "{multi}");
        // The same bytes in one piece would hash differently: the parts matter.
        assert_ne!(&multi[..32], single_md5(&big));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn single_md5(path: &Path) -> String {
        use md5::{Digest, Md5};
        let bytes = std::fs::read(path).unwrap();
        Md5::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cattube-etag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn keys_are_file_names_below_the_prefix_folder() {
        assert_eq!(object_key(None, "tabby cat.mp4"), "tabby cat.mp4");
        assert_eq!(
            object_key(Some("cats"), "tabby cat.mp4"),
            "cats/tabby cat.mp4"
        );
        assert_eq!(
            object_key(Some("cats/"), "tabby cat.mp4"),
            "cats/tabby cat.mp4"
        );
        assert_eq!(object_key(Some("/a//b/"), "c.mp4"), "a/b/c.mp4");
        assert_eq!(object_key(Some(""), "c.mp4"), "c.mp4");
    }

    #[test]
    fn an_upload_key_fits_s3_and_a_folder_file_keeps_its_path() {
        let long = "a".repeat(MAX_KEY_BYTES);
        assert_eq!(upload_key(None, &long), Ok(long.clone()));
        assert_eq!(
            upload_key(Some("cats"), &long),
            Err(KeyError::TooLong(format!("cats/{long}")))
        );
        let inside: std::path::PathBuf = ["2024", "tabby cat.mp4"].iter().collect();
        assert_eq!(folder_key(&inside).as_deref(), Some("2024/tabby cat.mp4"));
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type(Path::new("a/tabby cat.mp4")), "video/mp4");
        assert_eq!(content_type(Path::new("cat.MOV")), "video/quicktime");
        assert_eq!(content_type(Path::new("cat")), "application/octet-stream");
    }

    #[test]
    fn the_local_clouds_cdn_endpoint_puts_each_distribution_under_localhost() {
        assert_eq!(
            cdn_origin_at("d1.cloudfront.net", Some("http://localhost:8123/")),
            "http://d1.cloudfront.net.localhost:8123"
        );
        assert_eq!(
            cdn_origin_at("d1.cloudfront.net", None),
            "https://d1.cloudfront.net"
        );
    }

    #[test]
    fn urls_encode_each_segment() {
        assert_eq!(
            cdn_url("d1.cloudfront.net", "cats/tabby cat-hd.mp4"),
            "https://d1.cloudfront.net/cats/tabby%20cat-hd.mp4"
        );
        assert_eq!(
            cdn_url("d1.cloudfront.net", "kätzchen video-sd.mp4"),
            "https://d1.cloudfront.net/k%C3%A4tzchen%20video-sd.mp4"
        );
        assert_eq!(
            cdn_url("d", "a+b/c?d#e%f~g_h.i-j"),
            "https://d/a%2Bb/c%3Fd%23e%25f~g_h.i-j"
        );
    }

    #[test]
    fn outputs_sit_in_the_key_folder_with_its_base_name() {
        let outputs = [
            OutputName {
                suffix: "-hd.mp4".into(),
            },
            OutputName {
                suffix: "-sd.mp4".into(),
            },
        ];
        assert_eq!(
            output_keys("cats/tabby cat.mp4", &outputs),
            ["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"]
        );
        assert_eq!(output_keys("a/b/c.d.mov", &outputs)[0], "a/b/c.d-hd.mp4");
        assert_eq!(output_keys("noext", &outputs)[0], "noext-hd.mp4");
        assert_eq!(output_keys(".mp4", &outputs)[0], ".mp4-hd.mp4");
    }

    #[test]
    fn names_follow_the_template() {
        let names = output_names(&settings(vec![
            (
                OutputGroupType::FileGroupSettings,
                vec![
                    output("-hd", ContainerType::Mp4, None),
                    output("_small", ContainerType::Mov, None),
                    output("-ts", ContainerType::M2Ts, None),
                    output("-x", ContainerType::Mp4, Some("m4v")),
                ],
            ),
            (OutputGroupType::HlsGroupSettings, vec![]),
        ]));
        let suffixes: Vec<&str> = names.iter().map(|n| n.suffix.as_str()).collect();
        assert_eq!(
            suffixes,
            ["-hd.mp4", "_small.mov", "-ts.m2ts", "-x.m4v", ".m3u8"]
        );
    }

    #[test]
    fn the_default_job_json_gives_hd_and_sd_mp4() {
        // The shipped job.json, as MediaConvert's typed settings would carry it.
        let doc: serde_json::Value =
            serde_json::from_str(crate::context::DEFAULT_JOB_JSON).unwrap();
        let outputs = doc["Settings"]["OutputGroups"][0]["Outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                output(
                    o["NameModifier"].as_str().unwrap(),
                    ContainerType::from(o["ContainerSettings"]["Container"].as_str().unwrap()),
                    None,
                )
            })
            .collect();
        let names = output_names(&settings(vec![(
            OutputGroupType::FileGroupSettings,
            outputs,
        )]));
        assert_eq!(
            output_keys("cats/tabby cat.mp4", &names),
            ["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"]
        );
    }

    /// A profile's job settings as MediaConvert's typed settings carry them (group types,
    /// containers and name modifiers, which is all the names depend on).
    fn profile_settings(name: &str) -> (serde_json::Value, JobTemplateSettings) {
        let text = crate::context::PROFILES
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let groups = doc["Settings"]["OutputGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let kind = g["OutputGroupSettings"]["Type"].as_str().unwrap();
                let outputs = g["Outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        output(
                            o["NameModifier"].as_str().unwrap(),
                            ContainerType::from(
                                o["ContainerSettings"]["Container"].as_str().unwrap(),
                            ),
                            None,
                        )
                    })
                    .collect();
                (OutputGroupType::from(kind), outputs)
            })
            .collect();
        (doc, settings(groups))
    }

    /// (codec, width, height, rate control) of every output of a profile.
    fn videos(doc: &serde_json::Value) -> Vec<(String, u64, u64, String)> {
        let mut found = Vec::new();
        for group in doc["Settings"]["OutputGroups"].as_array().unwrap() {
            for o in group["Outputs"].as_array().unwrap() {
                let codec = &o["VideoDescription"]["CodecSettings"];
                let name = codec["Codec"].as_str().unwrap().to_string();
                let member = match name.as_str() {
                    "H_264" => "H264Settings",
                    "H_265" => "H265Settings",
                    _ => "Av1Settings",
                };
                found.push((
                    name,
                    o["VideoDescription"]["Width"].as_u64().unwrap_or(0),
                    o["VideoDescription"]["Height"].as_u64().unwrap_or(0),
                    codec[member]["RateControlMode"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                ));
                let audio = &o["AudioDescriptions"][0]["CodecSettings"]["Codec"];
                assert_eq!(audio, "AAC", "every output has AAC audio");
            }
        }
        found
    }

    #[test]
    fn each_profile_names_its_outputs() {
        for (profile, expected) in [
            (
                "tutorial",
                vec!["cats/tabby cat-hd.mp4", "cats/tabby cat-sd.mp4"],
            ),
            (
                "web",
                vec![
                    "cats/tabby cat-1080p.mp4",
                    "cats/tabby cat-720p.mp4",
                    "cats/tabby cat-144p.mp4",
                ],
            ),
            // The master playlist only: `url` names what a player opens.
            ("hls", vec!["cats/tabby cat.m3u8"]),
        ] {
            let (_, settings) = profile_settings(profile);
            assert_eq!(
                output_keys("cats/tabby cat.mp4", &output_names(&settings)),
                expected,
                "{profile}"
            );
        }
    }

    #[test]
    fn each_profile_has_the_codecs_it_promises() {
        let (tutorial, _) = profile_settings("tutorial");
        let hevc = &tutorial["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]
            ["CodecSettings"]["H265Settings"];
        assert_eq!(hevc["WriteMp4PackagingType"], "HVC1", "Safari needs hvc1");
        assert_eq!(videos(&tutorial)[1].0, "AV1");

        let (web, _) = profile_settings("web");
        let s = |v: &str| v.to_string();
        assert_eq!(
            videos(&web),
            [
                (s("H_264"), 1920, 1080, s("QVBR")),
                (s("H_264"), 1280, 720, s("QVBR")),
                (s("AV1"), 256, 144, s("QVBR")),
            ]
        );
        let (hls, _) = profile_settings("hls");
        let groups = hls["Settings"]["OutputGroups"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "one HLS output group");
        assert_eq!(
            groups[0]["OutputGroupSettings"]["Type"],
            "HLS_GROUP_SETTINGS"
        );
        assert_eq!(
            videos(&hls),
            [
                (s("H_264"), 1920, 1080, s("QVBR")),
                (s("H_264"), 1280, 720, s("QVBR")),
                (s("H_264"), 854, 480, s("QVBR")),
                (s("H_264"), 640, 360, s("QVBR")),
            ]
        );
        // The codecs string of each output follows from its profile and level.
        for doc in [&web, &hls] {
            for group in doc["Settings"]["OutputGroups"].as_array().unwrap() {
                for o in group["Outputs"].as_array().unwrap() {
                    let h264 = &o["VideoDescription"]["CodecSettings"]["H264Settings"];
                    if !h264.is_null() {
                        assert_eq!(h264["CodecProfile"], "HIGH");
                        assert!(h264["CodecLevel"].as_str().unwrap().starts_with("LEVEL_"));
                    }
                }
            }
        }
    }
}
