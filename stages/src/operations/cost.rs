//! What MediaConvert bills for: each output of a job, classified the way its on-demand
//! pricing defines the classes, and the finished jobs of the stack's queue with the
//! duration of every output.
//!
//! The rules, and where they come from (MediaConvert's pricing page and API reference):
//! - Basic tier: AVC with speed-optimised or balanced single pass (`SINGLE_PASS`,
//!   `SINGLE_PASS_HQ`, the API's default), VP8 and VP9 with speed-optimised multi-pass
//!   (`MULTI_PASS`), MP3 audio. Everything else is Professional: HEVC, AV1 and the other
//!   codecs, AVC `MULTI_PASS_HQ` ("outputs that use this feature incur pro-tier pricing"),
//!   VP8/VP9 `MULTI_PASS_HQ`, and every output of a job with accelerated transcoding ("a
//!   Professional tier feature").
//! - Resolution band from the output's lines (its height): SD below 720, HD 720 to 1080, UHD
//!   above. An output that keeps the source's size is counted HD, said as an assumption.
//! - Frame-rate band: up to 30 fps, above 30 up to 60, above 60. An output that keeps the
//!   source's frame rate is counted in the lowest band, said as an assumption.
//!
//! The same classifier reads a `job.json` (member names, `OutputGroups`) and the wire JSON of
//! a ListJobs answer (`outputGroups`): keys are looked up with either first letter.

use aws_sdk_mediaconvert::types::{JobStatus, Order};
use serde::Serialize;
use serde_json::Value;

use crate::job_template::RawBody;
use crate::videos::{list_jobs_error, VideoError};
use crate::{arn, StackContext};

/// MediaConvert's two on-demand pricing tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Tier {
    Basic,
    Professional,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Basic => "Basic",
            Tier::Professional => "Professional",
        }
    }
}

/// SD, HD or UHD by the output's lines; `audio` for an output without video.
pub const RESOLUTION_BANDS: &[&str] = &["SD", "HD", "UHD", "audio"];
/// Frame-rate bands, as the pricing page names them (`<=30`, `30-60`: above 30 up to 60).
pub const FPS_BANDS: &[&str] = &["<=30", "30-60", "60-120", "-"];

/// The billing class of one output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct OutputClass {
    /// Its name modifier (`-hd`), or its group's name and position when it has none.
    pub name: String,
    pub tier: Tier,
    /// AVC, HEVC, AV1, VP8, VP9, …; the audio codec for an output without video.
    pub codec: String,
    /// `single-pass`, `single-pass-hq`, `multi-pass`, `multi-pass-hq`, or `-` for a codec
    /// without a quality tuning level.
    pub quality: String,
    pub resolution_band: &'static str,
    pub fps_band: &'static str,
    pub accelerated: bool,
    /// What makes it Professional (empty for Basic).
    pub professional_because: Vec<String>,
}

/// Every output of a job, and what had to be assumed to classify them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Classified {
    pub outputs: Vec<OutputClass>,
    pub assumptions: Vec<String>,
}

/// `key` in `value`, as written or with a lowercase first letter (wire JSON).
fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).or_else(|| {
        let mut chars = key.chars();
        let first = chars.next()?;
        value.get(format!("{}{}", first.to_ascii_lowercase(), chars.as_str()))
    })
}

fn get_str<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    get(value, key).and_then(Value::as_str)
}

fn get_list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    get(value, key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// API codec → (the member with its settings, the name the pricing page uses).
const VIDEO_CODECS: &[(&str, &str, &str)] = &[
    ("H_264", "H264Settings", "AVC"),
    ("H_265", "H265Settings", "HEVC"),
    ("AV1", "Av1Settings", "AV1"),
    ("VP8", "Vp8Settings", "VP8"),
    ("VP9", "Vp9Settings", "VP9"),
    ("MPEG2", "Mpeg2Settings", "MPEG-2"),
    ("PRORES", "ProresSettings", "ProRes"),
    ("XAVC", "XavcSettings", "XAVC"),
    ("AVC_INTRA", "AvcIntraSettings", "AVC-Intra"),
    ("VC3", "Vc3Settings", "VC-3"),
    ("UNCOMPRESSED", "UncompressedSettings", "uncompressed"),
    ("GIF", "GifSettings", "GIF"),
    ("PASSTHROUGH", "PassthroughSettings", "passthrough"),
];

/// Video preprocessors the pricing page lists as Professional-tier features.
const PROFESSIONAL_PREPROCESSORS: &[(&str, &str)] = &[
    ("Deinterlacer", "the deinterlacer"),
    ("DolbyVision", "Dolby Vision (also an add-on charge)"),
    ("Hdr10Plus", "HDR10+ (also an add-on charge)"),
];

fn quality_name(level: &str) -> String {
    level.to_ascii_lowercase().replace('_', "-")
}

fn fps_band(fps: f64) -> &'static str {
    if fps <= 30.0 {
        "<=30"
    } else if fps <= 60.0 {
        "30-60"
    } else {
        "60-120"
    }
}

