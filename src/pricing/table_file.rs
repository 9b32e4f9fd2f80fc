//! The TOML a price table is read from (`pricing/mediaconvert.toml`'s format) and its
//! checks: every figure with an https:// source and the date it was read, or `unsourced`
//! saying why there is none; every error names the file, the line and the key.

use std::ops::Range;

use cattube_stages::cost::{self, Tier};
use cattube_stages::naming;
use serde::Deserialize;
use toml::Spanned;

use super::table::{Band, Multiplier, PriceTable, Rate, Sourced};

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

    /// A `[[rate]]` row: a region, a tier, and its volume bands or why there are none.
    fn rate(&self, row: &RateFile, key: &dyn Fn(&str) -> String) -> Result<Rate, String> {
        naming::validate_region(row.region.get_ref()).map_err(|e| {
            self.at(
                row.region.span(),
                &key("region"),
                format!("'{}' {e}", row.region.get_ref()),
            )
        })?;
        let tier = match self
            .one_of(&row.tier, &key("tier"), &["Basic", "Professional"])?
            .as_str()
        {
            "Basic" => Tier::Basic,
            _ => Tier::Professional,
        };
        let bands = row
            .bands
            .as_ref()
            .map(|bands| self.bands(bands, key))
            .transpose()?;
        Ok(Rate {
            region: row.region.get_ref().clone(),
            tier,
            bands: self.sourced(bands, "bands", provenance!(row), row.region.span(), key)?,
        })
    }

    /// A `[[multiplier]]` row: a class, and its factor or why there is none.
    fn multiplier(
        &self,
        row: &MultiplierFile,
        key: &dyn Fn(&str) -> String,
    ) -> Result<Multiplier, String> {
        if row.codec.get_ref().trim().is_empty() {
            return Err(self.at(row.codec.span(), &key("codec"), "must not be empty".into()));
        }
        let resolution =
            self.one_of(&row.resolution, &key("resolution"), cost::RESOLUTION_BANDS)?;
        let fps = self.one_of(&row.fps, &key("fps"), cost::FPS_BANDS)?;
        let quality = row
            .quality
            .as_ref()
            .map(|q| self.one_of(q, &key("quality"), QUALITIES))
            .transpose()?;
        let factor = row
            .factor
            .as_ref()
            .map(|f| self.price(f, &key("factor"), "normalized minutes per output minute"))
            .transpose()?;
        Ok(Multiplier {
            codec: row.codec.get_ref().clone(),
            resolution,
            fps,
            quality,
            factor: self.sourced(factor, "factor", provenance!(row), row.codec.span(), key)?,
        })
    }

    /// The `table` rows, each checked by `check` (its keys named `table[i].key`); a row
    /// `same` as an earlier one is refused at its `first_key`, saying `what` it repeats.
    fn rows<R, T>(
        &self,
        table: &str,
        rows: &[R],
        first_key: impl Fn(&R) -> Range<usize>,
        check: impl Fn(&Self, &R, &dyn Fn(&str) -> String) -> Result<T, String>,
        same: impl Fn(&T, &T) -> bool,
        what: &str,
    ) -> Result<Vec<T>, String> {
        let mut checked: Vec<T> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let this = check(self, row, &|k| format!("{table}[{i}].{k}"))?;
            if checked.iter().any(|earlier| same(earlier, &this)) {
                return Err(self.at(
                    first_key(row),
                    &format!("{table}[{i}]"),
                    format!("repeats the {what} of an earlier row"),
                ));
            }
            checked.push(this);
        }
        Ok(checked)
    }
}

/// One `[[rate]]` row per region and tier.
fn same_region_and_tier(a: &Rate, b: &Rate) -> bool {
    a.region == b.region && a.tier == b.tier
}

/// One `[[multiplier]]` row per class.
fn same_class(a: &Multiplier, b: &Multiplier) -> bool {
    (&a.codec, &a.resolution, &a.fps, &a.quality) == (&b.codec, &b.resolution, &b.fps, &b.quality)
}

impl PriceTable {
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
        let currency = check.one_of(&file.currency, "currency", &["USD"])?;
        let date = check.date(&file.date, "date")?;
        let rates = check.rows(
            "rate",
            &file.rate,
            |row| row.region.span(),
            Checker::rate,
            same_region_and_tier,
            "region and tier",
        )?;
        let multipliers = check.rows(
            "multiplier",
            &file.multiplier,
            |row| row.codec.span(),
            Checker::multiplier,
            same_class,
            "class",
        )?;
        Ok(PriceTable {
            name: name.to_string(),
            currency,
            date,
            rates,
            multipliers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::estimate;
    use crate::pricing::table::SHIPPED;
    use cattube_stages::context::PROFILES;

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
