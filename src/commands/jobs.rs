//! `cattube jobs [--watch|--wait] [--limit N] [KEY]`: stage 8, the MediaConvert jobs of the
//! stack's queue, newest first, with the source key the converter recorded, status, percent
//! complete, submission time and, for failed ones, MediaConvert's error. `--watch` (or
//! `--wait`) polls (every 2 s, backing off to 10 s while nothing changes) until no job is
//! SUBMITTED or PROGRESSING; the result is printed once, at the end. With KEY only that
//! source key's jobs count, and the wait is for its newest job (which may take a few seconds
//! to appear after an upload). Below the jobs, the converter function's failed deliveries
//! (the events it failed on after Lambda's retries, kept in the failures bucket);
//! `--retry-failed` replays them first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cattube_stages::arn;
use cattube_stages::failures::{self, FailedDelivery};
use cattube_stages::videos::{self, JobInfo};
use indicatif::ProgressBar;

use crate::cli::JobsArgs;
use crate::commands::{video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{Printer, Report};

/// The fields `jobs` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct JobsFields {
    /// The queue's jobs, newest first.
    pub jobs: Vec<JobReport>,
    /// The converter function's failed deliveries (after Lambda's retries), oldest first;
    /// with `--retry-failed`, those left after the replay.
    pub failed_deliveries: Vec<FailedDeliveryReport>,
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

    async fn run(
        &self,
        at: &Invocation<'_>,
        report: &mut Report,
        fields: &mut JobsFields,
    ) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, report, fields).await
    }

    fn text(&self, report: &Report, fields: &JobsFields) -> String {
        text(report, fields)
    }
}

const FIRST_POLL: Duration = Duration::from_secs(2);
const SLOWEST_POLL: Duration = Duration::from_secs(10);
/// How long `--wait KEY` waits for the key's job to appear (S3 → Lambda → CreateJob).
const APPEAR_TIMEOUT: Duration = Duration::from_secs(60);

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
    }
    let mut bars: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut seen: BTreeMap<String, (String, Option<i32>)> = BTreeMap::new();
    // The jobs this watch saw unfinished: how they end decides the exit code.
    let mut watched: BTreeSet<String> = BTreeSet::new();
    let mut interval = FIRST_POLL;
    let started = std::time::Instant::now();
    let mut announced = false;
    let jobs = loop {
        let mut jobs = videos::jobs(ctx, usize::from(args.limit))
            .await
            .map_err(video_failure)?;
        if let Some(key) = &args.key {
            jobs.retain(|j| j.is_for(key));
            // Its newest job is the one waited for, finished or not.
            if args.watch {
                jobs.truncate(1);
                watched.extend(jobs.iter().map(|j| j.id.clone()));
            }
        }
        if !args.watch {
            break jobs;
        }
        if let (Some(key), true) = (&args.key, jobs.is_empty()) {
            if started.elapsed() >= APPEAR_TIMEOUT {
                return Err(anyhow::anyhow!(no_job_appeared(
                    key,
                    report.emulator.as_deref()
                )));
            }
            if !announced {
                printer.note(format!(
                    "waiting up to {} s for a job of '{key}' to appear in the stack's queue \
                     (the upload's S3 event runs the converter function, which submits it)",
                    APPEAR_TIMEOUT.as_secs()
                ));
                announced = true;
            }
            tokio::time::sleep(interval).await;
            continue;
        }
        let mut changed = false;
        for job in &jobs {
            if job.unfinished() {
                watched.insert(job.id.clone());
            }
            let now = (job.status.clone(), job.percent);
            if seen.get(&job.id) != Some(&now) {
                changed = true;
                if printer.plain_progress() && !printer.json() {
                    printer.note(line(job));
                }
                seen.insert(job.id.clone(), now);
            }
            if printer.progress_visible() {
                let bar = bars.entry(job.id.clone()).or_insert_with(|| {
                    let bar = printer.job_bar();
                    bar.set_prefix(job.id.clone());
                    bar
                });
                bar.set_position(job.percent.unwrap_or(0).clamp(0, 100) as u64);
                bar.set_message(format!(
                    "{:<11} {}",
                    job.status,
                    job.source_key.as_deref().unwrap_or("-")
                ));
            }
        }
        if jobs.iter().all(|j| !j.unfinished()) {
            break jobs;
        }
        interval = if changed {
            FIRST_POLL
        } else {
            (interval * 3 / 2).min(SLOWEST_POLL)
        };
        tokio::time::sleep(interval).await;
    };
    for bar in bars.values() {
        bar.finish_and_clear();
    }
    let failed = failures::list(ctx).await?.unwrap_or_default();
    fields.failed_deliveries = failed
        .into_iter()
        .filter(for_key)
        .map(failed_delivery_report)
        .collect();
    let failed: Vec<String> = jobs
        .iter()
        .filter(|j| watched.contains(&j.id) && matches!(j.status.as_str(), "ERROR" | "CANCELED"))
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
            watched.len(),
            failed.join(", ")
        ));
    }
    Ok(ExitStatus::Success)
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

/// A plain progress line while watching without a terminal.
fn line(job: &JobInfo) -> String {
    format!(
        "job {} {}: {} {}",
        job.id,
        job.source_key.as_deref().unwrap_or("-"),
        job.status,
        percent(job.percent)
    )
}

/// Why `--wait KEY` gave up. On a local emulator where no job appeared (moto runs no
/// Lambda function) that is the likely reason; an emulator that runs the converter has
/// submitted the job well within the wait, so it never gets here.
fn no_job_appeared(key: &str, emulator: Option<&str>) -> String {
    let waited = APPEAR_TIMEOUT.as_secs();
    match emulator {
        Some(url) => format!(
            "no job for '{key}' appeared in the stack's queue within {waited} s: the local \
             emulator at {url} ran no converter function for it (one without a Lambda runner, \
             as moto is, converts nothing)"
        ),
        None => format!(
            "no job for '{key}' appeared in the stack's queue within {waited} s: check the \
             key (`cattube jobs`) and that it was uploaded (`cattube upload`)"
        ),
    }
}

fn text(report: &Report, fields: &JobsFields) -> String {
    let mut out = jobs_text(report, &fields.jobs);
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
    fn a_wait_that_found_no_job_says_why_in_one_spaced_line() {
        let aws = no_job_appeared("cats/a.mp4", None);
        let local = no_job_appeared("cats/a.mp4", Some("http://127.0.0.1:5000"));
        for message in [&aws, &local] {
            assert!(!message.contains("  "), "a run of spaces: {message}");
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with("no job for 'cats/a.mp4' appeared"),
                "{message}"
            );
        }
        assert!(aws.contains("check the key"), "{aws}");
        assert!(
            local.contains("the local emulator at http://127.0.0.1:5000 ran no converter function"),
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
