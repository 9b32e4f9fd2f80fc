//! Stage 8: `catalog.json`, the list of videos the converter function keeps at the
//! destination bucket's root (see lambda-artifact/handler.py), read directly from S3 by
//! `cattube videos`, `jobs` and `open` (so it works with the player page disabled too).

use serde::{Deserialize, Serialize};

use crate::converter_role::CATALOG_KEY;
use crate::error::AwsError;
use crate::videos::VideoError;
use crate::{Service, StackContext, StepError};

/// The catalog's schema version this CLI reads.
pub const VERSION: u32 = 1;

/// The whole document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub version: u32,
    pub videos: Vec<Video>,
}

/// One uploaded video: its job and, once COMPLETE, its playable outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Video {
    pub key: String,
    /// SUBMITTED | PROGRESSING | COMPLETE | ERROR | CANCELED, or REJECTED: over a `[job]`
    /// limit, no job (`error` says why, `limit` names the key).
    pub status: String,
    pub percent: Option<u8>,
    /// `None` for a rejected upload.
    pub job_id: Option<String>,
    pub submitted: String,
    pub updated: String,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
    #[serde(default)]
    pub outputs: Vec<Output>,
    /// The `[job]` key whose limit rejected the upload (`max-upload-mb`, `max-duration-min`,
    /// `max-output-minutes-per-day`); `None` for every other status.
    #[serde(default)]
    pub limit: Option<String>,
}

/// The status of an upload a `[job]` limit rejected.
pub const REJECTED: &str = "REJECTED";

impl Video {
    pub fn unfinished(&self) -> bool {
        matches!(self.status.as_str(), "SUBMITTED" | "PROGRESSING")
    }

    pub fn rejected(&self) -> bool {
        self.status == REJECTED
    }
}

/// One playable output: an MP4 file or an HLS master playlist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Its key in the destination bucket.
    pub path: String,
    /// mp4 | hls
    pub container: String,
    /// hevc | av1 | h264
    pub codec: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub bitrate: Option<u64>,
    /// The MIME type with its RFC 6381 codecs string.
    pub mime: String,
}

/// The player page's URL on `domain` (`https://<domain>/`), starting on `key`'s video when
/// given (`#<url-encoded key>`).
pub fn player_url(domain: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!(
            "{}/#{}",
            crate::videos::cdn_origin(domain),
            urlencoding::encode(key)
        ),
        None => format!("{}/", crate::videos::cdn_origin(domain)),
    }
}

/// The upload page beside the player (`upload.html`), with `grant` (its JSON) in the
/// fragment, base64url without padding: browsers never send a fragment to a server.
pub fn upload_page_url(domain: &str, grant: &serde_json::Value) -> String {
    let encoded = aws_smithy_types::base64::encode(grant.to_string())
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_");
    format!(
        "{}/{}#grant={encoded}",
        crate::videos::cdn_origin(domain),
        crate::player_page::UPLOAD_KEY
    )
}

/// Reads the catalog; an empty one when no video was ever submitted (no object yet).
pub async fn read(ctx: &StackContext) -> Result<Catalog, VideoError> {
    let bucket = ctx.name(crate::destination_bucket::ID);
    let got = match ctx
        .clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(CATALOG_KEY)
        .send()
        .await
    {
        Ok(got) => got,
        Err(e) if crate::error::error_code(&e) == Some("NoSuchKey") => {
            return Ok(Catalog {
                version: VERSION,
                videos: Vec::new(),
            })
        }
        Err(e) if Service::S3.not_found(&e) => {
            return Err(VideoError::NotUp(format!(
                "stack {} is not up in {}: bucket {bucket} does not exist; run `cattube up` first",
                ctx.stack, ctx.region
            )))
        }
        Err(e) => {
            return Err(StepError::with_source(
                format!("reading s3://{bucket}/{CATALOG_KEY}"),
                AwsError::from_sdk(&e),
            )
            .into())
        }
    };
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| StepError::with_source(format!("reading s3://{bucket}/{CATALOG_KEY}"), e))?
        .into_bytes();
    parse(&bytes).map_err(|e| {
        VideoError::Aws(StepError::msg(format!(
            "s3://{bucket}/{CATALOG_KEY} is not a catalog this cattube reads: {e}"
        )))
    })
}

/// Parses a catalog document, refusing another schema version.
pub fn parse(bytes: &[u8]) -> Result<Catalog, String> {
    let catalog: Catalog = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if catalog.version != VERSION {
        return Err(format!(
            "version {} (this cattube reads version {VERSION})",
            catalog.version
        ));
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_video_is_named_after_the_hash_url_encoded() {
        assert_eq!(
            player_url("d1.cloudfront.net", None),
            "https://d1.cloudfront.net/"
        );
        assert_eq!(
            player_url("d1.cloudfront.net", Some("cats/tabby cat.mp4")),
            "https://d1.cloudfront.net/#cats%2Ftabby%20cat.mp4"
        );
    }

    #[test]
    fn the_contract_example_parses_and_another_version_is_refused() {
        let doc = br#"{"version": 1, "videos": [{"key": "cats/tabby cat.mp4",
            "status": "COMPLETE", "percent": 100, "job_id": "1700000000000-abc123",
            "submitted": "2026-12-02T05:00:00Z", "updated": "2026-12-02T05:01:00Z",
            "duration_ms": 60000, "error": null, "outputs": [{"path": "cats/tabby cat-hd.mp4",
            "container": "mp4", "codec": "hevc", "width": 1920, "height": 1080,
            "bitrate": 5000000, "mime": "video/mp4; codecs=\"hvc1.1.6.L120.90,mp4a.40.2\""}]}]}"#;
        let catalog = parse(doc).unwrap();
        assert_eq!(catalog.videos[0].outputs[0].codec, "hevc");
        assert!(!catalog.videos[0].unfinished());
        let other = String::from_utf8_lossy(doc).replace("\"version\": 1", "\"version\": 2");
        assert!(parse(other.as_bytes()).unwrap_err().contains("version 2"));
    }

    #[test]
    fn a_rejected_upload_has_no_job_and_names_its_limit() {
        let doc = br#"{"version": 1, "videos": [{"key": "cats/3 hours.mov", "status": "REJECTED",
            "percent": null, "job_id": null, "submitted": "2026-12-02T05:00:00Z",
            "updated": "2026-12-02T05:00:00Z", "duration_ms": 10800000,
            "error": "longer than 60 min (180.0 min)", "outputs": [], "limit": "max-duration-min"}]}"#;
        let video = &parse(doc).unwrap().videos[0];
        assert!(video.rejected() && !video.unfinished());
        assert_eq!(video.job_id, None);
        assert_eq!(video.limit.as_deref(), Some("max-duration-min"));
    }
}
