//! `cattube jobs [--watch|--wait] [--limit N] [KEY]`: stage 8, the MediaConvert jobs of the
//! stack's queue, newest first, with the source key the converter recorded, status, percent
//! complete, submission time and, for failed ones, MediaConvert's error. `--watch` (or
//! `--wait`) polls (every 2 s, backing off to 10 s while nothing changes) until no job is
//! SUBMITTED or PROGRESSING; the result is printed once, at the end. With KEY only that
//! source key's jobs count, and the wait is for its newest job (which may take a few seconds
//! to appear after an upload). Below the jobs, the converter function's failed deliveries
//! (the events it failed on after Lambda's retries, kept in the failures bucket);
//! `--retry-failed` replays them first.

mod watch;

use cattube_stages::converter_role::REJECTED_TAG;
use cattube_stages::failures::{self, FailedDelivery};
use cattube_stages::videos::JobInfo;
use cattube_stages::{arn, catalog, StackContext};

use crate::cli::JobsArgs;
use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{Printer, Report};
use watch::Watch;

/// The fields `jobs` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct JobsFields {
    /// The queue's jobs, newest first.
    pub jobs: Vec<JobReport>,
    /// The converter function's failed deliveries (after Lambda's retries), oldest first;
    /// with `--retry-failed`, those left after the replay.
    pub failed_deliveries: Vec<FailedDeliveryReport>,
    /// The uploads a `[job]` limit rejected (no job), from the catalog.
    pub rejected: Vec<RejectedReport>,
}

/// One upload a `[job]` limit rejected: no job was submitted for it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedReport {
    pub source_key: String,
    /// The `[job]` key whose limit it is over.
    pub limit: Option<String>,
    pub reason: Option<String>,
    pub rejected_at: String,
}

/// One MediaConvert job of the stack's queue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobReport {
    pub id: String,
    pub source_key: Option<String>,
    pub status: String,
    pub percent: Option<i32>,
    pub submitted: Option<String>,
    pub error: Option<String>,
}

/// One failed delivery of the converter function.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailedDeliveryReport {
    /// Its record's key in the failures bucket.
    pub record: String,
    pub failed_at: Option<String>,
    /// The upload's source key, or `job <id>` for a job event.
    pub source_key: Option<String>,
    pub error: Option<String>,
    pub attempts: Option<i64>,
}

impl Verb for JobsArgs {
    type Fields = JobsFields;

    async fn run(&self, at: &mut Invocation<'_, JobsFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, report: &Report, fields: &JobsFields) -> String {
        text(report, fields)
    }
}

async fn run(
    config: &Config,
    args: &JobsArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut JobsFields,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(config, Access::Read, report).await?;
    let ctx = &*session.ctx;
    report.set_output("queue_arn", arn::queue(ctx, cattube_stages::queue::ID));
    let for_key = |f: &FailedDelivery| args.key.is_none() || f.subject == args.key;
    if args.retry_failed {
        replay_failed(ctx, printer, for_key).await?;
    }
    let mut watch = Watch::default();
    let jobs = watch.poll(ctx, args, printer, report, fields).await?;
    for bar in watch.bars.values() {
        bar.finish_and_clear();
    }
    let failed = failures::list(ctx).await?.unwrap_or_default();
    fields.failed_deliveries = failed
        .into_iter()
        .filter(for_key)
        .map(failed_delivery_report)
        .collect();
    fields.rejected = rejections(ctx, args, report).await;
    let failed: Vec<String> = jobs
        .iter()
        .filter(|j| {
            watch.watched.contains(&j.id) && matches!(j.status.as_str(), "ERROR" | "CANCELED")
        })
        .map(|j| {
            format!(
                "{} {} ({})",
                j.id,
                j.status,
                j.source_key.as_deref().unwrap_or("no source key")
            )
        })
        .collect();
    fields.jobs = jobs.into_iter().map(job_report).collect();
    if !failed.is_empty() {
        return Err(anyhow::anyhow!(
            "{} of {} watched jobs did not complete: {}",
            failed.len(),
            watch.watched.len(),
            failed.join(", ")
        ));
    }
    Ok(ExitStatus::Success)
}

/// `--retry-failed`: every failed delivery (of KEY, with one) sent to the function again.
async fn replay_failed(
    ctx: &StackContext,
    printer: &Printer,
    for_key: impl Fn(&FailedDelivery) -> bool,
) -> anyhow::Result<()> {
    let failed = failures::list(ctx).await?.unwrap_or_default();
    let mut replayed = 0;
    for delivery in failed.iter().filter(|f| for_key(f)) {
        failures::replay(ctx, delivery).await?;
        replayed += 1;
        printer.note(format!(
            "replayed the failed delivery of {} ({})",
            delivery.subject.as_deref().unwrap_or("an event"),
            delivery.record
        ));
    }
    if replayed == 0 {
        printer.note("no failed deliveries to replay");
    }
    Ok(())
}

/// The uploads a `[job]` limit rejected (KEY's, with one). The rejections are the
/// catalog's: without it (a stack half up), the jobs alone.
async fn rejections(
    ctx: &StackContext,
    args: &JobsArgs,
    report: &mut Report,
) -> Vec<RejectedReport> {
    let videos = match catalog::read(ctx).await {
        Ok(catalog) => catalog.videos,
        Err(err) => {
            report.warnings.push(format!(
                "rejected uploads not listed: the catalog could not be read: {}",
                video_failure(err)
            ));
            Vec::new()
        }
    };
    videos
        .iter()
        .filter(|v| v.rejected() && args.key.as_ref().is_none_or(|k| k == &v.key))
        .map(rejected_report)
        .collect()
}

