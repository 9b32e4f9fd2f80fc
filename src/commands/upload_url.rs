//! `cattube upload-url [KEY] [--expires 15m] [--max-mb N] [--content-type video/*]
//! [--multipart --size BYTES [--parts N]] [--page]`: an upload grant for someone without AWS
//! credentials, as a curl line, JSON, or a link to the upload page carrying it. Every flag is
//! checked before any AWS call; the grant itself is signed locally (only the stack check, the
//! distribution's domain for --page and, for a multipart grant, the upload's creation reach
//! AWS).

use std::time::Duration;

use cattube_stages::upload_grant::{
    self, ContentTypes, GrantRequest, Keys, PartLayout, MAX_POST_BYTES,
};
use cattube_stages::videos;
use serde_json::json;

use crate::cli::UploadUrlArgs;
use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::{ExitStatus, UsageError};
use crate::printer::{Printer, Report};

/// The fields `upload-url` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct GrantFields {
    /// The grant (`kind` "post": `url`, `fields`; "multipart": `parts`, `complete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<serde_json::Value>,
}

impl Verb for UploadUrlArgs {
    type Fields = GrantFields;

    async fn run(&self, at: &mut Invocation<'_, GrantFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, _: &Report, out: &GrantFields) -> String {
        text(out)
    }
}

const MIB: u64 = 1024 * 1024;

/// `90s`, `15m`, `12h`, `7d` → seconds, 1 s to 7 days (SigV4's longest presigned URL).
pub fn parse_expires(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("'{text}' must be a number of seconds, minutes, hours or days, like 90s, 15m, 12h or 7d (1s to 7d)")
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3_600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(bad)?;
    if (1..=upload_grant::MAX_EXPIRY.as_secs()).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(bad())
    }
}

fn check_key(key: &str, suffixes: &[String]) -> Result<(), UsageError> {
    if key.is_empty() || key.ends_with('/') {
        return Err(UsageError::new(format!(
            "KEY '{key}' must name an object, not a folder: e.g. \"cats/tabby cat.mp4\""
        )));
    }
    if key.len() > videos::MAX_KEY_BYTES {
        return Err(UsageError::new(format!(
            "KEY is longer than S3's {} bytes",
            videos::MAX_KEY_BYTES
        )));
    }
    if !suffixes.is_empty() && !suffixes.iter().any(|s| key.ends_with(s.as_str())) {
        return Err(UsageError::new(format!(
            "KEY '{key}' would not be converted: [trigger] suffixes allows only keys ending in {}",
            suffixes.join(", ")
        )));
    }
    Ok(())
}

/// The largest upload: `--max-mb`, never above `[job] max-upload-mb` (the converter would
/// skip a larger one) nor S3's 5 GiB for one POST.
fn max_bytes(args: &UploadUrlArgs, config: &Config) -> Result<u64, UsageError> {
    let ceiling_mb = MAX_POST_BYTES / MIB;
    let job_cap = config.settings.max_upload_mb;
    let mb = match (args.max_mb, job_cap) {
        (Some(mb), _) if mb == 0 || mb > ceiling_mb => {
            return Err(UsageError::new(format!(
                "--max-mb: {mb} is out of range; allowed: 1 to {ceiling_mb} (MiB; S3 takes at most 5 GiB in one POST)"
            )))
        }
        (Some(mb), Some(cap)) if mb > cap => {
            return Err(UsageError::new(format!(
                "--max-mb: {mb} is above [job] max-upload-mb = {cap}, and the converter skips larger uploads; allowed: 1 to {cap}"
            )))
        }
        (Some(mb), _) => mb,
        (None, Some(cap)) => cap.min(ceiling_mb),
        (None, None) => ceiling_mb,
    };
    Ok(mb * MIB)
}

