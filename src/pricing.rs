//! The price table (`pricing/mediaconvert.toml`, or `[cost] table`) and the arithmetic on
//! it, in MediaConvert's normalized-minute model: each output minute counts as a number of
//! normalized minutes (a multiplier by codec, resolution, frame rate and quality tuning
//! level), and each region bills the normalized minutes of a tier at a rate that falls as
//! the month's volume crosses thresholds. The table holds only figures read in a public
//! source; a figure without one is "unsourced", said so, and never summed. What an
//! output's class is comes from `cattube_stages::cost`.

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
    "-",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TableFile {
    currency: Spanned<String>,
    date: Spanned<String>,
    #[serde(default)]
    rate: Vec<RateFile>,
    #[serde(default)]
    multiplier: Vec<MultiplierFile>,
}

/// Where a row's figure was read, or why there is none (the same keys in every row).
struct Provenance<'a> {
    source: &'a Option<Spanned<String>>,
    as_of: &'a Option<Spanned<String>>,
    read: &'a Option<Spanned<String>>,
    unsourced: &'a Option<Spanned<String>>,
}

/// The provenance keys of a row type.
macro_rules! provenance {
    ($row:expr) => {
        Provenance {
            source: &$row.source,
            as_of: &$row.as_of,
            read: &$row.read,
            unsourced: &$row.unsourced,
        }
    };
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BandFile {
    from: Spanned<f64>,
    usd_per_normalized_minute: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RateFile {
    region: Spanned<String>,
    tier: Spanned<String>,
    bands: Option<Spanned<Vec<BandFile>>>,
    source: Option<Spanned<String>>,
    as_of: Option<Spanned<String>>,
    read: Option<Spanned<String>>,
    unsourced: Option<Spanned<String>>,
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MultiplierFile {
    codec: Spanned<String>,
    resolution: Spanned<String>,
    fps: Spanned<String>,
    quality: Option<Spanned<String>>,
    factor: Option<Spanned<f64>>,
    source: Option<Spanned<String>>,
    as_of: Option<Spanned<String>>,
    read: Option<Spanned<String>>,
    unsourced: Option<Spanned<String>>,
    #[allow(dead_code)]
    note: Option<String>,
}

/// A figure and where it was read, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Sourced<T> {
    Read {
        value: T,
        source: String,
        as_of: Option<String>,
        read: String,
    },
    Unsourced {
        unsourced: String,
    },
}

impl<T> Sourced<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Sourced::Read { value, .. } => Some(value),
            Sourced::Unsourced { .. } => None,
        }
    }
}

/// One volume band: the rate of each normalized minute of the month from `from` on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    pub from: f64,
    pub usd_per_normalized_minute: f64,
}

/// A region's rate for one tier: its volume bands, lowest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    pub region: String,
    pub tier: Tier,
    pub bands: Sourced<Vec<Band>>,
}

impl Rate {
    /// The first volume band's rate: what a month's first normalized minutes cost.
    pub fn first_band(&self) -> Option<&Band> {
        self.bands.value().and_then(|b| b.first())
    }
}

/// What `minutes` normalized minutes cost when the month already counts `before`: each
/// minute at the rate of the band it falls in (the pricing page: "when the normalized
/// minute usage thresholds are crossed each month, the incremental rate is discounted").
pub fn banded_cost(bands: &[Band], before: f64, minutes: f64) -> f64 {
    let end = before + minutes;
    let mut usd = 0.0;
    for (i, band) in bands.iter().enumerate() {
        let upper = bands.get(i + 1).map_or(f64::INFINITY, |next| next.from);
        let overlap = end.min(upper) - before.max(band.from);
        if overlap > 0.0 {
            usd += overlap * band.usd_per_normalized_minute;
        }
    }
    usd
}

/// Normalized minutes per output minute of a class.
#[derive(Clone, Debug, PartialEq)]
pub struct Multiplier {
    pub codec: String,
    pub resolution: String,
    pub fps: String,
    /// `None`: any quality tuning level.
    pub quality: Option<String>,
    pub factor: Sourced<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    /// Where it came from, for messages.
    pub name: String,
    pub currency: String,
    pub date: String,
    pub rates: Vec<Rate>,
    pub multipliers: Vec<Multiplier>,
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Checks a table's text: every error names the file, the line and the key.
struct Checker<'a> {
    text: &'a str,
    name: &'a str,
}

