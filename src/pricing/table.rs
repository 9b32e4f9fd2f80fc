//! The price table's figures: per region and tier the rate of a normalized minute in volume
//! bands, per output class its multiplier; each figure with the source it was read in, or
//! the reason there is none.

use cattube_stages::cost::{OutputClass, Tier};
use serde::Serialize;

/// The table shipped in the repository.
pub const SHIPPED: &str = include_str!("../../pricing/mediaconvert.toml");
pub const SHIPPED_NAME: &str = "pricing/mediaconvert.toml (built in)";

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

    /// The address the figure was read from; `None` for an unsourced one.
    pub fn source(&self) -> Option<&str> {
        match self {
            Sourced::Read { source, .. } => Some(source),
            Sourced::Unsourced { .. } => None,
        }
    }

    /// Why there is no figure; `None` when there is one.
    pub fn unsourced(&self) -> Option<&str> {
        match self {
            Sourced::Read { .. } => None,
            Sourced::Unsourced { unsourced } => Some(unsourced),
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

impl PriceTable {
    /// The shipped table.
    pub fn shipped() -> PriceTable {
        PriceTable::parse(SHIPPED, SHIPPED_NAME).expect("the shipped price table is valid")
    }

    /// The rate row of `tier` in `region`, if the table has one (sourced or not).
    pub fn rate(&self, region: &str, tier: Tier) -> Option<&Rate> {
        self.rates
            .iter()
            .find(|r| r.region == region && r.tier == tier)
    }

    /// The first volume band's rate of `tier` in `region`, when the table has a sourced one.
    pub fn first_rate(&self, region: &str, tier: Tier) -> Option<f64> {
        self.rate(region, tier)
            .and_then(Rate::first_band)
            .map(|b| b.usd_per_normalized_minute)
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
            .filter_map(|r| r.bands.source())
            .chain(self.multipliers.iter().filter_map(|m| m.factor.source()));
        for source in cited {
            if !sources.contains(&source) {
                sources.push(source);
            }
        }
        sources
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::fixtures::own;

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
}