async fn run(
    config: &Config,
    args: &UploadUrlArgs,
    printer: &Printer,
    report: &mut Report,
    out: &mut GrantFields,
) -> anyhow::Result<ExitStatus> {
    let content_types = ContentTypes::parse(&args.content_type)
        .map_err(|e| UsageError::new(format!("--content-type: {e}")))?;
    let expires_in = Duration::from_secs(args.expires);
    let suffixes = &config.settings.trigger_suffixes;
    if let Some(key) = &args.key {
        check_key(key, suffixes)?;
    }
    if args.multipart {
        return multipart(config, args, &content_types, expires_in, report, out).await;
    }
    if args.parts.is_some() {
        return Err(UsageError::new("--parts needs --multipart").into());
    }
    if args.size.is_some() {
        return Err(UsageError::new(
            "--size needs --multipart (a POST grant's size is bounded by --max-mb)",
        )
        .into());
    }
    check_page(args, config)?;
    let max_bytes = max_bytes(args, config)?;
    let keys = match &args.key {
        Some(key) => Keys::Exactly(key.clone()),
        None => {
            if !suffixes.is_empty() {
                printer.note(format!(
                    "note: only files whose names end in {} are converted ([trigger] suffixes)",
                    suffixes.join(", ")
                ));
            }
            Keys::Below(format!(
                "{}{}/",
                upload_grant::INCOMING,
                upload_grant::grant_id()
            ))
        }
    };
    let request = GrantRequest {
        keys,
        expires_in,
        max_bytes,
        content_types: content_types.clone(),
    };
    let session = Session::open(config, Access::Read, report).await?;
    let grant = upload_grant::post_grant(&session.ctx, &request)
        .await
        .map_err(video_failure)?;
    let fields: serde_json::Map<String, serde_json::Value> = grant
        .fields
        .iter()
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    out.grant = Some(json!({
        "kind": "post",
        "url": grant.url,
        "fields": fields,
        "key": grant.key,
        "content_type": args.content_type,
        "max_bytes": grant.max_bytes,
        "expires_at": grant.expires_at,
        "curl": upload_grant::curl_line(&grant, &content_types.example(), "FILE"),
    }));
    add_page(&session, args, out).await?;
    Ok(ExitStatus::Success)
}

/// `--multipart`: presigned part URLs and a completion URL for KEY.
async fn multipart(
    config: &Config,
    args: &UploadUrlArgs,
    content_types: &ContentTypes,
    expires_in: Duration,
    report: &mut Report,
    out: &mut GrantFields,
) -> anyhow::Result<ExitStatus> {
    let key = args
        .key
        .as_deref()
        .expect("clap requires KEY with --multipart");
    // A multipart upload's type is fixed when it starts: one type, not a family.
    let content_type = match content_types {
        ContentTypes::Exactly(t) => t.clone(),
        ContentTypes::StartingWith(prefix) => {
            let guessed = videos::content_type(std::path::Path::new(key));
            if !guessed.starts_with(prefix.as_str()) {
                return Err(UsageError::new(format!(
                    "--content-type: a multipart grant needs one type, and KEY's extension gives {guessed}, not {}*; allowed: TYPE/SUBTYPE, like video/mp4",
                    prefix
                ))
                .into());
            }
            guessed
        }
    };
    let layout = part_layout(args, config)?;
    check_page(args, config)?;
    let session = Session::open(config, Access::Read, report).await?;
    let grant = upload_grant::multipart_grant(&session.ctx, key, &content_type, layout, expires_in)
        .await
        .map_err(video_failure)?;
    out.grant = Some(json!({
        "kind": "multipart",
        "key": grant.key,
        "content_type": content_type,
        "size": grant.layout.size,
        "part_bytes": grant.layout.part_bytes,
        "upload_id": grant.upload_id,
        "parts": grant.parts,
        "complete": grant.complete,
        "expires_at": grant.expires_at,
    }));
    add_page(&session, args, out).await?;
    Ok(ExitStatus::Success)
}

