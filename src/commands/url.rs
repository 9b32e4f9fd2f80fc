//! `cattube url KEY`: stage 8, where a source key's outputs are watched. The names come
//! from the live job template (so a customised `job.json` gives the right ones), in the
//! key's folder; each URL says whether its output is already in the destination bucket.

use cattube_stages::{signed, videos};
use serde_json::json;

use crate::cli::UrlArgs;
use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::{ExitStatus, UsageError};
use crate::printer::{Printer, Report};

/// The fields `url` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct UrlFields {
    /// The CloudFront URLs of a source key's outputs.
    pub urls: Vec<UrlReport>,
    /// `--cookies`: the signed cookies (`name`, `value`, `domain`, `path`, `expires`,
    /// `secure`), the policy's `resource` and the `header` curl sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookies: Option<serde_json::Value>,
}

/// One output URL of a source key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UrlReport {
    pub url: String,
    /// The output is already in the destination bucket.
    pub exists: bool,
}

impl Verb for UrlArgs {
    type Fields = UrlFields;

    async fn run(&self, at: &mut Invocation<'_, UrlFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, _: &Report, fields: &UrlFields) -> String {
        text(fields)
    }
}

/// `--expires` when not given: an hour.
const DEFAULT_EXPIRES: u64 = 3_600;

fn check(key: &str) -> Result<(), UsageError> {
    if key.is_empty() {
        return Err(UsageError::new(
            "KEY is empty: give the source key `upload` printed, e.g. \"cats/tabby cat.mp4\"",
        ));
    }
    if key.ends_with('/') {
        return Err(UsageError::new(format!(
            "'{key}' is a folder: give a video's source key, e.g. \"{key}tabby cat.mp4\""
        )));
    }
    if key.len() > videos::MAX_KEY_BYTES {
        return Err(UsageError::new(format!(
            "KEY is longer than S3's {} bytes",
            videos::MAX_KEY_BYTES
        )));
    }
    Ok(())
}

async fn run(
    config: &Config,
    args: &UrlArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut UrlFields,
) -> anyhow::Result<ExitStatus> {
    check(&args.key)?;
    if args.expires.is_some() && !args.signed && !args.cookies {
        return Err(UsageError::new("--expires needs --signed or --cookies").into());
    }
    let session = Session::open(config, Access::Read, report).await?;
    let ctx = &*session.ctx;
    let (playback, uploaded) =
        tokio::join!(videos::playback(ctx), videos::uploaded(ctx, &args.key));
    let playback = playback.map_err(video_failure)?;
    // On stderr: stdout stays exactly the URLs.
    if !uploaded.map_err(video_failure)? {
        printer.note(format!(
            "note: '{}' was never uploaded to s3://{}: these are the URLs its outputs would have \
             after `cattube upload`",
            args.key,
            ctx.name(cattube_stages::source_bucket::ID)
        ));
    }
    report.set_output(
        "destination_bucket",
        ctx.name(cattube_stages::destination_bucket::ID).to_string(),
    );
    report.set_output("distribution_domain", playback.domain.clone());
    let urls = playback.urls(&args.key);
    let keys: Vec<String> = urls.iter().map(|u| u.key.clone()).collect();
    let exist = videos::exist(ctx, &keys).await.map_err(video_failure)?;
    let expires = signed::now_plus(args.expires.unwrap_or(DEFAULT_EXPIRES));
    let signer = if args.signed || args.cookies {
        Some(signed::signer(ctx).await?)
    } else {
        if ctx.settings.private && !printer.json() {
            printer.note(
                "note: the stack is private ([delivery] private): these URLs answer 403 without \
                 --signed or --cookies",
            );
        }
        None
    };
    if let (Some(signer), true) = (&signer, args.cookies) {
        let prefix = videos::cdn_url(&playback.domain, &videos::video_prefix(&args.key));
        let resource = signed::video_resource(&prefix);
        let cookies = signer.cookies(&resource, expires);
        let header = cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        fields.cookies = Some(json!({
            "resource": resource,
            "expires": cattube_stages::cost::rfc3339(expires as i64),
            "header": format!("Cookie: {header}"),
            "cookies": cookies.iter().map(|(name, value)| json!({
                "name": name,
                "value": value,
                "domain": playback.domain,
                "path": "/",
                "expires": expires,
                "secure": true,
            })).collect::<Vec<_>>(),
        }));
    }
    fields.urls = urls
        .into_iter()
        .zip(exist)
        .map(|(u, exists)| UrlReport {
            url: match (&signer, args.signed) {
                (Some(signer), true) => signer.signed_url(&u.url, expires),
                _ => u.url,
            },
            exists,
        })
        .collect();
    if !printer.json() {
        if let Some(note) = notes(fields) {
            printer.note(note);
        }
    }
    Ok(ExitStatus::Success)
}

/// Exactly one URL per line on stdout, nothing else (`curl "$(cattube url KEY | head -1)"`
/// works); whether each can be watched yet is in the JSON's `exists` and, for text, in
/// [`notes`] on stderr.
fn text(fields: &UrlFields) -> String {
    let mut out = String::new();
    // `--cookies`: the header curl sends first (`curl -H "$(… | head -1)"`).
    if let Some(header) = fields.cookies.as_ref().and_then(|c| c["header"].as_str()) {
        out.push_str(header);
        out.push('\n');
    }
    for url in &fields.urls {
        out.push_str(&url.url);
        out.push('\n');
    }
    out
}

/// The stderr note of a text `url`: which outputs are not in the bucket yet.
fn notes(fields: &UrlFields) -> Option<String> {
    let urls = &fields.urls;
    let missing = urls.iter().filter(|u| !u.exists).count();
    (missing > 0).then(|| {
        format!(
            "{missing} of {} not there yet (`cattube jobs` shows the conversion)",
            urls.len()
        )
    })
}
