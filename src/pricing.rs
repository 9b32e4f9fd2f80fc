//! The price table (`pricing/mediaconvert.toml`, or `[cost] table`) and the arithmetic on
//! it: the estimate per minute of uploaded video, and the bill of finished jobs. Only rates
//! the table has are used; a class without one is "rate unknown" and shown in output
//! minutes. What an output's class is comes from `cattube_stages::cost`.

use std::ops::Range;

use cattube_stages::cost::{self, FinishedJob, OutputClass, Tier};
use cattube_stages::naming;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The table shipped in the repository.
pub const SHIPPED: &str = include_str!("../pricing/mediaconvert.toml");
pub const SHIPPED_NAME: &str = "pricing/mediaconvert.toml (built in)";

/// MediaConvert bills at least this many seconds per output.
pub const MINIMUM_SECONDS: i64 = 10;

const QUALITIES: &[&str] = &[
    "single-pass",
    "single-pass-hq",
    "multi-pass",
    "multi-pass-hq",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TableFile {
    currency: Spanned<String>,
    date: Spanned<String>,
    #[serde(default)]
    rate: Vec<RowFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RowFile {
    region: Spanned<String>,
    tier: Spanned<String>,
    codec: Spanned<String>,
    resolution: Spanned<String>,
    fps: Spanned<String>,
    quality: Option<Spanned<String>>,
    usd_per_minute: Spanned<f64>,
    source: Spanned<String>,
    as_of: Option<Spanned<String>>,
    read: Spanned<String>,
    #[allow(dead_code)]
    note: Option<String>,
}

/// One rate: a region and a billing class.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    pub region: String,
    pub tier: Tier,
    pub codec: String,
    pub resolution: String,
    pub fps: String,
    /// `None`: any quality tuning level.
    pub quality: Option<String>,
    pub usd_per_minute: f64,
    pub source: String,
    pub as_of: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    /// Where it came from, for messages.
    pub name: String,
    pub currency: String,
    pub date: String,
    pub rates: Vec<Rate>,
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl PriceTable {
    /// The shipped table.
    pub fn shipped() -> PriceTable {
        PriceTable::parse(SHIPPED, SHIPPED_NAME).expect("the shipped price table is valid")
    }

    /// Parses and checks a table; the error names the file, the line and the key.
    pub fn parse(text: &str, name: &str) -> Result<PriceTable, String> {
        let at = |span: Range<usize>, key: &str, problem: String| {
            format!(
                "{name} line {} ({key}): {problem}",
                line_of(text, span.start)
            )
        };
        let file: TableFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| format!(" line {}", line_of(text, s.start)))
                .unwrap_or_default();
            format!("{name}{line}: {}", e.message().trim().replace('\n', " "))
        })?;
        if file.currency.get_ref() != "USD" {
            return Err(at(
                file.currency.span(),
                "currency",
                format!("'{}' is not allowed; allowed: USD", file.currency.get_ref()),
            ));
        }
        let date = |value: &Spanned<String>, key: &str| -> Result<String, String> {
            let v = value.get_ref();
            let shaped = v.len() == 10
                && v.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if shaped {
                Ok(v.clone())
            } else {
                Err(at(
                    value.span(),
                    key,
                    format!("'{v}' must be a date, YYYY-MM-DD"),
                ))
            }
        };
        let table_date = date(&file.date, "date")?;
        let one_of = |value: &Spanned<String>, key: &str, allowed: &[&str]| {
            if allowed.contains(&value.get_ref().as_str()) {
                Ok(value.get_ref().clone())
            } else {
                Err(at(
                    value.span(),
                    key,
                    format!(
                        "'{}' is not allowed; allowed: {}",
                        value.get_ref(),
                        allowed.join(", ")
                    ),
                ))
            }
        };
        let mut rates: Vec<Rate> = Vec::new();
        for (i, row) in file.rate.iter().enumerate() {
            let key = |k: &str| format!("rate[{i}].{k}");
            naming::validate_region(row.region.get_ref()).map_err(|e| {
                at(
                    row.region.span(),
                    &key("region"),
                    format!("'{}' {e}", row.region.get_ref()),
                )
            })?;
            let tier = match one_of(&row.tier, &key("tier"), &["Basic", "Professional"])?.as_str() {
                "Basic" => Tier::Basic,
                _ => Tier::Professional,
            };
            let resolution = one_of(&row.resolution, &key("resolution"), cost::RESOLUTION_BANDS)?;
            let fps = one_of(&row.fps, &key("fps"), cost::FPS_BANDS)?;
            let quality = row
                .quality
                .as_ref()
                .map(|q| one_of(q, &key("quality"), QUALITIES))
                .transpose()?;
            if row.codec.get_ref().trim().is_empty() {
                return Err(at(
                    row.codec.span(),
                    &key("codec"),
                    "must not be empty".into(),
                ));
            }
            let usd = *row.usd_per_minute.get_ref();
            if !(usd.is_finite() && usd > 0.0 && usd < 100.0) {
                return Err(at(
                    row.usd_per_minute.span(),
                    &key("usd-per-minute"),
                    format!("{usd} must be a price above 0 and below 100 (USD per output minute)"),
                ));
            }
            if !row.source.get_ref().starts_with("https://") {
                return Err(at(
                    row.source.span(),
                    &key("source"),
                    "must be the https:// address the rate was read from".into(),
                ));
            }
            date(&row.read, &key("read"))?;
            let as_of = row
                .as_of
                .as_ref()
                .map(|d| date(d, &key("as-of")))
                .transpose()?;
            let rate = Rate {
                region: row.region.get_ref().clone(),
                tier,
                codec: row.codec.get_ref().clone(),
                resolution,
                fps,
                quality,
                usd_per_minute: usd,
                source: row.source.get_ref().clone(),
                as_of,
            };
            if rates.iter().any(|r| {
                (
                    &r.region,
                    r.tier,
                    &r.codec,
                    &r.resolution,
                    &r.fps,
                    &r.quality,
                ) == (
                    &rate.region,
                    rate.tier,
                    &rate.codec,
                    &rate.resolution,
                    &rate.fps,
                    &rate.quality,
                )
            }) {
                return Err(at(
                    row.region.span(),
                    &format!("rate[{i}]"),
                    "repeats the region and class of an earlier row".into(),
                ));
            }
            rates.push(rate);
        }
        Ok(PriceTable {
            name: name.to_string(),
            currency: file.currency.into_inner(),
            date: table_date,
            rates,
        })
    }

    /// The rate of `class` in `region`: a row for its exact quality first, then one for any.
    pub fn rate(&self, region: &str, class: &OutputClass) -> Option<&Rate> {
        let matching = |r: &&Rate| {
            r.region == region
                && r.tier == class.tier
                && r.codec == class.codec
                && r.resolution == class.resolution_band
                && r.fps == class.fps_band
        };
        self.rates
            .iter()
            .filter(matching)
            .find(|r| r.quality.as_deref() == Some(class.quality.as_str()))
            .or_else(|| {
                self.rates
                    .iter()
                    .filter(matching)
                    .find(|r| r.quality.is_none())
            })
    }

    /// Every source the table cites, once each.
    pub fn sources(&self) -> Vec<&str> {
        let mut sources: Vec<&str> = Vec::new();
        for rate in &self.rates {
            if !sources.contains(&rate.source.as_str()) {
                sources.push(&rate.source);
            }
        }
        sources
    }
}

