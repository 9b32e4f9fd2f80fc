//! `cattube videos`: stage 8, the catalog the converter function keeps (`catalog.json` in
//! the destination bucket, read directly from S3): each video's key, status, duration and
//! the CloudFront URLs of its playable outputs. `--output json` gives the catalog's videos
//! with each output's `url` added.

use cattube_stages::signing::UrlSigner;
use cattube_stages::{catalog, signed, videos};
use serde_json::{json, Value};

use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::Report;

/// `cattube videos` (it takes no arguments).
pub struct VideosArgs;

/// The fields `videos` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct VideosFields {
    /// The catalog's videos, each output with its CloudFront `url`.
    pub videos: Vec<Value>,
}

impl Verb for VideosArgs {
    type Fields = VideosFields;

    async fn run(&self, at: &mut Invocation<'_, VideosFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, at.report, at.fields).await
    }

    fn text(&self, report: &Report, fields: &VideosFields) -> String {
        text(report, fields)
    }
}

async fn run(
    config: &Config,
    report: &mut Report,
    fields: &mut VideosFields,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(config, Access::Read, report).await?;
    let ctx = &*session.ctx;
    let (catalog, domain) = tokio::join!(catalog::read(ctx), videos::distribution_domain(ctx));
    let (catalog, domain) = (
        catalog.map_err(video_failure)?,
        domain.map_err(video_failure)?,
    );
    report.set_output("distribution_domain", domain.clone());
    // A private stack's URLs play only signed: each signed for an hour.
    let signer = match ctx.settings.private {
        true => Some(signed::signer(ctx).await?),
        false => None,
    };
    let expires = signed::now_plus(SIGNED_FOR);
    fields.videos = catalog
        .videos
        .iter()
        .map(|v| with_urls(v, &domain, signer.as_ref().map(|s| (s, expires))))
        .collect();
    Ok(ExitStatus::Success)
}

/// A catalog entry as the JSON document shows it: the catalog's fields, and each output's
/// CloudFront URL.
fn with_urls(video: &catalog::Video, domain: &str, signer: Option<(&UrlSigner, u64)>) -> Value {
    let mut value = json!(video);
    if let Some(outputs) = value["outputs"].as_array_mut() {
        for output in outputs {
            let path = output["path"].as_str().unwrap_or_default().to_string();
            let url = videos::cdn_url(domain, &path);
            output["url"] = json!(match signer {
                Some((signer, expires)) => signer.signed_url(&url, expires),
                None => url,
            });
        }
    }
    value
}

/// How long the URLs `videos` signs on a private stack are valid.
const SIGNED_FOR: u64 = 3_600;

fn duration(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => {
            let s = ms / 1000;
            format!("{}:{:02}", s / 60, s % 60)
        }
        None => "-".into(),
    }
}

fn text(report: &Report, fields: &VideosFields) -> String {
    let videos = &fields.videos;
    if report.error.is_some() {
        return String::new();
    }
    if videos.is_empty() {
        return "no videos in the catalog yet: a video appears when its job is submitted, a few \
                seconds after `cattube upload FILE`\n"
            .into();
    }
    let width = videos
        .iter()
        .map(|v| v["key"].as_str().unwrap_or_default().chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    let mut out = format!(
        "{:<width$}  {:<11}  {:>8}  URLS\n",
        "KEY", "STATUS", "DURATION"
    );
    for video in videos {
        let status = match (video["status"].as_str(), video["percent"].as_u64()) {
            (Some(s @ "PROGRESSING"), Some(p)) => format!("{s} {p}%"),
            (s, _) => s.unwrap_or("-").to_string(),
        };
        let urls: Vec<&str> = video["outputs"]
            .as_array()
            .map(|o| o.iter().filter_map(|o| o["url"].as_str()).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<width$}  {:<11}  {:>8}  {}\n",
            video["key"].as_str().unwrap_or_default(),
            status,
            duration(video["duration_ms"].as_u64()),
            urls.first().copied().unwrap_or("-")
        ));
        for url in urls.iter().skip(1) {
            out.push_str(&format!("{:width$}  {:11}  {:8}  {url}\n", "", "", ""));
        }
        match (video["error"].as_str(), video["limit"].as_str()) {
            (Some(error), Some(limit)) => out.push_str(&format!(
                "{:width$}  rejected, [job] {limit}: {error}\n",
                ""
            )),
            (Some(error), None) => out.push_str(&format!("{:width$}  error: {error}\n", "")),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_output_gets_its_url_and_the_table_shows_them() {
        let video: catalog::Video = serde_json::from_value(json!({
            "key": "cats/tabby cat.mp4", "status": "COMPLETE", "percent": 100,
            "job_id": "1-a", "submitted": "2026-12-02T05:00:00Z",
            "updated": "2026-12-02T05:01:00Z", "duration_ms": 61000, "error": null,
            "outputs": [{"path": "cats/tabby cat-hd.mp4", "container": "mp4", "codec": "hevc",
                         "width": 1920, "height": 1080, "bitrate": null,
                         "mime": "video/mp4; codecs=\"hvc1.1.6.L120.90,mp4a.40.2\""}]
        }))
        .unwrap();
        let value = with_urls(&video, "d1.cloudfront.net", None);
        assert_eq!(
            value["outputs"][0]["url"],
            "https://d1.cloudfront.net/cats/tabby%20cat-hd.mp4"
        );
        let report = Report::new("videos");
        let fields = VideosFields {
            videos: vec![value],
        };
        let text = text(&report, &fields);
        assert!(text.contains("cats/tabby cat.mp4  COMPLETE"), "{text}");
        assert!(text.contains("1:01"), "{text}");
    }
}
