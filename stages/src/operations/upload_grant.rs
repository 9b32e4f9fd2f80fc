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

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{json, Value};

use crate::error::AwsContext;
use crate::grant::{Grant, Phase, Target};
use crate::videos::VideoError;
use crate::{source_bucket, StackContext, StepError};

/// What minting a grant needs: `s3:PutObject` on the granted keys (the signer's permission is
/// what S3 checks when the grant is used), and for multipart grants the create call.
pub const GRANT_OBJECTS: Grant = Grant::new(
    Phase::Apply,
    &["s3:PutObject"],
    Target::Objects(source_bucket::ID),
);

/// Where a grant without a key puts uploads: `incoming/<grant id>/<file name>`.
pub const INCOMING: &str = "incoming/";
/// S3 limits a presigned URL to seven days (SigV4); a POST policy may say more, but the same
/// bound keeps every grant alike.
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
/// S3 accepts at most 5 GiB in one POST (or one part).
pub const MAX_POST_BYTES: u64 = 5 * 1024 * 1024 * 1024;
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

/// Which keys a grant lets its holder write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keys {
    /// Exactly this key.
    Exactly(String),
    /// Any key below this prefix (it ends with '/'); the form's key is `<prefix>${filename}`,
    /// which S3 fills in with the name of the file sent.
    Below(String),
}

/// Which content types a grant accepts (the form's `Content-Type` field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentTypes {
    Exactly(String),
    /// `video/*`: the type's prefix, with its '/'.
    StartingWith(String),
}

impl ContentTypes {
    /// `video/*` or `video/mp4`: a type and a subtype of RFC 6838's characters, or `*`.
    pub fn parse(text: &str) -> Result<ContentTypes, String> {
        let token = |s: &str| {
            !s.is_empty()
                && s.len() <= 127
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
        };
        match text.split_once('/') {
            Some((kind, "*")) if token(kind) => {
                Ok(ContentTypes::StartingWith(format!("{kind}/")))
            }
            Some((kind, sub)) if token(kind) && token(sub) => {
                Ok(ContentTypes::Exactly(text.to_string()))
            }
            _ => Err(format!(
                "'{text}' is not a media type; allowed: TYPE/SUBTYPE or TYPE/*, like video/* or video/mp4"
            )),
        }
    }

    /// A type the grant accepts, for the example command line.
    pub fn example(&self) -> String {
        match self {
            ContentTypes::Exactly(t) => t.clone(),
            ContentTypes::StartingWith(p) if p == "video/" => "video/mp4".into(),
            ContentTypes::StartingWith(p) => format!("{p}octet-stream"),
        }
    }

    fn condition(&self) -> Value {
        match self {
            ContentTypes::Exactly(t) => json!(["eq", "$Content-Type", t]),
            ContentTypes::StartingWith(p) => json!(["starts-with", "$Content-Type", p]),
        }
    }
}

/// What a grant allows.
#[derive(Clone, Debug)]
pub struct GrantRequest {
    pub keys: Keys,
    pub expires_in: Duration,
    /// The largest upload, in bytes (the smallest is one byte).
    pub max_bytes: u64,
    pub content_types: ContentTypes,
}

/// A presigned POST: the form to send to `url`, the file last, as the field `file`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PostGrant {
    pub url: String,
    /// In the order they are to be sent; `file` comes after them.
    pub fields: Vec<(String, String)>,
    /// The key the upload lands at (`…/${filename}` for a prefix grant).
    pub key: String,
    /// RFC 3339, UTC.
    pub expires_at: String,
    pub max_bytes: u64,
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

fn presigning(expires_in: Duration) -> Result<PresigningConfig, StepError> {
    PresigningConfig::expires_in(expires_in)
        .map_err(|e| StepError::with_source("the grant's expiry", e))
}

