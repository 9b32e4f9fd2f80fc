//! What `cost` says the finished jobs cost: each output's billed minutes (whole seconds,
//! at least 10) summed by billing class, counted in normalized minutes, and each tier's
//! total priced through its volume bands.

use cattube_stages::cost::{FinishedJob, OutputClass, Tier};
use serde::Serialize;

use super::table::{banded_cost, PriceTable};
use super::{assumptions_of, known_total, total};

/// MediaConvert bills at least this many seconds per output.
pub const MINIMUM_SECONDS: i64 = 10;

/// Minutes billed for an output that ran `duration_ms`: whole seconds, at least 10.
pub fn billed_minutes(duration_ms: i64) -> f64 {
    let seconds = (duration_ms.max(0) + 999) / 1000;
    seconds.max(MINIMUM_SECONDS) as f64 / 60.0
}

/// One billing class's share of the bill (`billed.by_class[]`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BilledClass {
    pub tier: Tier,
    pub codec: String,
    pub quality: String,
    pub resolution_band: &'static str,
    pub fps_band: &'static str,
    pub outputs: usize,
    pub output_minutes: f64,
    /// `null`: the table has no sourced multiplier for the class.
    pub normalized_minutes_per_minute: Option<f64>,
    pub normalized_minutes: Option<f64>,
    /// The first volume band's rate; `null` when unsourced.
    pub usd_per_normalized_minute: Option<f64>,
    /// At the first volume band's rate.
    pub usd: Option<f64>,
}

/// Output minutes and their price over a period.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Period {
    pub jobs: usize,
    pub output_minutes: f64,
    /// `null` when some class has no sourced multiplier.
    pub normalized_minutes: Option<f64>,
    /// Each tier's normalized minutes of the period priced through its volume bands from
    /// the first; `null` when some figure is unsourced.
    pub usd: Option<f64>,
    pub by_class: Vec<BilledClass>,
}

/// What the finished jobs cost (`billed`): actual durations priced from the table.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Billed {
    pub kind: &'static str,
    /// The start of the window (RFC 3339), or `null` for every job the queue lists.
    pub since: Option<String>,
    pub jobs: usize,
    pub output_minutes: f64,
    pub normalized_minutes: Option<f64>,
    pub usd: Option<f64>,
    pub by_class: Vec<BilledClass>,
    /// The same, for the jobs created since the start of this calendar month (UTC).
    pub month_to_date: Period,
    pub currency: String,
    pub table_date: String,
    pub assumptions: Vec<String>,
}

/// Sums `jobs` by billing class, counts each class's normalized minutes and prices each
/// tier's total through its volume bands.
pub fn period<'a>(
    jobs: impl IntoIterator<Item = &'a FinishedJob>,
    region: &str,
    table: &PriceTable,
) -> Period {
    let mut by_class: Vec<(OutputClass, usize, f64)> = Vec::new();
    let mut count = 0;
    for job in jobs {
        count += 1;
        for output in &job.outputs {
            let mut key = output.class.clone();
            // Summed by class: the output's own name and reasons do not matter here.
            key.name = String::new();
            key.professional_because.clear();
            let minutes = billed_minutes(output.duration_ms);
            match by_class.iter_mut().find(|(c, _, _)| *c == key) {
                Some((_, n, m)) => {
                    *n += 1;
                    *m += minutes;
                }
                None => by_class.push((key, 1, minutes)),
            }
        }
    }
    by_class.sort_by(|a, b| a.0.cmp(&b.0));
    let classes: Vec<BilledClass> = by_class
        .into_iter()
        .map(|(class, outputs, output_minutes)| {
            let factor = table.factor(&class);
            let normalized = factor.map(|f| f * output_minutes);
            let rate = table.first_rate(region, class.tier);
            BilledClass {
                tier: class.tier,
                codec: class.codec,
                quality: class.quality,
                resolution_band: class.resolution_band,
                fps_band: class.fps_band,
                outputs,
                output_minutes,
                normalized_minutes_per_minute: factor,
                normalized_minutes: normalized,
                usd_per_normalized_minute: rate,
                usd: normalized.zip(rate).map(|(n, r)| n * r),
            }
        })
        .collect();
    // Sorted by class, so by tier: each tier once.
    let mut tiers: Vec<Tier> = classes.iter().map(|c| c.tier).collect();
    tiers.dedup();
    let usd = known_total(tiers.iter().map(|&tier| {
        let minutes = known_total(
            classes
                .iter()
                .filter(|c| c.tier == tier)
                .map(|c| c.normalized_minutes),
        )?;
        let bands = table.rate(region, tier)?.bands.value()?;
        Some(banded_cost(bands, 0.0, minutes))
    }));
    Period {
        jobs: count,
        output_minutes: total(classes.iter().map(|c| c.output_minutes)),
        normalized_minutes: known_total(classes.iter().map(|c| c.normalized_minutes)),
        usd,
        by_class: classes,
    }
}