/// The band of an output `lines` high.
pub fn resolution_band(lines: i64) -> &'static str {
    if lines < 720 {
        "SD"
    } else if lines <= 1080 {
        "HD"
    } else {
        "UHD"
    }
}

/// Whether a job's `AccelerationSettings` turn accelerated transcoding on.
fn accelerated(job: &Value) -> Option<&str> {
    let mode = get(job, "AccelerationSettings").and_then(|a| get_str(a, "Mode"))?;
    matches!(mode, "ENABLED" | "PREFERRED").then_some(mode)
}

/// Classifies every output of `job` (a `job.json` document, a job template, or a job from
/// ListJobs: anything with `Settings.OutputGroups`). `lines` gives, where known, each output's
/// actual height (a finished job's output details), in the same order as the outputs.
pub fn classify(job: &Value, lines: &[Option<i64>]) -> Classified {
    let mut classified = Classified::default();
    let mut assume = |text: String| {
        if !classified.assumptions.contains(&text) {
            classified.assumptions.push(text);
        }
    };
    let settings = get(job, "Settings").unwrap_or(&Value::Null);
    let acceleration = accelerated(job);
    if acceleration == Some("PREFERRED") {
        assume(
            "accelerated transcoding is PREFERRED: counted as accelerated (Professional)".into(),
        );
    }
    let mut outputs = Vec::new();
    let mut index = 0;
    for (g, group) in get_list(settings, "OutputGroups").iter().enumerate() {
        let group_name = get_str(group, "Name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("group {}", g + 1));
        for (o, output) in get_list(group, "Outputs").iter().enumerate() {
            let name = get_str(output, "NameModifier")
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{group_name} #{}", o + 1));
            let measured = lines.get(index).copied().flatten();
            index += 1;
            if let Some(class) = classify_output(output, name, acceleration, measured, &mut assume)
            {
                outputs.push(class);
            }
        }
    }
    classified.outputs = outputs;
    classified
}

fn classify_output(
    output: &Value,
    name: String,
    acceleration: Option<&str>,
    measured_lines: Option<i64>,
    assume: &mut impl FnMut(String),
) -> Option<OutputClass> {
    let mut because = Vec::new();
    if let Some(mode) = acceleration {
        because.push(format!("accelerated transcoding ({mode})"));
    }
    let Some(video) = get(output, "VideoDescription") else {
        // Audio only: the Basic tier lists MP3 audio output, nothing else.
        let codec = get_list(output, "AudioDescriptions")
            .first()
            .and_then(|a| get(a, "CodecSettings"))
            .and_then(|c| get_str(c, "Codec"))
            .unwrap_or("audio")
            .to_string();
        if codec != "MP3" {
            because.push(format!("{codec} audio-only output (Basic lists only MP3)"));
        }
        return Some(OutputClass {
            name,
            tier: if because.is_empty() {
                Tier::Basic
            } else {
                Tier::Professional
            },
            codec,
            quality: "-".into(),
            resolution_band: "audio",
            fps_band: "-",
            accelerated: acceleration.is_some(),
            professional_because: because,
        });
    };
    let codec_settings = get(video, "CodecSettings").unwrap_or(&Value::Null);
    let codec = get_str(codec_settings, "Codec").unwrap_or("H_264");
    if codec == "FRAME_CAPTURE" {
        assume(format!(
            "{name}: frame capture output, not priced as video minutes here"
        ));
        return None;
    }
    let (member, pricing_name) = VIDEO_CODECS
        .iter()
        .find(|(api, _, _)| *api == codec)
        .map(|(_, member, name)| (*member, *name))
        .unwrap_or(("", codec));
    let codec_specific = get(codec_settings, member).unwrap_or(&Value::Null);

    let level = get_str(codec_specific, "QualityTuningLevel");
    let quality = match (codec, level) {
        (_, Some(level)) => quality_name(level),
        // The API's defaults: AVC balanced single pass, VP8/VP9 speed-optimised multi-pass.
        ("H_264", None) => "single-pass-hq".into(),
        ("VP8" | "VP9", None) => "multi-pass".into(),
        _ => "-".into(),
    };
    match codec {
        "H_264" if quality == "multi-pass-hq" => {
            because.push("AVC multi-pass HQ (Basic allows single pass)".into())
        }
        "H_264" => {}
        "VP8" | "VP9" if quality == "multi-pass-hq" => because.push(format!(
            "{pricing_name} multi-pass HQ (Basic allows speed-optimised multi-pass)"
        )),
        "VP8" | "VP9" => {}
        _ => because.push(format!("{pricing_name} is a Professional-tier codec")),
    }
    let preprocessors = get(video, "VideoPreprocessors").unwrap_or(&Value::Null);
    for (key, what) in PROFESSIONAL_PREPROCESSORS {
        if get(preprocessors, key).is_some() {
            because.push((*what).to_string());
        }
    }

    let height = get(video, "Height").and_then(Value::as_i64);
    let width = get(video, "Width").and_then(Value::as_i64);
    let lines = match (measured_lines, height, width) {
        (Some(lines), _, _) => lines,
        (None, Some(height), _) => height,
        (None, None, Some(width)) => {
            assume(format!(
                "{name}: {width} wide with no height: counted as 16:9 ({} lines)",
                width * 9 / 16
            ));
            width * 9 / 16
        }
        (None, None, None) => {
            assume(format!(
                "{name}: keeps the source's size: counted as HD (a source above 1080 lines bills as UHD, below 720 as SD)"
            ));
            1080
        }
    };

    let control = get_str(codec_specific, "FramerateControl");
    let numerator = get(codec_specific, "FramerateNumerator").and_then(Value::as_f64);
    let denominator = get(codec_specific, "FramerateDenominator").and_then(Value::as_f64);
    let fps = match (control, numerator, denominator) {
        (Some("SPECIFIED"), Some(n), Some(d)) if d > 0.0 => fps_band(n / d),
        _ => {
            assume(format!(
                "{name}: keeps the source's frame rate: counted as up to 30 fps (a faster source bills higher)"
            ));
            "<=30"
        }
    };

    Some(OutputClass {
        name,
        tier: if because.is_empty() {
            Tier::Basic
        } else {
            Tier::Professional
        },
        codec: pricing_name.to_string(),
        quality,
        resolution_band: resolution_band(lines),
        fps_band: fps,
        accelerated: acceleration.is_some(),
        professional_because: because,
    })
}

// ---------------------------------------------------------------------------------------
// finished jobs

/// One output of a finished job, as billed.
#[derive(Clone, Debug, PartialEq)]
pub struct BilledOutput {
    pub class: OutputClass,
    /// What MediaConvert reports in the job's output details.
    pub duration_ms: i64,
}

/// A COMPLETE job of the stack's queue.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishedJob {
    pub id: String,
    /// When it was created, seconds since the epoch.
    pub created: i64,
    pub outputs: Vec<BilledOutput>,
    pub assumptions: Vec<String>,
}

