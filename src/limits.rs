//! The `[job]` limits the converter function enforces, as `plan` and `up` show them: the
//! daily cap in output minutes priced at the estimate's rate per output minute, so what
//! the cap allows a day and a month is known before the first upload.

use serde::Serialize;

use crate::pricing::{usd, Estimate};
use cattube_stages::context::Settings;

/// The longest month: what a daily cap allows "a month" at most.
pub const DAYS_PER_MONTH: u32 = 31;

/// `limits` in `plan`'s and `up`'s JSON.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Limits {
    pub max_upload_mb: Option<u64>,
    pub max_duration_min: Option<u64>,
    pub max_output_minutes_per_day: Option<u64>,
    /// What one output minute of the stack's job settings costs: the estimate's price per
    /// source minute over its outputs (every job bills each output for the same duration).
    /// `null` when the price table has no rate for an output.
    pub usd_per_output_minute: Option<f64>,
    /// The most the daily cap lets the stack's jobs bill in one UTC day.
    pub usd_per_day_at_most: Option<f64>,
    /// The same for a 31-day month.
    pub usd_per_month_at_most: Option<f64>,
}

impl Limits {
    /// The configured limits priced with `estimate`; `None` when no limit is set.
    pub fn of(settings: &Settings, estimate: &Estimate) -> Option<Limits> {
        if !settings.limits_uploads() {
            return None;
        }
        let outputs = estimate.output_minutes_per_source_minute;
        let usd_per_output_minute = estimate
            .per_source_minute_usd
            .filter(|_| outputs > 0)
            .map(|usd| usd / outputs as f64);
        let per_day = settings
            .max_output_minutes_per_day
            .zip(usd_per_output_minute)
            .map(|(minutes, rate)| minutes as f64 * rate);
        Some(Limits {
            max_upload_mb: settings.max_upload_mb,
            max_duration_min: settings.max_duration_min,
            max_output_minutes_per_day: settings.max_output_minutes_per_day,
            usd_per_output_minute,
            usd_per_day_at_most: per_day,
            usd_per_month_at_most: per_day.map(|day| day * f64::from(DAYS_PER_MONTH)),
        })
    }

    /// The line `plan` and `up` print under the estimate.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(mb) = self.max_upload_mb {
            parts.push(format!("uploads up to {mb} MB"));
        }
        if let Some(min) = self.max_duration_min {
            parts.push(format!("videos up to {min} min"));
        }
        match (self.max_output_minutes_per_day, self.usd_per_day_at_most) {
            (Some(minutes), Some(day)) => parts.push(format!(
                "at most {minutes} output minutes a day: at most {} a day, {} a month ({DAYS_PER_MONTH} days) at {} per output minute",
                usd(day),
                usd(self.usd_per_month_at_most.unwrap_or_default()),
                usd(self.usd_per_output_minute.unwrap_or_default())
            )),
            (Some(minutes), None) => parts.push(format!(
                "at most {minutes} output minutes a day (their price is unknown: the price table has no rate for an output)"
            )),
            (None, _) => parts.push(
                "no daily cap (`[job] max-output-minutes-per-day`): nothing bounds the number of uploads"
                    .into(),
            ),
        }
        format!("limits: {}", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{estimate, PriceTable};

    /// The default job's estimate with a price per source minute given (the input: the
    /// table's rates change with the pricing model, the arithmetic here does not).
    fn web_estimate() -> Estimate {
        let job: serde_json::Value =
            serde_json::from_str(include_str!("../lambda-artifact/job.json")).unwrap();
        Estimate {
            per_source_minute_usd: Some(0.0315),
            ..estimate(&job, "us-east-1", &PriceTable::shipped())
        }
    }

    #[test]
    fn the_daily_cap_is_priced_per_day_and_per_month_from_the_estimate() {
        let estimate = web_estimate();
        let per_source = estimate.per_source_minute_usd.expect("priced above");
        let settings = Settings {
            max_output_minutes_per_day: Some(600),
            ..Settings::default()
        };
        let limits = Limits::of(&settings, &estimate).unwrap();
        let rate = per_source / estimate.output_minutes_per_source_minute as f64;
        assert_eq!(limits.usd_per_output_minute, Some(rate));
        assert_eq!(limits.usd_per_day_at_most, Some(600.0 * rate));
        assert_eq!(limits.usd_per_month_at_most, Some(600.0 * rate * 31.0));
        let line = limits.line();
        assert!(line.contains(&usd(600.0 * rate * 31.0)), "{line}");
        assert!(line.contains("at most 600 output minutes a day"), "{line}");
    }

    #[test]
    fn no_limit_no_line_and_an_unpriced_cap_says_so() {
        let estimate = web_estimate();
        assert_eq!(Limits::of(&Settings::default(), &estimate), None);
        let unpriced = Estimate {
            per_source_minute_usd: None,
            ..estimate
        };
        let settings = Settings {
            max_duration_min: Some(10),
            max_output_minutes_per_day: Some(60),
            ..Settings::default()
        };
        let limits = Limits::of(&settings, &unpriced).unwrap();
        assert_eq!(limits.usd_per_day_at_most, None);
        assert!(
            limits.line().contains("price is unknown"),
            "{}",
            limits.line()
        );
        assert!(
            limits.line().contains("videos up to 10 min"),
            "{}",
            limits.line()
        );
    }
}