// ---------------------------------------------------------------------------------------
// the estimate

/// One output in the estimate (`cost.outputs[]`): its class and its rate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EstimateOutput {
    #[serde(flatten)]
    pub class: OutputClass,
    /// `null`: the table has no rate for this class in the region.
    pub usd_per_minute: Option<f64>,
}

/// What each minute of uploaded video costs (`cost`): an estimate from the job template's
/// outputs and the price table, not AWS's invoice.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Estimate {
    pub kind: &'static str,
    pub region: String,
    /// Output minutes billed per minute of source video: one per output.
    pub output_minutes_per_source_minute: usize,
    /// `null` when any output's rate is unknown.
    pub per_source_minute_usd: Option<f64>,
    pub currency: String,
    pub outputs: Vec<EstimateOutput>,
    pub table: String,
    pub table_date: String,
    pub sources: Vec<String>,
    pub assumptions: Vec<String>,
}

/// The assumptions every figure here rests on.
fn general_assumptions(table: &PriceTable) -> Vec<String> {
    vec![
        format!(
            "rates from {} ({}), undiscounted: MediaConvert discounts monthly volume above its thresholds",
            table.name, table.date
        ),
        format!(
            "each output is billed for its duration in whole seconds, at least {MINIMUM_SECONDS} s"
        ),
        "on-demand queue; add-on features (Dolby Vision, HDR10+, audio normalisation) not priced"
            .into(),
    ]
}

