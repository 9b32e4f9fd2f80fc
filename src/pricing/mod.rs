//! The price table (`pricing/mediaconvert.toml`, or `[cost] table`) and the arithmetic on
//! it, in MediaConvert's normalized-minute model: each output minute counts as a number of
//! normalized minutes (a multiplier by codec, resolution, frame rate and quality tuning
//! level), and each region bills the normalized minutes of a tier at a rate that falls as
//! the month's volume crosses thresholds. The table holds only figures read in a public
//! source; a figure without one is "unsourced", said so, and never summed. What an
//! output's class is comes from `cattube_stages::cost`.
//!
//! `table`: the figures, each with its source or the reason it has none; `table_file`: the
//! TOML the table is read from and its checks; `estimate`: what `plan` and `up` say each
//! minute of uploaded video costs; `bill`: what `cost` says the finished jobs cost.

mod bill;
mod estimate;
#[cfg(test)]
mod fixtures;
mod table;
mod table_file;

pub use bill::{billed, Billed, BilledClass, Period};
pub use estimate::{estimate, Estimate};
pub use table::PriceTable;

/// `$0.0705`, `$4.23`: cents for a dollar or more, four places below.
pub fn usd(value: f64) -> String {
    if value >= 1.0 {
        format!("${value:.2}")
    } else {
        format!("${value:.4}")
    }
}

/// The sum of `values`, 0 for none: `Iterator::sum` of no f64 is -0.0, printed "-0.00".
pub fn total(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(0.0, |sum, v| sum + v)
}

/// The sum of `values` when every one is known: one unsourced figure makes the sum unknown,
/// never a smaller number.
fn known_total(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    values
        .into_iter()
        .collect::<Option<Vec<f64>>>()
        .map(|known| total(known.into_iter()))
}

/// The assumptions every figure of the estimate and the bill rests on.
fn assumptions_of(table: &PriceTable) -> Vec<String> {
    vec![
        format!(
            "figures from {} ({}); each output minute counts as its class's multiplier of normalized minutes",
            table.name, table.date
        ),
        "priced at the first volume band's rate: MediaConvert discounts a month's normalized minutes above its thresholds, per region and tier".into(),
        format!(
            "each output is billed for its duration in whole seconds, at least {} s",
            bill::MINIMUM_SECONDS
        ),
        "on-demand queue; add-on features (Dolby Vision, HDR10+, audio normalisation) not priced"
            .into(),
    ]
}
