//! What `plan` and `up` say each minute of uploaded video costs: the job template's outputs
//! classified, counted in normalized minutes and priced at the first volume band's rate of
//! their tier in the region, with what the table cannot source named, never guessed.

use cattube_stages::cost::{self, OutputClass, Tier};
use serde::Serialize;

use super::table::PriceTable;
use super::{assumptions_of, known_total, usd};

/// One output in the estimate (`cost.outputs[]`): its class, its multiplier and its price.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EstimateOutput {
    #[serde(flatten)]
    pub class: OutputClass,
    /// Normalized minutes per output minute; `null` when the table has no sourced multiplier.
    pub normalized_minutes_per_minute: Option<f64>,
    /// The first volume band's rate of its tier in the region; `null` when unsourced.
    pub usd_per_normalized_minute: Option<f64>,
    /// One output minute at that rate: multiplier × rate; `null` when either is unsourced.
    pub usd_per_minute: Option<f64>,
}

/// A tier's first-band rate in the region (`cost.first_band[]`), and where discounts start.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FirstBand {
    pub tier: Tier,
    /// `null`: unsourced.
    pub usd_per_normalized_minute: Option<f64>,
    /// Normalized minutes a month after which the rate is discounted; `null` when the
    /// table has no sourced second band.
    pub discounted_above: Option<f64>,
    /// Why there is no rate, when there is none.
    pub unsourced: Option<String>,
}

/// What each minute of uploaded video costs (`cost`): an estimate from the job template's
/// outputs and the price table at the first volume band's rate, not AWS's invoice.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Estimate {
    pub kind: &'static str,
    pub region: String,
    /// Output minutes billed per minute of source video: one per output.
    pub output_minutes_per_source_minute: usize,
    /// The normalized minutes they count as; `null` when any multiplier is unsourced.
    pub normalized_minutes_per_source_minute: Option<f64>,
    /// At the first volume band's rates; `null` when any figure is unsourced.
    pub per_source_minute_usd: Option<f64>,
    pub first_band: Vec<FirstBand>,
    pub currency: String,
    pub outputs: Vec<EstimateOutput>,
    pub table: String,
    pub table_date: String,
    pub sources: Vec<String>,
    /// Each figure the estimate needs and the table does not source, with the reason.
    pub unsourced: Vec<String>,
    pub assumptions: Vec<String>,
}

/// "Professional AVC HD <=30 fps multi-pass-hq"; no quality for a codec without one.
fn class_name(c: &OutputClass) -> String {
    let name = format!(
        "{} {} {} {} fps",
        c.tier.as_str(),
        c.codec,
        c.resolution_band,
        c.fps_band
    );
    match c.quality.as_str() {
        "-" => name,
        quality => format!("{name} {quality}"),
    }
}