/// Each output's duration and height from a job's `outputGroupDetails`, in output order.
fn output_details(job: &Value) -> Vec<(Option<i64>, Option<i64>)> {
    get_list(job, "OutputGroupDetails")
        .iter()
        .flat_map(|group| get_list(group, "OutputDetails"))
        .map(|detail| {
            (
                get(detail, "DurationInMs").and_then(Value::as_i64),
                get(detail, "VideoDetails")
                    .and_then(|v| get(v, "HeightInPx"))
                    .and_then(Value::as_i64),
            )
        })
        .collect()
}

/// The billed outputs of one finished job (wire or member-name JSON).
pub fn finished_job(id: &str, created: i64, job: &Value) -> FinishedJob {
    let details = output_details(job);
    let lines: Vec<Option<i64>> = details.iter().map(|(_, lines)| *lines).collect();
    let classified = classify(job, &lines);
    let mut assumptions = classified.assumptions;
    if details.len() != classified.outputs.len() {
        assumptions.push(format!(
            "job {id}: {} output details for {} outputs; the outputs without one are not counted",
            details.len(),
            classified.outputs.len()
        ));
    }
    let outputs = classified
        .outputs
        .into_iter()
        .zip(details)
        .filter_map(|(class, (duration, _))| {
            duration.map(|duration_ms| BilledOutput { class, duration_ms })
        })
        .collect();
    FinishedJob {
        id: id.to_string(),
        created,
        outputs,
        assumptions,
    }
}