/// The POST policy document (AWS: "Creating a POST policy"): every form field but the
/// policy, the signature and the file is named by a condition.
pub fn post_policy(
    bucket: &str,
    request: &GrantRequest,
    expiration: &str,
    signing: &[(String, String)],
) -> Value {
    let key = match &request.keys {
        Keys::Exactly(key) => json!(["eq", "$key", key]),
        Keys::Below(prefix) => json!(["starts-with", "$key", prefix]),
    };
    let mut conditions = vec![
        json!({ "bucket": bucket }),
        key,
        json!(["content-length-range", 1, request.max_bytes]),
        request.content_types.condition(),
    ];
    conditions.extend(signing.iter().map(|(field, value)| json!({ field: value })));
    json!({ "expiration": expiration, "conditions": conditions })
}

/// `20261207T120000Z` and `20261207`, the forms SigV4 dates take.
fn sigv4_dates(now: SystemTime) -> (String, String) {
    let stamp = DateTime::from(now)
        .fmt(Format::DateTime)
        .expect("a date SigV4 can name");
    // 2026-12-07T12:00:00Z (or with fractional seconds) → 20261207T120000Z
    let compact: String = stamp
        .split('.')
        .next()
        .unwrap_or(&stamp)
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    let date = compact[..8].to_string();
    (format!("{compact}Z"), date)
}

/// Signs a POST policy as SigV4 does for S3 POST: the signature is the HMAC-SHA256 of the
/// base64 policy with the day's signing key.
pub fn sign_post(
    bucket: &str,
    request: &GrantRequest,
    credentials: &Credentials,
    region: &str,
    now: SystemTime,
) -> (Vec<(String, String)>, String) {
    let (amz_date, day) = sigv4_dates(now);
    let expiration = DateTime::from(now + request.expires_in)
        .fmt(Format::DateTime)
        .expect("a date");
    let mut signing = vec![
        (
            "x-amz-algorithm".to_string(),
            "AWS4-HMAC-SHA256".to_string(),
        ),
        (
            "x-amz-credential".to_string(),
            format!(
                "{}/{day}/{region}/s3/aws4_request",
                credentials.access_key_id()
            ),
        ),
        ("x-amz-date".to_string(), amz_date),
    ];
    if let Some(token) = credentials.session_token() {
        signing.push(("x-amz-security-token".to_string(), token.to_string()));
    }
    let policy = post_policy(bucket, request, &expiration, &signing);
    let encoded = aws_smithy_types::base64::encode(policy.to_string());
    let key = aws_sigv4::sign::v4::generate_signing_key(
        credentials.secret_access_key(),
        now,
        region,
        "s3",
    );
    let signature = aws_sigv4::sign::v4::calculate_signature(key, encoded.as_bytes());
    let form_key = match &request.keys {
        Keys::Exactly(key) => key.clone(),
        Keys::Below(prefix) => format!("{prefix}${{filename}}"),
    };
    let mut fields = vec![("key".to_string(), form_key)];
    if let ContentTypes::Exactly(t) = &request.content_types {
        fields.push(("Content-Type".to_string(), t.clone()));
    }
    fields.extend(signing);
    fields.push(("policy".to_string(), encoded));
    fields.push(("x-amz-signature".to_string(), signature));
    (fields, expiration)
}