impl Checker<'_> {
    fn at(&self, span: Range<usize>, key: &str, problem: String) -> String {
        format!(
            "{} line {} ({key}): {problem}",
            self.name,
            line_of(self.text, span.start)
        )
    }

    fn date(&self, value: &Spanned<String>, key: &str) -> Result<String, String> {
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
            Err(self.at(
                value.span(),
                key,
                format!("'{v}' must be a date, YYYY-MM-DD"),
            ))
        }
    }

    fn one_of(
        &self,
        value: &Spanned<String>,
        key: &str,
        allowed: &[&str],
    ) -> Result<String, String> {
        if allowed.contains(&value.get_ref().as_str()) {
            Ok(value.get_ref().clone())
        } else {
            Err(self.at(
                value.span(),
                key,
                format!(
                    "'{}' is not allowed; allowed: {}",
                    value.get_ref(),
                    allowed.join(", ")
                ),
            ))
        }
    }

    fn price(&self, value: &Spanned<f64>, key: &str, what: &str) -> Result<f64, String> {
        let v = *value.get_ref();
        if v.is_finite() && v > 0.0 && v < 100.0 {
            Ok(v)
        } else {
            Err(self.at(
                value.span(),
                key,
                format!("{v} must be above 0 and below 100 ({what})"),
            ))
        }
    }

    /// A rate row's volume bands: the first from 0, each later one from above the last.
    fn bands(
        &self,
        bands: &Spanned<Vec<BandFile>>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Vec<Band>, String> {
        let mut checked: Vec<Band> = Vec::new();
        for (j, band) in bands.get_ref().iter().enumerate() {
            let bkey = key(&format!("bands[{j}]"));
            let from = *band.from.get_ref();
            let expected_from = if j == 0 { Some(0.0) } else { None };
            let rising = checked.last().is_none_or(|last| from > last.from);
            if !from.is_finite() || expected_from.is_some_and(|f| from != f) || !rising {
                return Err(self.at(
                    band.from.span(),
                    &format!("{bkey}.from"),
                    format!(
                        "{from} must be {}",
                        if j == 0 {
                            "0: the first band starts the month".to_string()
                        } else {
                            "above the previous band's".to_string()
                        }
                    ),
                ));
            }
            let usd = self.price(
                &band.usd_per_normalized_minute,
                &format!("{bkey}.usd-per-normalized-minute"),
                "USD per normalized minute",
            )?;
            checked.push(Band {
                from,
                usd_per_normalized_minute: usd,
            });
        }
        if checked.is_empty() {
            return Err(self.at(
                bands.span(),
                &key("bands"),
                "must list at least the first band".into(),
            ));
        }
        Ok(checked)
    }

    /// A figure with its source and read date, or `unsourced` saying why there is none:
    /// one or the other. `row` spans the row, for a row that has neither.
    fn sourced<T>(
        &self,
        value: Option<T>,
        value_key: &str,
        provenance: Provenance,
        row: Range<usize>,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Sourced<T>, String> {
        match (value, provenance.unsourced) {
            (Some(_), Some(why)) => Err(self.at(
                why.span(),
                &key("unsourced"),
                format!("a row with {value_key} has a source, not 'unsourced'"),
            )),
            (None, Some(why)) => {
                if why.get_ref().trim().is_empty() {
                    return Err(self.at(
                        why.span(),
                        &key("unsourced"),
                        "must say why no figure could be sourced".into(),
                    ));
                }
                if let Some(source) = provenance.source {
                    return Err(self.at(
                        source.span(),
                        &key("source"),
                        format!("an unsourced row has no {value_key}; put the source in 'note'"),
                    ));
                }
                Ok(Sourced::Unsourced {
                    unsourced: why.get_ref().clone(),
                })
            }
            (None, None) => Err(self.at(
                row,
                &key(value_key),
                format!("needs {value_key} with source and read, or unsourced = \"why\""),
            )),
            (Some(value), None) => {
                let Some(source) = provenance.source else {
                    return Err(self.at(
                        row,
                        &key("source"),
                        "must be the https:// address the figure was read from".into(),
                    ));
                };
                if !source.get_ref().starts_with("https://") {
                    return Err(self.at(
                        source.span(),
                        &key("source"),
                        "must be the https:// address the figure was read from".into(),
                    ));
                }
                let Some(read) = provenance.read else {
                    return Err(self.at(
                        row,
                        &key("read"),
                        "must be the date the figure was read, YYYY-MM-DD".into(),
                    ));
                };
                let read = self.date(read, &key("read"))?;
                let as_of = provenance
                    .as_of
                    .as_ref()
                    .map(|d| self.date(d, &key("as-of")))
                    .transpose()?;
                Ok(Sourced::Read {
                    value,
                    source: source.get_ref().clone(),
                    as_of,
                    read,
                })
            }
        }
    }
}

impl PriceTable {
    /// The shipped table.
    pub fn shipped() -> PriceTable {
        PriceTable::parse(SHIPPED, SHIPPED_NAME).expect("the shipped price table is valid")
    }

    /// Parses and checks a table; the error names the file, the line and the key.
    pub fn parse(text: &str, name: &str) -> Result<PriceTable, String> {
        let check = Checker { text, name };
        let file: TableFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| format!(" line {}", line_of(text, s.start)))
                .unwrap_or_default();
            format!("{name}{line}: {}", e.message().trim().replace('\n', " "))
        })?;
        if file.currency.get_ref() != "USD" {
            return Err(check.at(
                file.currency.span(),
                "currency",
                format!("'{}' is not allowed; allowed: USD", file.currency.get_ref()),
            ));
        }
        let table_date = check.date(&file.date, "date")?;
        let mut rates: Vec<Rate> = Vec::new();
        for (i, row) in file.rate.iter().enumerate() {
            let key = |k: &str| format!("rate[{i}].{k}");
            naming::validate_region(row.region.get_ref()).map_err(|e| {
                check.at(
                    row.region.span(),
                    &key("region"),
                    format!("'{}' {e}", row.region.get_ref()),
                )
            })?;
            let tier = match check
                .one_of(&row.tier, &key("tier"), &["Basic", "Professional"])?
                .as_str()
            {
                "Basic" => Tier::Basic,
                _ => Tier::Professional,
            };
            let bands = row
                .bands
                .as_ref()
                .map(|bands| check.bands(bands, &key))
                .transpose()?;
            let bands = check.sourced(bands, "bands", provenance!(row), row.region.span(), &key)?;
            if rates
                .iter()
                .any(|r| r.region == *row.region.get_ref() && r.tier == tier)
            {
                return Err(check.at(
                    row.region.span(),
                    &format!("rate[{i}]"),
                    "repeats the region and tier of an earlier row".into(),
                ));
            }
            rates.push(Rate {
                region: row.region.get_ref().clone(),
                tier,
                bands,
            });
        }
        let mut multipliers: Vec<Multiplier> = Vec::new();
        for (i, row) in file.multiplier.iter().enumerate() {
            let key = |k: &str| format!("multiplier[{i}].{k}");
            if row.codec.get_ref().trim().is_empty() {
                return Err(check.at(row.codec.span(), &key("codec"), "must not be empty".into()));
            }
            let resolution =
                check.one_of(&row.resolution, &key("resolution"), cost::RESOLUTION_BANDS)?;
            let fps = check.one_of(&row.fps, &key("fps"), cost::FPS_BANDS)?;
            let quality = row
                .quality
                .as_ref()
                .map(|q| check.one_of(q, &key("quality"), QUALITIES))
                .transpose()?;
            let factor = row
                .factor
                .as_ref()
                .map(|f| check.price(f, &key("factor"), "normalized minutes per output minute"))
                .transpose()?;
            let factor =
                check.sourced(factor, "factor", provenance!(row), row.codec.span(), &key)?;
            let multiplier = Multiplier {
                codec: row.codec.get_ref().clone(),
                resolution,
                fps,
                quality,
                factor,
            };
            if multipliers.iter().any(|m| {
                (&m.codec, &m.resolution, &m.fps, &m.quality)
                    == (
                        &multiplier.codec,
                        &multiplier.resolution,
                        &multiplier.fps,
                        &multiplier.quality,
                    )
            }) {
                return Err(check.at(
                    row.codec.span(),
                    &format!("multiplier[{i}]"),
                    "repeats the class of an earlier row".into(),
                ));
            }
            multipliers.push(multiplier);
        }
        Ok(PriceTable {
            name: name.to_string(),
            currency: file.currency.into_inner(),
            date: table_date,
            rates,
            multipliers,
        })
    }

    /// The rate row of `tier` in `region`, if the table has one (sourced or not).
    pub fn rate(&self, region: &str, tier: Tier) -> Option<&Rate> {
        self.rates
            .iter()
            .find(|r| r.region == region && r.tier == tier)
    }

    /// The multiplier row of `class`: one for its exact quality first, then one for any.
    pub fn multiplier(&self, class: &OutputClass) -> Option<&Multiplier> {
        let matching = |m: &&Multiplier| {
            m.codec == class.codec
                && m.resolution == class.resolution_band
                && m.fps == class.fps_band
        };
        self.multipliers
            .iter()
            .filter(matching)
            .find(|m| m.quality.as_deref() == Some(class.quality.as_str()))
            .or_else(|| {
                self.multipliers
                    .iter()
                    .filter(matching)
                    .find(|m| m.quality.is_none())
            })
    }

    /// Normalized minutes per output minute of `class`, when the table has a sourced one.
    pub fn factor(&self, class: &OutputClass) -> Option<f64> {
        self.multiplier(class)
            .and_then(|m| m.factor.value().copied())
    }

    /// Every source the table cites, once each.
    pub fn sources(&self) -> Vec<&str> {
        let mut sources: Vec<&str> = Vec::new();
        let cited = self
            .rates
            .iter()
            .filter_map(|r| match &r.bands {
                Sourced::Read { source, .. } => Some(source.as_str()),
                Sourced::Unsourced { .. } => None,
            })
            .chain(self.multipliers.iter().filter_map(|m| match &m.factor {
                Sourced::Read { source, .. } => Some(source.as_str()),
                Sourced::Unsourced { .. } => None,
            }));
        for source in cited {
            if !sources.contains(&source) {
                sources.push(source);
            }
        }
        sources
    }
}