/// How a multipart grant cuts the file: `--size` is needed (each part's URL signs its length),
/// and bounded as a POST grant is, by `[job] max-upload-mb`.
fn part_layout(args: &UploadUrlArgs, config: &Config) -> Result<PartLayout, UsageError> {
    let size = args.size.ok_or_else(|| {
        UsageError::new(
            "--multipart needs --size BYTES, the file's exact size: each part's URL is signed for its length, which bounds the upload",
        )
    })?;
    if let Some(cap) = config.settings.max_upload_mb {
        if size > cap * MIB {
            return Err(UsageError::new(format!(
                "--size: {size} bytes is above [job] max-upload-mb = {cap} ({} bytes), and the converter skips larger uploads; allowed: 1 to {}",
                cap * MIB,
                cap * MIB
            )));
        }
    }
    PartLayout::new(size, args.parts).map_err(|e| {
        let flag = if args.parts.is_some() {
            "--parts"
        } else {
            "--size"
        };
        UsageError::new(format!("{flag}: {e}"))
    })
}

fn check_page(args: &UploadUrlArgs, config: &Config) -> Result<(), UsageError> {
    if args.page && !config.settings.player_enabled {
        return Err(UsageError::new(
            "--page: the upload page is served with the player, which is off ([player] enabled = false); allowed: --page with the player on",
        ));
    }
    Ok(())
}

/// With `--page`: the upload page's link, the grant (without its curl line) in the
/// fragment as base64url JSON.
async fn add_page(
    session: &Session,
    args: &UploadUrlArgs,
    out: &mut GrantFields,
) -> anyhow::Result<()> {
    if !args.page {
        return Ok(());
    }
    let Some(grant) = out.grant.as_mut() else {
        return Ok(());
    };
    let domain = videos::distribution_domain(&session.ctx)
        .await
        .map_err(video_failure)?;
    let mut carried = grant.clone();
    if let Some(fields) = carried.as_object_mut() {
        fields.remove("curl");
    }
    let url = cattube_stages::catalog::upload_page_url(&domain, &carried);
    grant["page"] = json!(url);
    Ok(())
}

/// A POST grant: the `curl` line (FILE stands for the video); a multipart grant: its part
/// URLs and completion URL, one per line, after a comment line.
fn text(out: &GrantFields) -> String {
    let Some(grant) = &out.grant else {
        return String::new();
    };
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    if let Some(page) = grant["page"].as_str() {
        return format!(
            "# open in a browser to upload {} (valid until {}):\n{page}\n",
            s(&grant["key"]),
            s(&grant["expires_at"])
        );
    }
    if grant["kind"] == "multipart" {
        let parts = grant["parts"].as_array().cloned().unwrap_or_default();
        let mut out = format!(
            "# multipart upload of {} ({}, {} bytes), {} part(s) of {} bytes (the last one holds \
             the rest), valid until {}: PUT part N to its URL, \
             then POST <CompleteMultipartUpload> with each part's ETag to the last URL\n",
            s(&grant["key"]),
            s(&grant["content_type"]),
            grant["size"],
            parts.len(),
            grant["part_bytes"],
            s(&grant["expires_at"])
        );
        for (i, url) in parts.iter().enumerate() {
            out.push_str(&format!("part {} {}\n", i + 1, s(url)));
        }
        out.push_str(&format!("complete {}\n", s(&grant["complete"])));
        return out;
    }
    format!("{}\n", s(&grant["curl"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_forms_and_bounds() {
        assert_eq!(parse_expires("90s"), Ok(90));
        assert_eq!(parse_expires("15m"), Ok(900));
        assert_eq!(parse_expires("7d"), Ok(7 * 86_400));
        for bad in ["0s", "8d", "169h", "15", "m", "-1m", "1.5h"] {
            assert!(parse_expires(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_must_match_the_trigger() {
        let suffixes = vec![".mp4".to_string()];
        assert!(check_key("cats/a.mp4", &suffixes).is_ok());
        assert!(check_key("cats/a.mov", &suffixes).is_err());
        assert!(check_key("cats/", &[]).is_err());
        assert!(check_key(&"k".repeat(1025), &[]).is_err());
    }
}
