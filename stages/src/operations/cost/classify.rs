//! The billing class of each output of a job: tier, codec, quality, resolution and frame-rate
//! bands, and why an output is Professional.

use serde::Serialize;
use serde_json::Value;

use super::{get, get_list, get_str};

/// MediaConvert's two on-demand pricing tiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Tier {
    Basic,
    Professional,
}

impl Tier {
    /// Professional when anything makes it so, Basic otherwise.
    fn given(professional_because: &[String]) -> Tier {
        if professional_because.is_empty() {
            Tier::Basic
        } else {
            Tier::Professional
        }
    }

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
        return Some(audio_only(output, name, acceleration, because));
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
    let quality = quality(codec, codec_specific);
    because.extend(codec_reason(codec, pricing_name, &quality));
    let preprocessors = get(video, "VideoPreprocessors").unwrap_or(&Value::Null);
    for (key, what) in PROFESSIONAL_PREPROCESSORS {
        if get(preprocessors, key).is_some() {
            because.push((*what).to_string());
        }
    }
    Some(OutputClass {
        resolution_band: resolution_band(lines(video, &name, measured_lines, assume)),
        fps_band: frame_rate_band(codec_specific, &name, assume),
        name,
        tier: Tier::given(&because),
        codec: pricing_name.to_string(),
        quality,
        accelerated: acceleration.is_some(),
        professional_because: because,
    })
}

/// An output without video: the Basic tier lists MP3 audio output, nothing else.
fn audio_only(
    output: &Value,
    name: String,
    acceleration: Option<&str>,
    mut because: Vec<String>,
) -> OutputClass {
    let codec = get_list(output, "AudioDescriptions")
        .first()
        .and_then(|a| get(a, "CodecSettings"))
        .and_then(|c| get_str(c, "Codec"))
        .unwrap_or("audio")
        .to_string();
    if codec != "MP3" {
        because.push(format!("{codec} audio-only output (Basic lists only MP3)"));
    }
    OutputClass {
        name,
        tier: Tier::given(&because),
        codec,
        quality: "-".into(),
        resolution_band: "audio",
        fps_band: "-",
        accelerated: acceleration.is_some(),
        professional_because: because,
    }
}

/// The quality tuning level's name, or the API's default for the codec.
fn quality(codec: &str, codec_specific: &Value) -> String {
    match (codec, get_str(codec_specific, "QualityTuningLevel")) {
        (_, Some(level)) => quality_name(level),
        // The API's defaults: AVC balanced single pass, VP8/VP9 speed-optimised multi-pass.
        ("H_264", None) => "single-pass-hq".into(),
        ("VP8" | "VP9", None) => "multi-pass".into(),
        _ => "-".into(),
    }
}

/// What makes the codec (at this quality) Professional, if anything does.
fn codec_reason(codec: &str, pricing_name: &str, quality: &str) -> Option<String> {
    match codec {
        "H_264" if quality == "multi-pass-hq" => {
            Some("AVC multi-pass HQ (Basic allows single pass)".into())
        }
        "VP8" | "VP9" if quality == "multi-pass-hq" => Some(format!(
            "{pricing_name} multi-pass HQ (Basic allows speed-optimised multi-pass)"
        )),
        "H_264" | "VP8" | "VP9" => None,
        _ => Some(format!("{pricing_name} is a Professional-tier codec")),
    }
}

/// The output's lines: measured, else its height, else from its width at 16:9, else the
/// source's (assumed HD).
fn lines(
    video: &Value,
    name: &str,
    measured_lines: Option<i64>,
    assume: &mut impl FnMut(String),
) -> i64 {
    let height = get(video, "Height").and_then(Value::as_i64);
    let width = get(video, "Width").and_then(Value::as_i64);
    match (measured_lines, height, width) {
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
    }
}

/// The band of the frame rate the output specifies; the lowest when it keeps the source's.
fn frame_rate_band(
    codec_specific: &Value,
    name: &str,
    assume: &mut impl FnMut(String),
) -> &'static str {
    let control = get_str(codec_specific, "FramerateControl");
    let numerator = get(codec_specific, "FramerateNumerator").and_then(Value::as_f64);
    let denominator = get(codec_specific, "FramerateDenominator").and_then(Value::as_f64);
    match (control, numerator, denominator) {
        (Some("SPECIFIED"), Some(n), Some(d)) if d > 0.0 => fps_band(n / d),
        _ => {
            assume(format!(
                "{name}: keeps the source's frame rate: counted as up to 30 fps (a faster source bills higher)"
            ));
            "<=30"
        }
    }
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
}
