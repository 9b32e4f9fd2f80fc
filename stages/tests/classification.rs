//! The billing classes of MediaConvert's own sample job settings (tests/fixtures) and of the
//! shipped default job.json.

use cattube_stages::cost::{classify, Tier};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// (name, tier, codec, resolution band, fps band, accelerated) of every output.
fn classes(job: &Value) -> Vec<(String, Tier, String, &'static str, &'static str, bool)> {
    classify(job, &[])
        .outputs
        .into_iter()
        .map(|o| {
            (
                o.name,
                o.tier,
                o.codec,
                o.resolution_band,
                o.fps_band,
                o.accelerated,
            )
        })
        .collect()
}

fn row(
    name: &str,
    tier: Tier,
    codec: &str,
    band: &'static str,
    fps: &'static str,
    accelerated: bool,
) -> (String, Tier, String, &'static str, &'static str, bool) {
    (name.into(), tier, codec.into(), band, fps, accelerated)
}

#[test]
fn hls_ladder_is_five_basic_avc_outputs() {
    use Tier::Basic;
    assert_eq!(
        classes(&fixture("hls-ladder")),
        vec![
            row("_1080p", Basic, "AVC", "HD", "<=30", false),
            row("_720p", Basic, "AVC", "HD", "<=30", false),
            row("_540p", Basic, "AVC", "SD", "<=30", false),
            row("_360p", Basic, "AVC", "SD", "<=30", false),
            row("_270p", Basic, "AVC", "SD", "<=30", false),
        ]
    );
}

#[test]
fn uhd_hevc_at_59_94_is_professional_uhd_in_the_60_band() {
    assert_eq!(
        classes(&fixture("4k-hevc")),
        vec![row(
            "_2160p",
            Tier::Professional,
            "HEVC",
            "UHD",
            "30-60",
            false
        )]
    );
    // Its frame rate is given, so nothing about it is assumed.
    let assumptions = classify(&fixture("4k-hevc"), &[]).assumptions;
    assert!(assumptions.is_empty(), "{assumptions:?}");
}

#[test]
fn av1_is_professional() {
    assert_eq!(
        classes(&fixture("av1")),
        vec![row("_av1", Tier::Professional, "AV1", "HD", "<=30", false)]
    );
}

#[test]
fn acceleration_makes_every_output_professional() {
    let job = fixture("accelerated");
    assert_eq!(
        classes(&job),
        vec![
            row(
                "File Group #1",
                Tier::Professional,
                "HEVC",
                "HD",
                "<=30",
                true
            ),
            row("_avc", Tier::Professional, "AVC", "HD", "<=30", true),
        ]
    );
    let classified = classify(&job, &[]);
    assert_eq!(
        classified.outputs[1].professional_because,
        ["accelerated transcoding (ENABLED)"]
    );
    // The same AVC output without acceleration is Basic.
    let mut off = job.clone();
    off["AccelerationSettings"]["Mode"] = "DISABLED".into();
    assert_eq!(classify(&off, &[]).outputs[1].tier, Tier::Basic);
}
