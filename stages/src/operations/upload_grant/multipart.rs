//! A multipart grant: a multipart upload cattube starts, with a presigned URL per part (each
//! signing its exact length) and a presigned completion.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_smithy_types::date_time::{DateTime, Format};

use super::{credentials, MAX_POST_BYTES};
use crate::error::AwsContext;
use crate::videos::VideoError;
use crate::{source_bucket, StackContext, StepError};

/// S3's parts: 1 to 10,000, each at least 5 MiB but the last, at most 5 GiB.
pub const MAX_PARTS: u32 = 10_000;
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_PART_BYTES: u64 = MAX_POST_BYTES;
/// S3's largest object: 5 TiB.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// The part size a multipart grant picks when not told how many parts: small enough for a
/// failed part to be cheap to send again, large enough for few requests.
pub const DEFAULT_PART_BYTES: u64 = 8 * 1024 * 1024;

/// How a file of `size` bytes is cut into `parts` parts: every part `part_bytes` long but
/// the last, which holds the rest. Refused (with why) where S3 would refuse the parts or a
/// part would be empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PartLayout {
    pub size: u64,
    pub parts: u32,
    pub part_bytes: u64,
}

impl PartLayout {
    /// `parts` parts, or as many as [`DEFAULT_PART_BYTES`] gives (at most 10,000).
    pub fn new(size: u64, parts: Option<u32>) -> Result<PartLayout, String> {
        if size == 0 || size > MAX_OBJECT_BYTES {
            return Err(format!(
                "{size} bytes is out of range; allowed: 1 to {MAX_OBJECT_BYTES} (S3's largest object, 5 TiB)"
            ));
        }
        let (parts, part_bytes) = match parts {
            Some(0) => return Err(format!("0 parts; allowed: 1 to {MAX_PARTS}")),
            Some(n) if n > MAX_PARTS => {
                return Err(format!("{n} parts; allowed: 1 to {MAX_PARTS}"));
            }
            Some(n) => (n, size.div_ceil(u64::from(n))),
            // Parts of DEFAULT_PART_BYTES (larger when S3's 10,000-part limit needs it), the
            // last one shorter.
            None => {
                let part_bytes = DEFAULT_PART_BYTES.max(size.div_ceil(u64::from(MAX_PARTS)));
                (size.div_ceil(part_bytes) as u32, part_bytes)
            }
        };
        if parts > 1 && part_bytes < MIN_PART_BYTES {
            return Err(format!(
                "{parts} parts of {part_bytes} bytes: S3 needs every part but the last to be at least {MIN_PART_BYTES} bytes (5 MiB); allowed: at most {} parts for {size} bytes",
                (size / MIN_PART_BYTES).max(1)
            ));
        }
        if part_bytes > MAX_PART_BYTES {
            return Err(format!(
                "{parts} parts of {part_bytes} bytes: S3 takes at most {MAX_PART_BYTES} bytes (5 GiB) in a part; allowed: at least {} parts",
                size.div_ceil(MAX_PART_BYTES)
            ));
        }
        if u64::from(parts - 1) * part_bytes >= size {
            return Err(format!(
                "{parts} parts of {part_bytes} bytes would leave the last part empty; allowed: at most {} parts",
                size.div_ceil(part_bytes)
            ));
        }
        Ok(PartLayout {
            size,
            parts,
            part_bytes,
        })
    }

