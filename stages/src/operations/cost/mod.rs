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

mod classify;
mod finished;

pub use classify::{
    classify, resolution_band, Classified, OutputClass, Tier, FPS_BANDS, RESOLUTION_BANDS,
};
pub use finished::{finished_job, finished_jobs, month_start, rfc3339, BilledOutput, FinishedJob};

use serde_json::Value;

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
