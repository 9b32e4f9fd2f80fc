//! `--watch` (or `--wait`): the queue polled until no job is unfinished, each job's
//! progress on its bar or, without a terminal, as a line.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cattube_stages::videos::{self, JobInfo};
use cattube_stages::{catalog, StackContext};
use indicatif::ProgressBar;

use super::{percent, rejected_message, rejected_report, JobsFields};
use crate::cli::JobsArgs;
use crate::commands::video_failure;
use crate::printer::{Printer, Report};

const FIRST_POLL: Duration = Duration::from_secs(2);
const SLOWEST_POLL: Duration = Duration::from_secs(10);
/// How long `--wait KEY` waits for the key's job to appear (S3 → Lambda → CreateJob).
const APPEAR_TIMEOUT: Duration = Duration::from_secs(60);

/// What `--watch` keeps from one poll to the next.
#[derive(Default)]
pub(super) struct Watch {
    pub(super) bars: BTreeMap<String, ProgressBar>,
    seen: BTreeMap<String, (String, Option<i32>)>,
    /// The jobs this watch saw unfinished: how they end decides the exit code.
    pub(super) watched: BTreeSet<String>,
}

impl Watch {
    /// The jobs, once; with `--watch`, polled until none is unfinished.
    pub(super) async fn poll(
        &mut self,
        ctx: &StackContext,
        args: &JobsArgs,
        printer: &Printer,
        report: &Report,
        fields: &mut JobsFields,
    ) -> anyhow::Result<Vec<JobInfo>> {
        let mut interval = FIRST_POLL;
        let started = std::time::Instant::now();
        let mut announced = false;
        loop {
            let mut jobs = videos::jobs(ctx, usize::from(args.limit))
                .await
                .map_err(video_failure)?;
            if let Some(key) = &args.key {
                jobs.retain(|j| j.is_for(key));
                // Its newest job is the one waited for, finished or not.
                if args.watch {
                    jobs.truncate(1);
                    self.watched.extend(jobs.iter().map(|j| j.id.clone()));
                }
            }
            if !args.watch {
                return Ok(jobs);
            }
            if let (Some(key), true) = (&args.key, jobs.is_empty()) {
                no_job_yet(ctx, key, started, report, fields).await?;
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
            let changed = self.show(&jobs, printer);
            if jobs.iter().all(|j| !j.unfinished()) {
                return Ok(jobs);
            }
            interval = if changed {
                FIRST_POLL
            } else {
                (interval * 3 / 2).min(SLOWEST_POLL)
            };
            tokio::time::sleep(interval).await;
        }
    }

    /// Each job's progress, on its bar or (without a terminal) as a line when it changed;
    /// whether any changed since the last poll.
    fn show(&mut self, jobs: &[JobInfo], printer: &Printer) -> bool {
        let mut changed = false;
        for job in jobs {
            if job.unfinished() {
                self.watched.insert(job.id.clone());
            }
            let now = (job.status.clone(), job.percent);
            if self.seen.get(&job.id) != Some(&now) {
                changed = true;
                if printer.plain_progress() && !printer.json() {
                    printer.note(line(job));
                }
                self.seen.insert(job.id.clone(), now);
            }
            if printer.progress_visible() {
                let bar = self.bars.entry(job.id.clone()).or_insert_with(|| {
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
        changed
    }
}

/// `--wait KEY` before KEY has a job: an error once the upload is known rejected (it gets
/// no job: said now rather than waited for) or the job is later than [`APPEAR_TIMEOUT`].
async fn no_job_yet(
    ctx: &StackContext,
    key: &str,
    started: std::time::Instant,
    report: &Report,
    fields: &mut JobsFields,
) -> anyhow::Result<()> {
    let videos = catalog::read(ctx)
        .await
        .map(|c| c.videos)
        .unwrap_or_default();
    if let Some(video) = videos.iter().find(|v| v.rejected() && v.key == key) {
        fields.rejected = vec![rejected_report(video)];
        return Err(anyhow::anyhow!(rejected_message(video)));
    }
    if started.elapsed() >= APPEAR_TIMEOUT {
        return Err(anyhow::anyhow!(no_job_appeared(
            key,
            report.emulator.as_deref()
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