/// `100000` as `100,000`.
fn thousands(value: f64) -> String {
    let digits = format!("{}", value.round() as i64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The estimate for a job template (`job.json` document) in `region`.
pub fn estimate(job: &serde_json::Value, region: &str, table: &PriceTable) -> Estimate {
    let classified = cost::classify(job, &[]);
    let mut unsourced: Vec<String> = Vec::new();
    let mut note = |line: String| {
        if !unsourced.contains(&line) {
            unsourced.push(line);
        }
    };
    let first_band: Vec<FirstBand> = distinct(classified.outputs.iter().map(|c| c.tier))
        .into_iter()
        .map(|tier| {
            let rate = table.rate(region, tier);
            let why = match rate {
                Some(rate) => rate.bands.unsourced().map(str::to_string),
                None => Some(format!("{} has no row for {region}", table.name)),
            };
            if let Some(why) = &why {
                note(format!(
                    "{} rate per normalized minute in {region}: {why}",
                    tier.as_str()
                ));
            }
            FirstBand {
                tier,
                usd_per_normalized_minute: table.first_rate(region, tier),
                discounted_above: rate
                    .and_then(|r| r.bands.value())
                    .and_then(|b| b.get(1))
                    .map(|b| b.from),
                unsourced: why,
            }
        })
        .collect();
    let outputs: Vec<EstimateOutput> = classified
        .outputs
        .iter()
        .map(|class| {
            let factor = table.factor(class);
            if factor.is_none() {
                let why = match table.multiplier(class).and_then(|m| m.factor.unsourced()) {
                    Some(why) => why.to_string(),
                    None => format!("{} has no row for this class", table.name),
                };
                note(format!("multiplier of {}: {why}", class_name(class)));
            }
            let rate = first_band
                .iter()
                .find(|b| b.tier == class.tier)
                .and_then(|b| b.usd_per_normalized_minute);
            EstimateOutput {
                normalized_minutes_per_minute: factor,
                usd_per_normalized_minute: rate,
                usd_per_minute: factor.zip(rate).map(|(f, r)| f * r),
                class: class.clone(),
            }
        })
        .collect();
    let mut assumptions = assumptions_of(table);
    assumptions.extend(classified.assumptions);
    Estimate {
        kind: "estimate",
        region: region.to_string(),
        output_minutes_per_source_minute: outputs.len(),
        normalized_minutes_per_source_minute: known_total(
            outputs.iter().map(|o| o.normalized_minutes_per_minute),
        ),
        per_source_minute_usd: known_total(outputs.iter().map(|o| o.usd_per_minute)),
        first_band,
        currency: table.currency.clone(),
        outputs,
        table: table.name.clone(),
        table_date: table.date.clone(),
        sources: table.sources().into_iter().map(str::to_string).collect(),
        unsourced,
        assumptions,
    }
}

/// Each of `tiers` once, Basic first.
fn distinct(tiers: impl Iterator<Item = Tier>) -> Vec<Tier> {
    let mut all: Vec<Tier> = tiers.collect();
    all.sort();
    all.dedup();
    all
}

/// "Basic tier", "Professional tier", or both.
fn tiers(tiers: impl Iterator<Item = Tier>) -> String {
    match distinct(tiers).as_slice() {
        [one] => format!("{} tier", one.as_str()),
        _ => "Basic and Professional tiers".into(),
    }
}

impl Estimate {
    /// What `plan` says of the first volume band: each tier's rate, how far it goes when
    /// the table says, and that the minutes above it are discounted.
    fn first_band_text(&self) -> String {
        let tiers: Vec<String> = self
            .first_band
            .iter()
            .map(
                |b| match (b.usd_per_normalized_minute, b.discounted_above) {
                    (Some(rate), Some(up_to)) => format!(
                        "{} {} per normalized minute up to {} a month",
                        b.tier.as_str(),
                        usd(rate),
                        thousands(up_to)
                    ),
                    (Some(rate), None) => {
                        format!("{} {} per normalized minute", b.tier.as_str(), usd(rate))
                    }
                    (None, _) => format!("{} rate unsourced", b.tier.as_str()),
                },
            )
            .collect();
        format!(
            "first volume band: {}; MediaConvert discounts the normalized minutes above it",
            tiers.join(", ")
        )
    }

    /// The one line `plan` and `up` print.
    pub fn line(&self) -> String {
        let minutes = self.output_minutes_per_source_minute;
        let head = format!(
            "each minute of uploaded video: {minutes} output minute{}, {}",
            if minutes == 1 { "" } else { "s" },
            tiers(self.outputs.iter().map(|o| o.class.tier))
        );
        let band = self.first_band_text();
        match (self.normalized_minutes_per_source_minute, self.per_source_minute_usd) {
            (Some(normalized), Some(usd_per_minute)) => format!(
                "{head}, {normalized} normalized minutes, about {} in {} ({band}; estimate from {}, {})",
                usd(usd_per_minute),
                self.region,
                self.table,
                self.table_date
            ),
            (normalized, _) => {
                let mut missing = Vec::new();
                let unknown: Vec<String> = self
                    .outputs
                    .iter()
                    .filter(|o| o.normalized_minutes_per_minute.is_none())
                    .map(|o| class_name(&o.class))
                    .collect();
                if !unknown.is_empty() {
                    missing.push(format!("no sourced multiplier for {}", unknown.join(", ")));
                }
                let unrated: Vec<&str> = self
                    .first_band
                    .iter()
                    .filter(|b| b.usd_per_normalized_minute.is_none())
                    .map(|b| b.tier.as_str())
                    .collect();
                if !unrated.is_empty() {
                    missing.push(format!(
                        "no sourced {} rate in {}",
                        unrated.join(" or "),
                        self.region
                    ));
                }
                let normalized = normalized
                    .map(|n| format!(", {n} normalized minutes"))
                    .unwrap_or_default();
                format!(
                    "{head}{normalized}, rate unknown in {}: {} has {} ({band})",
                    self.region,
                    self.table,
                    missing.join(" and ")
                )
            }
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::{avc, job, own};
    use crate::pricing::table::Sourced;
    use cattube_stages::context::PROFILES;

    /// Output minutes times each class's multiplier, at the first band's rate; the line
    /// states that rate and where discounts start.
    #[test]
    fn the_estimate_counts_normalized_minutes_at_the_first_bands_rate() {
        let table = own();
        let doc = job(vec![
            avc(360, "SINGLE_PASS"),
            avc(720, "SINGLE_PASS"),
            avc(1080, "MULTI_PASS_HQ"),
        ]);
        let estimate = estimate(&doc, "us-east-1", &table);
        let factor = |res: &str, quality: Option<&str>| {
            table
                .multipliers
                .iter()
                .find(|m| m.resolution == res && m.quality.as_deref() == quality)
                .unwrap()
                .factor
                .value()
                .copied()
                .unwrap()
        };
        let first = |tier| {
            table
                .rate("us-east-1", tier)
                .unwrap()
                .first_band()
                .unwrap()
                .usd_per_normalized_minute
        };
        let basic = factor("SD", None) + factor("HD", None);
        let professional = factor("HD", Some("multi-pass-hq"));
        assert_eq!(
            estimate.normalized_minutes_per_source_minute,
            Some(basic + professional)
        );
        let usd_per_minute = basic * first(Tier::Basic) + professional * first(Tier::Professional);
        assert!((estimate.per_source_minute_usd.unwrap() - usd_per_minute).abs() < 1e-12);
        assert!(estimate.unsourced.is_empty(), "{:?}", estimate.unsourced);
        let threshold = table
            .rate("us-east-1", Tier::Basic)
            .unwrap()
            .bands
            .value()
            .unwrap()[1]
            .from;
        assert_eq!(
            estimate.line(),
            format!(
                "each minute of uploaded video: 3 output minutes, Basic and Professional tiers, {} normalized minutes, about {} in us-east-1 (first volume band: Basic {} per normalized minute up to {} a month, Professional {} per normalized minute; MediaConvert discounts the normalized minutes above it; estimate from own.toml, 2026-12-07)",
                basic + professional,
                usd(usd_per_minute),
                usd(first(Tier::Basic)),
                thousands(threshold),
                usd(first(Tier::Professional)),
            )
        );
    }

    /// The default profiles in the shipped table: each figure the table cannot source is
    /// named with its reason, nothing is summed, and the line says so.
    #[test]
    fn a_profile_with_an_unsourced_rate_says_so() {
        let table = PriceTable::shipped();
        for (name, text) in PROFILES {
            let doc: serde_json::Value = serde_json::from_str(text).unwrap();
            let estimate = estimate(&doc, "ap-southeast-2", &table);
            assert_eq!(estimate.per_source_minute_usd, None, "{name}");
            assert!(
                estimate.outputs.iter().all(|o| o.usd_per_minute.is_none()),
                "{name}"
            );
            let line = estimate.line();
            assert!(
                line.contains("rate unknown in ap-southeast-2"),
                "{name}: {line}"
            );
            assert!(line.contains("first volume band: "), "{name}: {line}");
            for output in &estimate.outputs {
                assert!(line.contains(&class_name(&output.class)), "{name}: {line}");
            }
            let why = match &table
                .rate("ap-southeast-2", estimate.outputs[0].class.tier)
                .unwrap()
                .bands
            {
                Sourced::Unsourced { unsourced } => unsourced.clone(),
                read => panic!("{read:?}"),
            };
            assert!(
                estimate.unsourced.iter().any(|u| u.ends_with(&why)),
                "{:?}",
                estimate.unsourced
            );
        }
        let doc: serde_json::Value = serde_json::from_str(PROFILES[0].1).unwrap();
        assert_eq!(
            estimate(&doc, "ap-southeast-2", &table).line(),
            "each minute of uploaded video: 2 output minutes, Professional tier, rate unknown in ap-southeast-2: pricing/mediaconvert.toml (built in) has no sourced multiplier for Professional HEVC HD <=30 fps, Professional AV1 SD <=30 fps and no sourced Professional rate in ap-southeast-2 (first volume band: Professional rate unsourced; MediaConvert discounts the normalized minutes above it)"
        );
    }
}