/// ListJobs returns at most this many jobs per page.
const PAGE: i32 = 20;

/// The COMPLETE jobs of the stack's queue created at or after `since` (seconds since the
/// epoch; `None`: every job the queue still lists), newest first. ListJobs is read page by
/// page, newest first, until a page reaches past `since`.
pub async fn finished_jobs(
    ctx: &StackContext,
    since: Option<i64>,
) -> Result<Vec<FinishedJob>, VideoError> {
    let queue = arn::queue(ctx, crate::queue::ID);
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    // Paged by hand: each page's raw body is read through an interceptor, which the SDK's
    // paginator has no way to carry.
    loop {
        let raw = RawBody::default();
        let page = ctx
            .clients
            .mediaconvert
            .list_jobs()
            .queue(&queue)
            .status(JobStatus::Complete)
            .order(Order::Descending)
            .max_results(PAGE)
            .set_next_token(token.take())
            .customize()
            .interceptor(raw.clone())
            .send()
            .await;
        let page = page.map_err(|e| list_jobs_error(ctx, &e))?;
        let body: Value = raw
            .0
            .lock()
            .expect("raw body lock")
            .take()
            .and_then(|body| serde_json::from_slice(&body).ok())
            .unwrap_or(Value::Null);
        let raw_jobs = get_list(&body, "Jobs");
        let mut past_since = false;
        for (i, job) in page.jobs().iter().enumerate() {
            let created = job.created_at().map(|t| t.secs()).unwrap_or_default();
            if since.is_some_and(|since| created < since) {
                past_since = true;
                continue;
            }
            let raw_job = raw_jobs.get(i).unwrap_or(&Value::Null);
            found.push(finished_job(job.id().unwrap_or_default(), created, raw_job));
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(next) if !past_since => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(found)
}

/// `secs` (since the epoch) as RFC 3339, UTC.
pub fn rfc3339(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The start (seconds since the epoch) of the calendar month, UTC, that `secs` falls in.
pub fn month_start(secs: i64) -> i64 {
    let text = rfc3339(secs);
    let start = format!("{}-01T00:00:00Z", &text[..7]);
    aws_smithy_types::DateTime::from_str(&start, aws_smithy_types::date_time::Format::DateTime)
        .map(|t| t.secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn classes(job: &Value) -> Vec<(Tier, String, &'static str, &'static str)> {
        classify(job, &[])
            .outputs
            .into_iter()
            .map(|o| (o.tier, o.codec, o.resolution_band, o.fps_band))
            .collect()
    }

    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        // 2024-02-29T12:00:00Z (a leap day) and the first second of March.
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339(month_start(1_709_208_000)), "2024-02-01T00:00:00Z");
        assert_eq!(rfc3339(month_start(1_709_251_200)), "2024-03-01T00:00:00Z");
        assert_eq!(month_start(1_709_251_200), 1_709_251_200);
    }

    #[test]
    fn the_default_job_json_is_two_professional_outputs() {
        let job: Value = serde_json::from_str(crate::context::DEFAULT_JOB_JSON).unwrap();
        let classified = classify(&job, &[]);
        assert_eq!(
            classes(&job),
            vec![
                (Tier::Professional, "HEVC".into(), "HD", "<=30"),
                (Tier::Professional, "AV1".into(), "SD", "<=30"),
            ]
        );
        let names: Vec<&str> = classified.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["-hd", "-sd"]);
        // The HEVC output keeps the source's size; both keep its frame rate.
        let assumptions = classified.assumptions.join("\n");
        assert!(
            assumptions.contains("-hd: keeps the source's size"),
            "{assumptions}"
        );
        assert!(
            !assumptions.contains("-sd: keeps the source's size"),
            "{assumptions}"
        );
        assert!(
            assumptions.contains("-sd: keeps the source's frame rate"),
            "{assumptions}"
        );
    }

    #[test]
    fn avc_is_basic_unless_multi_pass_hq() {
        let job = |level: Option<&str>| {
            let mut h264 = json!({"RateControlMode": "QVBR"});
            if let Some(level) = level {
                h264["QualityTuningLevel"] = json!(level);
            }
            json!({"Settings": {"OutputGroups": [{"Outputs": [{"VideoDescription": {
                "Width": 1280, "Height": 720,
                "CodecSettings": {"Codec": "H_264", "H264Settings": h264}}}]}]}})
        };
        for (level, tier, quality) in [
            (None, Tier::Basic, "single-pass-hq"),
            (Some("SINGLE_PASS"), Tier::Basic, "single-pass"),
            (Some("SINGLE_PASS_HQ"), Tier::Basic, "single-pass-hq"),
            (Some("MULTI_PASS_HQ"), Tier::Professional, "multi-pass-hq"),
        ] {
            let out = &classify(&job(level), &[]).outputs[0];
            assert_eq!(
                (out.tier, out.quality.as_str()),
                (tier, quality),
                "{level:?}"
            );
            assert_eq!(out.resolution_band, "HD");
        }
    }

    #[test]
    fn bands_follow_lines_and_frame_rate() {
        for (lines, band) in [
            (719, "SD"),
            (720, "HD"),
            (1080, "HD"),
            (1081, "UHD"),
            (2160, "UHD"),
        ] {
            assert_eq!(resolution_band(lines), band, "{lines}");
        }
        let job = |n: i64, d: i64| {
            json!({"Settings": {"OutputGroups": [{"Outputs": [{"VideoDescription": {
                "Height": 480, "CodecSettings": {"Codec": "VP9", "Vp9Settings": {
                    "FramerateControl": "SPECIFIED", "FramerateNumerator": n,
                    "FramerateDenominator": d}}}}]}]}})
        };
        for ((n, d), band) in [
            ((30, 1), "<=30"),
            ((30000, 1001), "<=30"),
            ((60000, 1001), "30-60"),
            ((60, 1), "30-60"),
            ((120, 1), "60-120"),
        ] {
            let out = &classify(&job(n, d), &[]).outputs[0];
            assert_eq!((out.tier, out.fps_band), (Tier::Basic, band), "{n}/{d}");
        }
    }

    #[test]
    fn acceleration_and_professional_features_make_basic_outputs_professional() {
        let avc = json!({"Height": 360, "CodecSettings": {"Codec": "H_264", "H264Settings": {}}});
        let mut job =
            json!({"Settings": {"OutputGroups": [{"Outputs": [{"VideoDescription": avc}]}]}});
        assert_eq!(classify(&job, &[]).outputs[0].tier, Tier::Basic);
        job["AccelerationSettings"] = json!({"Mode": "ENABLED"});
        let out = &classify(&job, &[]).outputs[0];
        assert_eq!(out.tier, Tier::Professional);
        assert!(out.accelerated);
        job["AccelerationSettings"] = json!({"Mode": "DISABLED"});
        job["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]
            ["VideoPreprocessors"] = json!({"Deinterlacer": {}});
        let out = &classify(&job, &[]).outputs[0];
        assert_eq!(out.tier, Tier::Professional);
        assert_eq!(out.professional_because, ["the deinterlacer"]);
    }

    #[test]
    fn wire_json_and_measured_heights_are_read() {
        let job = json!({"settings": {"outputGroups": [{"outputs": [
            {"nameModifier": "-a", "videoDescription": {"codecSettings": {"codec": "H_264"}}},
            {"nameModifier": "-b", "audioDescriptions": [{"codecSettings": {"codec": "MP3"}}]}]}]},
            "outputGroupDetails": [{"outputDetails": [
                {"durationInMs": 61000, "videoDetails": {"widthInPx": 3840, "heightInPx": 2160}},
                {"durationInMs": 61000}]}]});
        let finished = finished_job("j", 0, &job);
        let got: Vec<(&str, Tier, &str, i64)> = finished
            .outputs
            .iter()
            .map(|o| {
                (
                    o.class.name.as_str(),
                    o.class.tier,
                    o.class.resolution_band,
                    o.duration_ms,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("-a", Tier::Basic, "UHD", 61000),
                ("-b", Tier::Basic, "audio", 61000)
            ]
        );
    }
}
