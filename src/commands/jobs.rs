//! `cattube jobs [--watch] [--limit N]`: stage 8, the MediaConvert jobs of the stack's queue,
//! newest first, with the source key the converter recorded, status, percent complete,
//! submission time and, for failed ones, MediaConvert's error. `--watch` polls (every 2 s,
//! backing off to 10 s while nothing changes) until no job is SUBMITTED or PROGRESSING; the
//! result is printed once, at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use cattube_stages::arn;
use cattube_stages::videos::{self, JobInfo};
use indicatif::ProgressBar;

use crate::cli::JobsArgs;
use crate::commands::{video_failure, Access, Session};
use crate::config::Config;
use crate::error::exit;
use crate::printer::{JobReport, Printer, Report};

const FIRST_POLL: Duration = Duration::from_secs(2);
const SLOWEST_POLL: Duration = Duration::from_secs(10);

pub async fn run(
    config: &Config,
    args: &JobsArgs,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<u8> {
    let session = Session::open(config, Access::Read, report).await?;
    let ctx = &*session.ctx;
    report.set_output("queue_arn", arn::queue(ctx));
    let mut bars: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let mut seen: BTreeMap<String, (String, Option<i32>)> = BTreeMap::new();
    let mut interval = FIRST_POLL;
    let jobs = loop {
        let jobs = videos::jobs(ctx, usize::from(args.limit))
            .await
            .map_err(video_failure)?;
        if !args.watch {
            break jobs;
        }
        let mut changed = false;
        for job in &jobs {
            let now = (job.status.clone(), job.percent);
            if seen.get(&job.id) != Some(&now) {
                changed = true;
                if printer.plain_progress() && !printer.json() {
                    eprintln!("{}", line(job));
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
    report.jobs = Some(jobs.into_iter().map(job_report).collect());
    Ok(exit::OK)
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

pub fn text(report: &Report) -> String {
    let jobs = report.jobs.as_deref().unwrap_or_default();
    if report.error.is_some() {
        return String::new();
    }
    if jobs.is_empty() {
        return "no jobs in the stack's queue yet: `cattube upload FILE` starts one\n".into();
    }
    let mut out = format!(
        "{:<20}  {:<11}  {:>4}  {:<20}  SOURCE KEY\n",
        "SUBMITTED", "STATUS", "%", "JOB"
    );
    for job in jobs {
        out.push_str(&format!(
            "{:<20}  {:<11}  {:>4}  {:<20}  {}\n",
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