/// The estimate for a job template (`job.json` document) in `region`.
pub fn estimate(job: &serde_json::Value, region: &str, table: &PriceTable) -> Estimate {
    let classified = cost::classify(job, &[]);
    let outputs: Vec<EstimateOutput> = classified
        .outputs
        .iter()
        .map(|class| EstimateOutput {
            usd_per_minute: table.rate(region, class).map(|r| r.usd_per_minute),
            class: class.clone(),
        })
        .collect();
    let per_source_minute_usd = outputs
        .iter()
        .map(|o| o.usd_per_minute)
        .sum::<Option<f64>>();
    let mut assumptions = general_assumptions(table);
    assumptions.extend(classified.assumptions);
    Estimate {
        kind: "estimate",
        region: region.to_string(),
        output_minutes_per_source_minute: outputs.len(),
        per_source_minute_usd,
        currency: table.currency.clone(),
        outputs,
        table: table.name.clone(),
        table_date: table.date.clone(),
        sources: table.sources().into_iter().map(str::to_string).collect(),
        assumptions,
    }
}

/// `$0.0705`, `$4.23`: cents for a dollar or more, four places below.
pub fn usd(value: f64) -> String {
    if value >= 1.0 {
        format!("${value:.2}")
    } else {
        format!("${value:.4}")
    }
}

fn tiers(tiers: impl Iterator<Item = Tier>) -> String {
    let mut all: Vec<Tier> = tiers.collect();
    all.sort();
    all.dedup();
    match all.as_slice() {
        [one] => format!("{} tier", one.as_str()),
        _ => "Basic and Professional tiers".into(),
    }
}

impl Estimate {
    /// The one line `plan` and `up` print.
    pub fn line(&self) -> String {
        let minutes = self.output_minutes_per_source_minute;
        let head = format!(
            "each minute of uploaded video: {minutes} output minute{}, {}",
            if minutes == 1 { "" } else { "s" },
            tiers(self.outputs.iter().map(|o| o.class.tier))
        );
        match self.per_source_minute_usd {
            Some(usd_per_minute) => format!(
                "{head}, about {} in {} (estimate from {}, {})",
                usd(usd_per_minute),
                self.region,
                self.table,
                self.table_date
            ),
            None => {
                let unknown: Vec<String> = self
                    .outputs
                    .iter()
                    .filter(|o| o.usd_per_minute.is_none())
                    .map(|o| {
                        let c = &o.class;
                        format!(
                            "{} {} {} {} fps",
                            c.tier.as_str(),
                            c.codec,
                            c.resolution_band,
                            c.fps_band
                        )
                    })
                    .collect();
                format!(
                    "{head}, rate unknown in {}: {} has no rate for {}",
                    self.region,
                    self.table,
                    unknown.join(", ")
                )
            }
        }
    }
}

impl Estimate {
    /// What `up` warns about: Professional-tier outputs and more than two outputs, each with
    /// the cheaper choice.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let professional: Vec<String> = self
            .outputs
            .iter()
            .map(|o| &o.class)
            .filter(|c| c.tier == Tier::Professional)
            .map(|c| format!("{} ({} {})", c.name, c.codec, c.resolution_band))
            .collect();
        if !professional.is_empty() {
            warnings.push(format!(
                "the job template has Professional-tier outputs: {}; H.264 (AVC) outputs with \
                 single-pass quality tuning and no accelerated transcoding bill at the cheaper Basic tier",
                professional.join(", ")
            ));
        }
        if self.outputs.len() > 2 {
            warnings.push(format!(
                "the job template makes {} outputs: every minute uploaded bills {} output minutes; \
                 two outputs (an HD and an SD rendition) bill two",
                self.outputs.len(),
                self.outputs.len()
            ));
        }
        warnings
    }
}