    /// The length of part `number` (1-based).
    pub fn length(&self, number: u32) -> u64 {
        let start = u64::from(number - 1) * self.part_bytes;
        self.part_bytes.min(self.size - start)
    }
}
/// A multipart grant: PUT part N's bytes to `parts[N-1]`, then POST the
/// CompleteMultipartUpload document (each part's number and the ETag its PUT answered) to
/// `complete`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MultipartGrant {
    pub key: String,
    pub upload_id: String,
    pub layout: PartLayout,
    pub parts: Vec<String>,
    pub complete: String,
    pub expires_at: String,
}
fn presigning(expires_in: Duration) -> Result<PresigningConfig, StepError> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|e| StepError::with_source("the grant's expiry", e))
}
/// Starts a multipart upload of `key` and presigns its parts, each for its exact length, and
/// its completion.
pub async fn multipart_grant(
    ctx: &StackContext,
    key: &str,
    content_type: &str,
    layout: PartLayout,
    expires_in: Duration,
) -> Result<MultipartGrant, VideoError> {
    crate::videos::check_source(ctx).await?;
    let bucket = ctx.name(source_bucket::ID);
    let s3 = &ctx.clients.s3;
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
        .context(|| format!("starting a multipart upload of s3://{bucket}/{key}"))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| StepError::msg("CreateMultipartUpload answered no upload id"))?
        .to_string();
    let now = SystemTime::now();
    let mut urls = Vec::with_capacity(layout.parts as usize);
    for number in 1..=layout.parts {
        // Content-Length is signed into the URL: S3 refuses a part of any other length.
        let presigned = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number as i32)
            .content_length(layout.length(number) as i64)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| StepError::with_source(format!("presigning part {number}"), e))?;
        if !signs_content_length(presigned.uri()) {
            return Err(StepError::msg(format!(
                "the presigned URL of part {number} does not sign its Content-Length"
            ))
            .into());
        }
        urls.push(presigned.uri().to_string());
    }
    // The Rust SDK presigns no CompleteMultipartUpload: signed here with the SDK's signer,
    // on the object's URL the SDK resolved for the parts.
    let object_url = urls[0].split('?').next().unwrap_or_default().to_string();
    let complete = presign_complete(ctx, &object_url, &upload_id, expires_in, now).await?;
    Ok(MultipartGrant {
        key: key.to_string(),
        upload_id,
        layout,
        parts: urls,
        complete,
        expires_at: DateTime::from(now + expires_in)
            .fmt(Format::DateTime)
            .expect("a date"),
    })
}

/// Whether a presigned URL's `X-Amz-SignedHeaders` names `content-length` (the bound on a
/// part's size rests on it).
pub fn signs_content_length(url: &str) -> bool {
    url.split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("X-Amz-SignedHeaders="))
        .is_some_and(|headers| {
            urlencoding::decode(headers)
                .unwrap_or_default()
                .split(';')
                .any(|h| h == "content-length")
        })
}

async fn presign_complete(
    ctx: &StackContext,
    object_url: &str,
    upload_id: &str,
    expires_in: Duration,
    now: SystemTime,
) -> Result<String, StepError> {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
        SignatureLocation, SigningSettings, UriPathNormalizationMode,
    };
    let credentials = credentials(ctx).await?;
    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&ctx.region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| StepError::with_source("signing the completion", e))?
        .into();
    let unsigned = format!("{object_url}?uploadId={}", urlencoding::encode(upload_id));
    let host = unsigned
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string();
    let signable = SignableRequest::new(
        "POST",
        unsigned.as_str(),
        [("host", host.as_str())].into_iter(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| StepError::with_source("signing the completion", e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| StepError::with_source("signing the completion", e))?
        .into_parts();
    let mut url = unsigned;
    for (name, value) in instructions.params() {
        url.push('&');
        url.push_str(name);
        url.push('=');
        url.push_str(&urlencoding::encode(value));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_layouts() {
        const MIB: u64 = 1024 * 1024;
        let layout = PartLayout::new(11 * MIB, Some(2)).unwrap();
        assert_eq!(layout.part_bytes, 11 * MIB / 2);
        assert_eq!(layout.length(1) + layout.length(2), 11 * MIB);
        // Without a count: parts of DEFAULT_PART_BYTES, the last one shorter.
        let layout = PartLayout::new(DEFAULT_PART_BYTES * 3 + 1, None).unwrap();
        assert_eq!((layout.parts, layout.length(4)), (4, 1));
        assert_eq!(PartLayout::new(100, None).unwrap().parts, 1);
        // Parts below 5 MiB, an empty last part, parts above 5 GiB, sizes S3 cannot store.
        for (size, parts) in [
            (9 * MIB, Some(2)),
            (10 * MIB + 1, Some(3)),
            (MAX_OBJECT_BYTES, Some(2)),
            (0, None),
            (MAX_OBJECT_BYTES + 1, None),
        ] {
            assert!(PartLayout::new(size, parts).is_err(), "{size} {parts:?}");
        }
        for size in [1, 5 * MIB, 77 * MIB + 3, MAX_OBJECT_BYTES] {
            let layout = PartLayout::new(size, None).unwrap();
            let total: u64 = (1..=layout.parts).map(|n| layout.length(n)).sum();
            assert_eq!(total, size);
        }
    }
}
