//! The finished jobs of the stack's queue, each output with its billing class and the
//! duration MediaConvert reports.

use aws_sdk_mediaconvert::types::{JobStatus, Order};
use serde_json::Value;

use super::{classify, get, get_list, OutputClass};
use crate::job_template::RawBody;
use crate::videos::{list_jobs_error, VideoError};
use crate::{arn, StackContext};

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
    use crate::cost::Tier;
    use serde_json::json;

    #[test]
    fn months_start_on_the_first_at_midnight_utc() {
        // 2024-02-29T12:00:00Z (a leap day) and the first second of March.
        assert_eq!(rfc3339(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339(month_start(1_709_208_000)), "2024-02-01T00:00:00Z");
        assert_eq!(rfc3339(month_start(1_709_251_200)), "2024-03-01T00:00:00Z");
        assert_eq!(month_start(1_709_251_200), 1_709_251_200);
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