// ---------------------------------------------------------------------------------------
// the bill of finished jobs

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
    pub usd_per_minute: Option<f64>,
    pub usd: Option<f64>,
}

/// Output minutes and their price over a period.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Period {
    pub jobs: usize,
    pub output_minutes: f64,
    /// `null` when some of the minutes have no rate in the table.
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
    pub usd: Option<f64>,
    pub by_class: Vec<BilledClass>,
    /// The same, for the jobs created since the start of this calendar month (UTC).
    pub month_to_date: Period,
    pub currency: String,
    pub table_date: String,
    pub assumptions: Vec<String>,
}

/// Sums `jobs` by billing class and prices each class from the table.
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
            let rate = table.rate(region, &class).map(|r| r.usd_per_minute);
            BilledClass {
                tier: class.tier,
                codec: class.codec,
                quality: class.quality,
                resolution_band: class.resolution_band,
                fps_band: class.fps_band,
                outputs,
                output_minutes,
                usd_per_minute: rate,
                usd: rate.map(|r| r * output_minutes),
            }
        })
        .collect();
    Period {
        jobs: count,
        output_minutes: total(classes.iter().map(|c| c.output_minutes)),
        usd: classes
            .iter()
            .map(|c| c.usd)
            .collect::<Option<Vec<f64>>>()
            .map(|usd| total(usd.into_iter())),
        by_class: classes,
    }
}