fn job_report(job: JobInfo) -> JobReport {
    JobReport {
        id: job.id,
        source_key: job.source_key,
        status: job.status,
        percent: job.percent,
        submitted: job.submitted,
        error: job.error,
    }
}

fn rejected_report(video: &catalog::Video) -> RejectedReport {
    RejectedReport {
        source_key: video.key.clone(),
        limit: video.limit.clone(),
        reason: video.error.clone(),
        rejected_at: video.updated.clone(),
    }
}

/// Why `--wait KEY` ends at once: the upload is over a limit and has no job.
fn rejected_message(video: &catalog::Video) -> String {
    format!(
        "'{}' was rejected ({}) and has no job: {}",
        video.key,
        video
            .limit
            .as_deref()
            .map_or("a [job] limit".to_string(), |l| format!("[job] {l}")),
        video.error.as_deref().unwrap_or("no reason recorded")
    )
}

fn failed_delivery_report(failed: FailedDelivery) -> FailedDeliveryReport {
    FailedDeliveryReport {
        record: failed.record,
        failed_at: failed.failed_at,
        source_key: failed.subject,
        error: failed.error,
        attempts: failed.attempts,
    }
}

fn percent(p: Option<i32>) -> String {
    p.map(|p| format!("{p}%")).unwrap_or_else(|| "-".into())
}

fn text(report: &Report, fields: &JobsFields) -> String {
    let mut out = jobs_text(report, &fields.jobs);
    let rejected = &fields.rejected;
    if !rejected.is_empty() {
        out.push_str(&format!(
            "\n{} rejected uploads (over a [job] limit: no job, nothing billed; the object is \
             kept, tagged {REJECTED_TAG}):\n",
            rejected.len()
        ));
        for upload in rejected {
            out.push_str(&format!(
                "{:<20}  {}  [job] {}: {}\n",
                upload.rejected_at,
                upload.source_key,
                upload.limit.as_deref().unwrap_or("-"),
                upload.reason.as_deref().unwrap_or("-"),
            ));
        }
    }
    let failed = &fields.failed_deliveries;
    if !failed.is_empty() {
        out.push_str(&format!(
            "\n{} failed deliveries (the converter function failed on them after Lambda's \
             retries; `cattube jobs --retry-failed` replays them):\n",
            failed.len()
        ));
        for delivery in failed {
            out.push_str(&format!(
                "{:<24}  {}  ({} attempts)\n{:>26}error: {}\n",
                delivery.failed_at.as_deref().unwrap_or("-"),
                delivery.source_key.as_deref().unwrap_or("-"),
                delivery
                    .attempts
                    .map_or_else(|| "?".to_string(), |n| n.to_string()),
                "",
                delivery.error.as_deref().unwrap_or("-"),
            ));
        }
    }
    out
}

fn jobs_text(report: &Report, jobs: &[JobReport]) -> String {
    // A failed watch still shows how its jobs ended; any other error has nothing to show.
    if report.error.is_some() && jobs.is_empty() {
        return String::new();
    }
    if jobs.is_empty() {
        return match &report.emulator {
            Some(url) => format!(
                "no jobs in the stack's queue: the local emulator at {url} runs no Lambda \
                 function, so uploads start none there\n"
            ),
            None => "no jobs in the stack's queue yet: a job appears a few seconds after \
                     `cattube upload FILE`\n"
                .into(),
        };
    }
    // Whole ids: MediaConvert's are about 20 characters; wider ones widen the column.
    let width = jobs.iter().map(|j| j.id.len()).max().unwrap_or(0).max(20);
    let mut out = format!(
        "{:<20}  {:<11}  {:>4}  {:<width$}  SOURCE KEY\n",
        "SUBMITTED", "STATUS", "%", "JOB"
    );
    for job in jobs {
        out.push_str(&format!(
            "{:<20}  {:<11}  {:>4}  {:<width$}  {}\n",
            job.submitted.as_deref().unwrap_or("-"),
            job.status,
            percent(job.percent),
            job.id,
            job.source_key.as_deref().unwrap_or("-"),
        ));
        if let Some(error) = &job.error {
            out.push_str(&format!("{:>22}error: {error}\n", ""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_queue_says_what_to_expect_where_it_runs() {
        let mut report = Report::new("jobs");
        let none = JobsFields::default();
        let aws = text(&report, &none);
        assert!(aws.contains("a job appears a few seconds after"), "{aws}");
        report.emulator = Some("http://127.0.0.1:5000".into());
        let local = text(&report, &none);
        assert!(
            local.contains("the local emulator at http://127.0.0.1:5000 runs no Lambda"),
            "{local}"
        );
    }

    #[test]
    fn whole_ids_are_shown() {
        let report = Report::new("jobs");
        let id = "1712345678901-abcdef-and-more";
        let jobs = vec![JobReport {
            id: id.into(),
            source_key: Some("cats/a.mp4".into()),
            status: "COMPLETE".into(),
            percent: Some(100),
            submitted: None,
            error: None,
        }];
        assert!(jobs_text(&report, &jobs).contains(id));
    }
}