/// The bill of the `jobs` created at or after `since`, and of those created since
/// `month_start` (both seconds since the epoch).
pub fn billed(
    jobs: &[FinishedJob],
    since: Option<(i64, String)>,
    month_start: i64,
    region: &str,
    table: &PriceTable,
) -> Billed {
    let start = since.as_ref().map(|(start, _)| *start).unwrap_or(i64::MIN);
    let total = period(jobs.iter().filter(|j| j.created >= start), region, table);
    let month = period(
        jobs.iter().filter(|j| j.created >= month_start),
        region,
        table,
    );
    let mut assumptions = assumptions_of(table);
    assumptions.push(
        "COMPLETE jobs of the stack's queue only, each output's duration as MediaConvert reports it"
            .into(),
    );
    assumptions.push(
        "each period's normalized minutes priced through the volume bands from the month's first minute: other usage of the account (or organization) in the region lowers the rate"
            .into(),
    );
    for job in jobs.iter().filter(|j| j.created >= start.min(month_start)) {
        for assumption in &job.assumptions {
            if !assumptions.contains(assumption) {
                assumptions.push(assumption.clone());
            }
        }
    }
    Billed {
        kind: "actual usage priced from the table, not AWS's invoice",
        since: since.map(|(_, text)| text),
        jobs: total.jobs,
        output_minutes: total.output_minutes,
        normalized_minutes: total.normalized_minutes,
        usd: total.usd,
        by_class: total.by_class,
        month_to_date: month,
        currency: table.currency.clone(),
        table_date: table.date.clone(),
        assumptions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::{avc, job, own};
    use cattube_stages::cost;
    use serde_json::json;

    /// The pricing page's example: an output of 45 seconds bills 45/60 = 0.75 minutes
    /// (AWS's MediaConvert pricing page, stored copy
    /// http://cubic.app2one.com/de/mediaconvert/pricing, read 2026-12-07), in one-second
    /// steps, at least 10 seconds.
    #[test]
    fn the_pricing_pages_billing_example() {
        assert_eq!(billed_minutes(45_000), 45.0 / 60.0);
        assert_eq!(billed_minutes(45_000), 0.75);
        assert_eq!(billed_minutes(44_001), 45.0 / 60.0);
        assert_eq!(billed_minutes(3_000), MINIMUM_SECONDS as f64 / 60.0);
        assert_eq!(billed_minutes(0), MINIMUM_SECONDS as f64 / 60.0);
    }

    /// The finished jobs' normalized minutes, each tier's total through its bands.
    #[test]
    fn the_bill_prices_normalized_minutes_through_the_bands() {
        let table = own();
        let doc = job(vec![avc(360, "SINGLE_PASS"), avc(1080, "SINGLE_PASS")]);
        // 30 jobs of two 20-minute outputs: 30 x (20 x 1 + 20 x 2) = 1800 Basic normalized
        // minutes, across the threshold.
        let jobs: Vec<FinishedJob> = (0..30)
            .map(|i| {
                cost::finished_job(
                    &format!("j{i}"),
                    100 + i,
                    &json!({"Settings": doc["Settings"], "OutputGroupDetails": [{"OutputDetails":
                        [{"DurationInMs": 1_200_000}, {"DurationInMs": 1_200_000}]}]}),
                )
            })
            .collect();
        let bill = billed(&jobs, None, 0, "us-east-1", &table);
        assert_eq!(bill.output_minutes, 30.0 * 40.0);
        let normalized = 30.0
            * (20.0 * table.factor(&jobs[0].outputs[0].class).unwrap()
                + 20.0 * table.factor(&jobs[0].outputs[1].class).unwrap());
        assert_eq!(bill.normalized_minutes, Some(normalized));
        let bands = table
            .rate("us-east-1", Tier::Basic)
            .unwrap()
            .bands
            .value()
            .unwrap();
        let (first, second) = (&bands[0], &bands[1]);
        let expected = second.from * first.usd_per_normalized_minute
            + (normalized - second.from) * second.usd_per_normalized_minute;
        assert!(
            (bill.usd.unwrap() - expected).abs() < 1e-9,
            "{:?}",
            bill.usd
        );
        // By class, at the first band's rate (an upper bound past the threshold).
        let by_class = total(bill.by_class.iter().map(|c| c.usd.unwrap()));
        assert!((by_class - normalized * first.usd_per_normalized_minute).abs() < 1e-9);
        // The month counts only this month's jobs.
        let month = billed(&jobs, None, 115, "us-east-1", &table).month_to_date;
        assert_eq!(month.jobs, 15);
        // An unsourced multiplier: minutes, no normalized minutes, no dollars.
        let hevc = json!({"Settings": {"OutputGroups": [{"Outputs": [{"VideoDescription": {"Height": 720,
            "CodecSettings": {"Codec": "H_265", "H265Settings": {}}}}]}]}, "OutputGroupDetails":
            [{"OutputDetails": [{"DurationInMs": 60_000}]}]});
        let bill = billed(
            &[cost::finished_job("h", 0, &hevc)],
            None,
            0,
            "us-east-1",
            &table,
        );
        assert_eq!(
            (bill.output_minutes, bill.normalized_minutes, bill.usd),
            (1.0, None, None)
        );
    }
}
