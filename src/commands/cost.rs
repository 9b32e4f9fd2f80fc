//! `cattube cost [--since 30d]`: what the stack's finished jobs cost. Reads the COMPLETE
//! jobs of the stack's queue (ListJobs, page by page), takes each output's duration from
//! the job's output details (whole seconds, at least 10 per output), sums them by billing
//! class, counts the normalized minutes of each class (its multiplier) and prices each
//! tier's total through its volume bands from the price table: month to date (UTC) and
//! over the window. Also the estimate per minute of uploaded video, as `plan` shows it. Both are
//! labelled for what they are: the table's rates applied to what MediaConvert reports, not
//! AWS's invoice.

use std::time::{SystemTime, UNIX_EPOCH};

use cattube_stages::cost::{finished_jobs, month_start, rfc3339};

use crate::cli::CostArgs;
use crate::commands::{add_estimate, video_failure, Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::pricing::{self, usd, Billed, BilledClass, Estimate, Period};
use crate::printer::{header, Report};

/// The fields `cost` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct CostFields {
    /// What each minute of uploaded video costs (an estimate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Estimate>,
    /// What the finished jobs cost (actual output minutes, priced from the table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed: Option<Billed>,
}

impl Verb for CostArgs {
    type Fields = CostFields;

    async fn run(&self, at: &mut Invocation<'_, CostFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.report, at.fields).await
    }

    fn text(&self, report: &Report, fields: &CostFields) -> String {
        text(report, fields)
    }
}

async fn run(
    config: &Config,
    args: &CostArgs,
    report: &mut Report,
    fields: &mut CostFields,
) -> anyhow::Result<ExitStatus> {
    let session = Session::open(config, Access::Read, report).await?;
    let ctx = &*session.ctx;
    add_estimate(config, &ctx.region, report, &mut fields.cost, false);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let since = args.since.map(|window| {
        let start = now - window as i64;
        (start, rfc3339(start))
    });
    let month = month_start(now);
    // The month to date needs every job since the month began, whatever the window.
    let oldest = since.as_ref().map(|(start, _)| (*start).min(month));
    let jobs = finished_jobs(ctx, oldest).await.map_err(video_failure)?;
    let billed = pricing::billed(&jobs, since, month, &ctx.region, &config.prices);
    report.set_output(
        "queue_arn",
        cattube_stages::arn::queue(ctx, cattube_stages::queue::ID),
    );
    fields.billed = Some(billed);
    Ok(ExitStatus::Success)
}

fn minutes(m: f64) -> String {
    format!("{m:.2}")
}

fn normalized(n: Option<f64>) -> String {
    n.map(minutes).unwrap_or_else(|| "unknown".into())
}

fn price(p: &Period) -> String {
    match p.usd {
        Some(v) => usd(v),
        None => {
            let unpriced = pricing::total(
                p.by_class
                    .iter()
                    .filter(|c| c.usd.is_none())
                    .map(|c| c.output_minutes),
            );
            format!(
                "rate unknown for {} output minutes of them (priced part at the first band's rate {})",
                minutes(unpriced),
                usd(pricing::total(p.by_class.iter().filter_map(|c| c.usd)))
            )
        }
    }
}

fn class_line(c: &BilledClass) -> String {
    format!(
        "  {:<13} {:<7} {:<15} {:<5} {:<6} {:>7}  {:>9}  {:>5}  {:>10}  {:>9}  {}\n",
        c.tier.as_str(),
        c.codec,
        c.quality,
        c.resolution_band,
        c.fps_band,
        c.outputs,
        minutes(c.output_minutes),
        c.normalized_minutes_per_minute
            .map(|f| format!("{f}"))
            .unwrap_or_else(|| "?".into()),
        normalized(c.normalized_minutes),
        c.usd_per_normalized_minute
            .map(usd)
            .unwrap_or_else(|| "unsourced".into()),
        c.usd.map(usd).unwrap_or_else(|| "-".into()),
    )
}

fn text(report: &Report, fields: &CostFields) -> String {
    let mut out = header(report);
    let Some(billed) = &fields.billed else {
        return out;
    };
    out.push_str(&format!(
        "billed: actual output minutes of COMPLETE jobs, priced from the table of {} (not AWS's invoice)\n",
        billed.table_date
    ));
    let month = &billed.month_to_date;
    out.push_str(&format!(
        "  month to date: {} job{}, {} output minutes, {} normalized minutes, {}\n",
        month.jobs,
        if month.jobs == 1 { "" } else { "s" },
        minutes(month.output_minutes),
        normalized(month.normalized_minutes),
        price(month)
    ));
    let total = Period {
        jobs: billed.jobs,
        output_minutes: billed.output_minutes,
        normalized_minutes: billed.normalized_minutes,
        usd: billed.usd,
        by_class: billed.by_class.clone(),
    };
    out.push_str(&format!(
        "  {}: {} job{}, {} output minutes, {} normalized minutes, {}\n",
        match &billed.since {
            Some(since) => format!("since {since}"),
            None => "in total".into(),
        },
        total.jobs,
        if total.jobs == 1 { "" } else { "s" },
        minutes(total.output_minutes),
        normalized(total.normalized_minutes),
        price(&total)
    ));
    if !billed.by_class.is_empty() {
        out.push_str(&format!(
            "  {:<13} {:<7} {:<15} {:<5} {:<6} {:>7}  {:>9}  {:>5}  {:>10}  {:>9}  USD\n",
            "TIER",
            "CODEC",
            "QUALITY",
            "RES",
            "FPS",
            "OUTPUTS",
            "MINUTES",
            "MULT",
            "NORM MIN",
            "$/NORM MIN"
        ));
        for class in &billed.by_class {
            out.push_str(&class_line(class));
        }
    }
    if let Some(estimate) = &fields.cost {
        out.push_str(&format!("estimate: {}\n", estimate.line()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_jobs_bill_zero_not_negative_zero() {
        let billed = pricing::billed(&[], None, 0, "us-east-1", &pricing::PriceTable::shipped());
        assert!(billed.output_minutes.is_sign_positive());
        assert_eq!(billed.usd.map(f64::is_sign_positive), Some(true));
        let mut report = Report::new("cost");
        report.account = Some("123456789012".into());
        let fields = CostFields {
            cost: None,
            billed: Some(billed),
        };
        let text = text(&report, &fields);
        assert!(
            text.contains("0 jobs, 0.00 output minutes, 0.00 normalized minutes, $0.0000"),
            "{text}"
        );
        assert!(!text.contains(" -0.") && !text.contains("$-"), "{text}");
    }
}
