//! A POST grant: S3's browser-based upload form, its policy signed with SigV4.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{json, Value};

use super::credentials;
use crate::videos::VideoError;
use crate::{source_bucket, StackContext};

/// Where a grant without a key puts uploads: `incoming/<grant id>/<file name>`.
pub const INCOMING: &str = "incoming/";
/// S3 accepts at most 5 GiB in one POST (or one part).
pub const MAX_POST_BYTES: u64 = 5 * 1024 * 1024 * 1024;

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
