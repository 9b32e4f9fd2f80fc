//! The `CATTUBE_*` variables that have no flag, read once.

use std::time::Duration;

use cattube_stages::Settings;

use crate::error::UsageError;

/// `CATTUBE_SHARED_OAC` (the account-wide default a CI job sets once), which beats
/// `[delivery] shared-oac` as every `CATTUBE_*` variable beats the file; default `false`.
pub fn shared_oac(file: Option<bool>, origin: &dyn Fn(&str) -> String) -> Result<bool, UsageError> {
    const KEY: &str = "CATTUBE_SHARED_OAC";
    match std::env::var(KEY) {
        Err(_) => Ok(file.unwrap_or(false)),
        Ok(value) => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(UsageError::new(format!(
                "{KEY}: '{value}' must be true or false (1/0, yes/no); it overrides {}",
                origin("[delivery] shared-oac")
            ))),
        },
    }
}

/// `CATTUBE_PROPAGATION_TIMEOUT`: seconds to retry what AWS has not propagated yet (a new
/// role, a new permission). AWS usually needs seconds, at worst about two minutes; tests set
/// it low so that they stay fast.
pub fn propagation_timeout() -> Result<Duration, UsageError> {
    seconds(
        "CATTUBE_PROPAGATION_TIMEOUT",
        Settings::default().propagation_timeout,
        3600,
    )
}

/// `CATTUBE_DEPLOY_TIMEOUT`: seconds to wait for CloudFront to deploy a change (`up --wait`,
/// `down`). CloudFront usually needs 5 to 20 minutes; the default is 30. Tests set it low.
pub fn deploy_timeout() -> Result<Duration, UsageError> {
    seconds(
        "CATTUBE_DEPLOY_TIMEOUT",
        Settings::default().deploy_timeout,
        4 * 3600,
    )
}

/// A whole number of seconds from 0 to `most` in the variable `key`, else `default`.
fn seconds(key: &str, default: Duration, most: u64) -> Result<Duration, UsageError> {
    match std::env::var(key) {
        Err(_) => Ok(default),
        Ok(value) => match value.parse::<u64>() {
            Ok(seconds) if seconds <= most => Ok(Duration::from_secs(seconds)),
            _ => Err(UsageError::new(format!(
                "{key}: '{value}' must be a whole number of seconds from 0 to {most}"
            ))),
        },
    }
}