/// A presigned POST for the stack's source bucket, signed with the caller's credentials.
pub async fn post_grant(
    ctx: &StackContext,
    request: &GrantRequest,
) -> Result<PostGrant, VideoError> {
    crate::videos::check_source(ctx).await?;
    let bucket = ctx.name(source_bucket::ID);
    let (credentials, url) = tokio::try_join!(
        credentials(ctx),
        crate::resources::bucket::bucket_url(ctx, bucket)
    )?;
    let (fields, expires_at) = sign_post(
        bucket,
        request,
        &credentials,
        &ctx.region,
        SystemTime::now(),
    );
    let key = fields[0].1.clone();
    Ok(PostGrant {
        url,
        fields,
        key,
        expires_at,
        max_bytes: request.max_bytes,
    })
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

/// `'text'` for a POSIX shell (a `'` inside becomes `'\''`).
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The grant as one `curl` command line that sends `file` (the file's name where the grant
/// names a prefix).
pub fn curl_line(grant: &PostGrant, content_type: &str, file: &str) -> String {
    let mut line = String::from("curl -sS --fail-with-body");
    for (name, value) in &grant.fields {
        // --form-string: a value is never read as @file, <file or ;type=.
        line.push_str(" --form-string ");
        line.push_str(&shell_quote(&format!("{name}={value}")));
    }
    if !grant.fields.iter().any(|(name, _)| name == "Content-Type") {
        line.push_str(" --form-string ");
        line.push_str(&shell_quote(&format!("Content-Type={content_type}")));
    }
    line.push_str(" -F ");
    line.push_str(&shell_quote(&format!("file=@{file}")));
    line.push(' ');
    line.push_str(&shell_quote(&grant.url));
    line
}

/// AWS's error in a grant's answer, for messages: "Code: Message".
pub fn describe_refusal(body: &str) -> Option<String> {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].to_string())
    };
    Some(format!(
        "{}: {}",
        tag("Code")?,
        tag("Message").unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(keys: Keys) -> GrantRequest {
        GrantRequest {
            keys,
            expires_in: Duration::from_secs(900),
            max_bytes: 1024,
            content_types: ContentTypes::parse("video/*").unwrap(),
        }
    }

    #[test]
    fn media_types() {
        assert_eq!(
            ContentTypes::parse("video/*"),
            Ok(ContentTypes::StartingWith("video/".into()))
        );
        assert_eq!(
            ContentTypes::parse("video/mp4"),
            Ok(ContentTypes::Exactly("video/mp4".into()))
        );
        for bad in ["video", "*/*", "video/", "/mp4", "video/mp4 x", "vid\"eo/*"] {
            assert!(ContentTypes::parse(bad).is_err(), "{bad}");
        }
    }

    /// The policy names every field the form carries, so S3 finds no extra input field.
    #[test]
    fn the_policy_covers_every_field_but_policy_and_signature() {
        let credentials = Credentials::new("AKID", "secret", Some("token".into()), None, "test");
        for keys in [
            Keys::Exactly("cats/a.mp4".into()),
            Keys::Below("incoming/x/".into()),
        ] {
            let (fields, _) = sign_post(
                "b",
                &request(keys),
                &credentials,
                "eu-west-1",
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            );
            let policy = fields.iter().find(|(n, _)| n == "policy").unwrap();
            let policy: Value =
                serde_json::from_slice(&aws_smithy_types::base64::decode(&policy.1).unwrap())
                    .unwrap();
            let text = policy.to_string();
            for (name, _) in &fields {
                if name == "policy" || name == "x-amz-signature" {
                    continue;
                }
                assert!(
                    text.contains(&format!("\"{name}\"")) || text.contains(&format!("\"${name}\"")),
                    "{name} not in {text}"
                );
            }
            assert_eq!(policy["expiration"], "2027-01-15T08:15:00Z");
            assert!(text.contains("\"20270115T080000Z\""), "{text}");
        }
    }

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

    #[test]
    fn curl_line_quotes_for_the_shell() {
        let grant = PostGrant {
            url: "http://h/b/".into(),
            fields: vec![("key".into(), "incoming/x/${filename}".into())],
            key: "incoming/x/${filename}".into(),
            expires_at: String::new(),
            max_bytes: 1,
        };
        assert_eq!(
            curl_line(&grant, "video/mp4", "cat's.mp4"),
            "curl -sS --fail-with-body --form-string 'key=incoming/x/${filename}' \
             --form-string 'Content-Type=video/mp4' -F 'file=@cat'\\''s.mp4' 'http://h/b/'"
        );
    }
}