// ---------------------------------------------------------------------------------------
// the estimate

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

/// The assumptions every figure here rests on.
fn general_assumptions(table: &PriceTable) -> Vec<String> {
    vec![
        format!(
            "figures from {} ({}); each output minute counts as its class's multiplier of normalized minutes",
            table.name, table.date
        ),
        "priced at the first volume band's rate: MediaConvert discounts a month's normalized minutes above its thresholds, per region and tier".into(),
        format!(
            "each output is billed for its duration in whole seconds, at least {MINIMUM_SECONDS} s"
        ),
        "on-demand queue; add-on features (Dolby Vision, HDR10+, audio normalisation) not priced"
            .into(),
    ]
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
    let mut tiers: Vec<Tier> = classified.outputs.iter().map(|c| c.tier).collect();
    tiers.sort();
    tiers.dedup();
    let first_band: Vec<FirstBand> = tiers
        .iter()
        .map(|&tier| {
            let rate = table.rate(region, tier);
            let why = match rate.map(|r| &r.bands) {
                Some(Sourced::Read { .. }) => None,
                Some(Sourced::Unsourced { unsourced }) => Some(unsourced.clone()),
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
                usd_per_normalized_minute: rate
                    .and_then(Rate::first_band)
                    .map(|b| b.usd_per_normalized_minute),
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
                let why = match table.multiplier(class).map(|m| &m.factor) {
                    Some(Sourced::Unsourced { unsourced }) => unsourced.clone(),
                    _ => format!("{} has no row for this class", table.name),
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
    let normalized_minutes_per_source_minute = outputs
        .iter()
        .map(|o| o.normalized_minutes_per_minute)
        .collect::<Option<Vec<f64>>>()
        .map(|f| total(f.into_iter()));
    let per_source_minute_usd = outputs
        .iter()
        .map(|o| o.usd_per_minute)
        .collect::<Option<Vec<f64>>>()
        .map(|u| total(u.into_iter()));
    let mut assumptions = general_assumptions(table);
    assumptions.extend(classified.assumptions);
    Estimate {
        kind: "estimate",
        region: region.to_string(),
        output_minutes_per_source_minute: outputs.len(),
        normalized_minutes_per_source_minute,
        per_source_minute_usd,
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
    let first_rate = |tier: Tier| {
        table
            .rate(region, tier)
            .and_then(Rate::first_band)
            .map(|b| b.usd_per_normalized_minute)
    };
    let classes: Vec<BilledClass> = by_class
        .into_iter()
        .map(|(class, outputs, output_minutes)| {
            let factor = table.factor(&class);
            let normalized = factor.map(|f| f * output_minutes);
            let rate = first_rate(class.tier);
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
    let normalized_minutes = classes
        .iter()
        .map(|c| c.normalized_minutes)
        .collect::<Option<Vec<f64>>>()
        .map(|n| total(n.into_iter()));
    let mut tiers: Vec<Tier> = classes.iter().map(|c| c.tier).collect();
    tiers.dedup();
    let usd = tiers
        .iter()
        .map(|&tier| {
            let minutes = classes
                .iter()
                .filter(|c| c.tier == tier)
                .map(|c| c.normalized_minutes)
                .collect::<Option<Vec<f64>>>()?;
            let bands = table.rate(region, tier)?.bands.value()?;
            Some(banded_cost(bands, 0.0, total(minutes.into_iter())))
        })
        .collect::<Option<Vec<f64>>>()
        .map(|usd| total(usd.into_iter()));
    Period {
        jobs: count,
        output_minutes: total(classes.iter().map(|c| c.output_minutes)),
        normalized_minutes,
        usd,
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
    use cattube_stages::context::PROFILES;
    use serde_json::json;

    /// A table of one's own for the arithmetic (not AWS figures): two bands for Basic in
    /// us-east-1, one for Professional, and the multipliers of an AVC ladder.
    const OWN: &str = r#"currency = "USD"
date = "2026-12-07"

[[rate]]
region = "us-east-1"
tier = "Basic"
bands = [{ from = 0, usd-per-normalized-minute = 0.01 }, { from = 1000, usd-per-normalized-minute = 0.004 }]
source = "https://example.com/my-contract"
read = "2026-12-07"

[[rate]]
region = "us-east-1"
tier = "Professional"
bands = [{ from = 0, usd-per-normalized-minute = 0.02 }]
source = "https://example.com/my-contract"
read = "2026-12-07"

[[multiplier]]
codec = "AVC"
resolution = "SD"
fps = "<=30"
factor = 1.0
source = "https://example.com/my-contract"
read = "2026-12-07"

[[multiplier]]
codec = "AVC"
resolution = "HD"
fps = "<=30"
factor = 2.0
source = "https://example.com/my-contract"
read = "2026-12-07"

[[multiplier]]
codec = "AVC"
resolution = "HD"
fps = "<=30"
quality = "multi-pass-hq"
factor = 3.0
source = "https://example.com/my-contract"
read = "2026-12-07"
"#;

    fn own() -> PriceTable {
        PriceTable::parse(OWN, "own.toml").unwrap()
    }

    fn avc(height: i64, quality: &str) -> serde_json::Value {
        json!({"VideoDescription": {"Height": height, "CodecSettings": {"Codec": "H_264",
            "H264Settings": {"QualityTuningLevel": quality, "FramerateControl": "SPECIFIED",
            "FramerateNumerator": 30, "FramerateDenominator": 1}}}})
    }

    fn job(outputs: Vec<serde_json::Value>) -> serde_json::Value {
        json!({"Settings": {"OutputGroups": [{"Outputs": outputs}]}})
    }

    /// Every region of the shipped table is a region name, has a row for both tiers, and
    /// each row either cites an https:// source and its read date or says why it has none;
    /// the estimate of every default profile in every region says what is unsourced.
    #[test]
    fn every_region_in_the_shipped_table_parses() {
        let table = PriceTable::shipped();
        let mut regions: Vec<&str> = table.rates.iter().map(|r| r.region.as_str()).collect();
        regions.dedup();
        assert!(regions.len() >= 20, "{regions:?}");
        for region in &regions {
            naming::validate_region(region).unwrap();
            for tier in [Tier::Basic, Tier::Professional] {
                let rate = table
                    .rate(region, tier)
                    .unwrap_or_else(|| panic!("{region} has no {tier:?} row"));
                match &rate.bands {
                    Sourced::Read { source, read, .. } => {
                        assert!(source.starts_with("https://") && read.len() == 10)
                    }
                    Sourced::Unsourced { unsourced } => assert!(!unsourced.is_empty()),
                }
            }
            for (name, text) in PROFILES {
                let doc: serde_json::Value = serde_json::from_str(text).unwrap();
                let estimate = estimate(&doc, region, &table);
                assert_eq!(estimate.region, *region);
                if estimate.per_source_minute_usd.is_none() {
                    assert!(!estimate.unsourced.is_empty(), "{name} in {region}");
                }
            }
        }
        // Each region once per tier: a table repeating one is refused.
        let first = &SHIPPED[SHIPPED.find("\n[[rate]]\n").unwrap() + 1..];
        let first = &first[..first[1..].find("[[").map_or(first.len(), |i| i + 1)];
        let twice = format!("{SHIPPED}\n{first}");
        let err = PriceTable::parse(&twice, "t.toml").unwrap_err();
        assert!(err.contains("repeats the region and tier"), "{err}");
    }

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

    /// Each normalized minute of the month at the rate of the band it falls in: the
    /// closed form against a walk minute by minute, across the threshold.
    #[test]
    fn volume_bands_discount_only_the_minutes_above_the_threshold() {
        let table = own();
        let bands = table
            .rate("us-east-1", Tier::Basic)
            .unwrap()
            .bands
            .value()
            .unwrap()
            .clone();
        let walk = |before: f64, minutes: f64| {
            let mut usd = 0.0;
            let mut at = before;
            while at < before + minutes {
                let band = bands.iter().rev().find(|b| b.from <= at).unwrap();
                usd += band.usd_per_normalized_minute;
                at += 1.0;
            }
            usd
        };
        for (before, minutes) in [
            (0.0, 10.0),
            (0.0, 1000.0),
            (990.0, 20.0),
            (0.0, 2500.0),
            (1500.0, 7.0),
        ] {
            let banded = banded_cost(&bands, before, minutes);
            assert!(
                (banded - walk(before, minutes)).abs() < 1e-9,
                "{before} + {minutes}: {banded}"
            );
        }
        // Split anywhere, the month costs the same.
        let whole = banded_cost(&bands, 0.0, 2500.0);
        let split = banded_cost(&bands, 0.0, 700.0) + banded_cost(&bands, 700.0, 1800.0);
        assert!((whole - split).abs() < 1e-9);
        // Below the threshold: the first band's rate.
        assert_eq!(
            banded_cost(&bands, 0.0, 10.0),
            10.0 * bands[0].usd_per_normalized_minute
        );
    }

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

    #[test]
    fn bad_tables_name_the_line_and_key() {
        let good = "currency = \"USD\"\ndate = \"2026-12-01\"\n\n[[rate]]\nregion = \"us-east-1\"\ntier = \"Basic\"\nbands = [{ from = 0, usd-per-normalized-minute = 0.0075 }, { from = 100, usd-per-normalized-minute = 0.005 }]\nsource = \"https://example.com/p\"\nread = \"2026-12-01\"\n\n[[multiplier]]\ncodec = \"AVC\"\nresolution = \"HD\"\nfps = \"<=30\"\nfactor = 2.0\nsource = \"https://example.com/p\"\nread = \"2026-12-01\"\n";
        PriceTable::parse(good, "t.toml").unwrap();
        for (from, to, expected) in [
            ("tier = \"Basic\"", "tier = \"Pro\"", "t.toml line 6 (rate[0].tier): 'Pro' is not allowed; allowed: Basic, Professional"),
            ("usd-per-normalized-minute = 0.0075", "usd-per-normalized-minute = -1.0", "t.toml line 7 (rate[0].bands[0].usd-per-normalized-minute)"),
            ("{ from = 0,", "{ from = 5,", "t.toml line 7 (rate[0].bands[0].from): 5 must be 0"),
            ("{ from = 100,", "{ from = 0,", "t.toml line 7 (rate[0].bands[1].from): 0 must be above"),
            ("region = \"us-east-1\"", "region = \"mars\"", "t.toml line 5 (rate[0].region)"),
            ("fps = \"<=30\"", "fps = \"30\"", "t.toml line 14 (multiplier[0].fps)"),
            ("factor = 2.0", "factor = 0.0", "t.toml line 15 (multiplier[0].factor)"),
            ("source = \"https://example.com/p\"", "source = \"my head\"", "t.toml line 8 (rate[0].source)"),
            ("date = \"2026-12-01\"", "date = \"yesterday\"", "t.toml line 2 (date)"),
            ("read = \"2026-12-01\"", "red = \"2026-12-01\"", "t.toml line 9"),
            ("read = \"2026-12-01\"\n", "unsourced = \"not read\"\n", "t.toml line 9 (rate[0].unsourced): a row with bands has a source"),
            ("factor = 2.0\n", "", "t.toml line 12 (multiplier[0].factor): needs factor with source and read, or unsourced"),
            ("factor = 2.0\nsource = \"https://example.com/p\"\nread = \"2026-12-01\"\n", "unsourced = \" \"\n", "t.toml line 15 (multiplier[0].unsourced): must say why"),
        ] {
            let bad = good.replacen(from, to, 1);
            assert_ne!(bad, good, "{from}");
            let err = PriceTable::parse(&bad, "t.toml").unwrap_err();
            assert!(err.starts_with(expected), "{to}: {err}");
        }
    }
}