/// The sum of `values`, 0 for none: `Iterator::sum` of no f64 is -0.0, printed "-0.00".
pub fn total(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |sum, v| sum + v)
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
    let mut assumptions = general_assumptions(table);
    assumptions.push(
        "COMPLETE jobs of the stack's queue only, each output's duration as MediaConvert reports it"
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
    use serde_json::json;

    #[test]
    fn the_shipped_table_parses_and_cites_a_source_for_every_row() {
        let table = PriceTable::shipped();
        assert!(!table.rates.is_empty());
        for rate in &table.rates {
            assert!(rate.source.starts_with("https://"), "{rate:?}");
        }
    }

    #[test]
    fn the_ten_second_minimum_and_whole_seconds() {
        // The pricing page's example: 45 seconds bill as 45/60 = 0.75 minutes.
        assert_eq!(billed_minutes(45_000), 45.0 / 60.0);
        assert_eq!(billed_minutes(44_001), 45.0 / 60.0);
        assert_eq!(billed_minutes(3_000), MINIMUM_SECONDS as f64 / 60.0);
        assert_eq!(billed_minutes(0), MINIMUM_SECONDS as f64 / 60.0);
    }

    /// Video on Demand on AWS's published example: a 60-minute source, HLS with 3 SD and
    /// 2 HD outputs (AVC, one pass, 30 fps, Professional tier) in us-east-1, "(3 x 60 x
    /// $0.0075) + (2 x 60 x $0.024) = $1.35 + $2.88 = $4.23".
    #[test]
    fn the_published_example_adds_up() {
        let table = PriceTable::shipped();
        let output = |height: i64| {
            json!({"VideoDescription": {"Height": height, "CodecSettings": {"Codec": "H_264",
                "H264Settings": {"QualityTuningLevel": "MULTI_PASS_HQ", "FramerateControl": "SPECIFIED",
                "FramerateNumerator": 30, "FramerateDenominator": 1}}}})
        };
        let job = json!({"Settings": {"OutputGroups": [{"Outputs": [
            output(360), output(432), output(540), output(720), output(1080)]}]}});
        let estimate = estimate(&job, "us-east-1", &table);
        let rate = |band: &str| {
            table
                .rates
                .iter()
                .find(|r| r.region == "us-east-1" && r.codec == "AVC" && r.resolution == band)
                .unwrap()
                .usd_per_minute
        };
        let per_minute = estimate.per_source_minute_usd.unwrap();
        assert!((per_minute - (3.0 * rate("SD") + 2.0 * rate("HD"))).abs() < 1e-12);
        let sixty = per_minute * 60.0;
        assert_eq!(format!("{sixty:.2}"), "4.23");
        assert_eq!(estimate.output_minutes_per_source_minute, 5);

        // The same outputs finished: 60 minutes each.
        let finished = cattube_stages::cost::finished_job(
            "j",
            0,
            &json!({"Settings": job["Settings"], "OutputGroupDetails": [{"OutputDetails":
                [{"DurationInMs": 3_600_000}, {"DurationInMs": 3_600_000}, {"DurationInMs": 3_600_000},
                 {"DurationInMs": 3_600_000}, {"DurationInMs": 3_600_000}]}]}),
        );
        let bill = billed(&[finished], None, 0, "us-east-1", &table);
        assert_eq!(bill.output_minutes, 300.0);
        assert_eq!(format!("{:.2}", bill.usd.unwrap()), "4.23");
        assert_eq!(bill.by_class.len(), 2);
    }

    #[test]
    fn an_unknown_rate_is_said_and_not_summed() {
        let table = PriceTable::shipped();
        let job: serde_json::Value =
            serde_json::from_str(cattube_stages::context::DEFAULT_JOB_JSON).unwrap();
        let estimate = estimate(&job, "ap-southeast-2", &table);
        assert_eq!(estimate.per_source_minute_usd, None);
        assert!(estimate.outputs.iter().all(|o| o.usd_per_minute.is_none()));
        let line = estimate.line();
        assert!(
            line.starts_with("each minute of uploaded video: 2 output minutes, Professional tier, rate unknown in ap-southeast-2"),
            "{line}"
        );
    }

    #[test]
    fn bad_tables_name_the_line_and_key() {
        let good = "currency = \"USD\"\ndate = \"2026-12-01\"\n\n[[rate]]\nregion = \"us-east-1\"\ntier = \"Basic\"\ncodec = \"AVC\"\nresolution = \"HD\"\nfps = \"<=30\"\nusd-per-minute = 0.015\nsource = \"https://example.com/p\"\nread = \"2026-12-01\"\n";
        PriceTable::parse(good, "t.toml").unwrap();
        for (from, to, expected) in [
            (
                "tier = \"Basic\"",
                "tier = \"Pro\"",
                "t.toml line 6 (rate[0].tier): 'Pro' is not allowed; allowed: Basic, Professional",
            ),
            (
                "usd-per-minute = 0.015",
                "usd-per-minute = -1.0",
                "t.toml line 10 (rate[0].usd-per-minute)",
            ),
            (
                "usd-per-minute = 0.015",
                "usd-per-minute = \"cheap\"",
                "t.toml line 10",
            ),
            (
                "region = \"us-east-1\"",
                "region = \"mars\"",
                "t.toml line 5 (rate[0].region)",
            ),
            (
                "fps = \"<=30\"",
                "fps = \"30\"",
                "t.toml line 9 (rate[0].fps)",
            ),
            (
                "source = \"https://example.com/p\"",
                "source = \"my head\"",
                "t.toml line 11 (rate[0].source)",
            ),
            (
                "date = \"2026-12-01\"",
                "date = \"yesterday\"",
                "t.toml line 2 (date)",
            ),
            (
                "read = \"2026-12-01\"",
                "red = \"2026-12-01\"",
                "t.toml line 12",
            ),
        ] {
            let bad = good.replacen(from, to, 1);
            let err = PriceTable::parse(&bad, "t.toml").unwrap_err();
            assert!(err.starts_with(expected), "{to}: {err}");
        }
        let twice = format!("{good}\n{}", &good[good.find("[[rate]]").unwrap()..]);
        let err = PriceTable::parse(&twice, "t.toml").unwrap_err();
        assert!(
            err.starts_with("t.toml line 15 (rate[1]): repeats"),
            "{err}"
        );
    }
}
