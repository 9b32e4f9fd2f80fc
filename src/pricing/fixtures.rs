//! What the unit tests of the estimate and the bill price with: a table of one's own, not
//! AWS's figures, and job settings of AVC outputs.

use serde_json::json;

use super::PriceTable;

/// A table of one's own for the arithmetic (not AWS figures): two bands for Basic in
/// us-east-1, one for Professional, and the multipliers of an AVC ladder; one row a line
/// (TOML's inline form of the same `[[rate]]` and `[[multiplier]]` tables).
const OWN: &str = r#"currency = "USD"
date = "2026-12-07"
rate = [
    { region = "us-east-1", tier = "Basic", bands = [{ from = 0, usd-per-normalized-minute = 0.01 }, { from = 1000, usd-per-normalized-minute = 0.004 }], source = "https://example.com/my-contract", read = "2026-12-07" },
    { region = "us-east-1", tier = "Professional", bands = [{ from = 0, usd-per-normalized-minute = 0.02 }], source = "https://example.com/my-contract", read = "2026-12-07" },
]
multiplier = [
    { codec = "AVC", resolution = "SD", fps = "<=30", factor = 1.0, source = "https://example.com/my-contract", read = "2026-12-07" },
    { codec = "AVC", resolution = "HD", fps = "<=30", factor = 2.0, source = "https://example.com/my-contract", read = "2026-12-07" },
    { codec = "AVC", resolution = "HD", fps = "<=30", quality = "multi-pass-hq", factor = 3.0, source = "https://example.com/my-contract", read = "2026-12-07" },
]
"#;

/// The table of one's own above.
pub fn own() -> PriceTable {
    PriceTable::parse(OWN, "own.toml").unwrap()
}

/// An H.264 output `height` lines high, at 30 fps, with `quality` tuning.
pub fn avc(height: i64, quality: &str) -> serde_json::Value {
    json!({"VideoDescription": {"Height": height, "CodecSettings": {"Codec": "H_264",
        "H264Settings": {"QualityTuningLevel": quality, "FramerateControl": "SPECIFIED",
        "FramerateNumerator": 30, "FramerateDenominator": 1}}}})
}

/// Job settings of one output group of `outputs`.
pub fn job(outputs: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"Settings": {"OutputGroups": [{"Outputs": outputs}]}})
}
