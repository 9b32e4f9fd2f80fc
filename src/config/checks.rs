//! The rules each value of `cattube.toml` follows beyond its type, each saying what is
//! allowed.

use std::collections::BTreeMap;

use super::file::{CdnConfig, FunctionConfig, NotifyConfig, TriggerConfig};

/// `[uploads] allowed-origins`: each `scheme://host[:port]` (S3 allows one `*` in the
/// host, as in `https://*.example.com`), or `*` written as such; no path, no duplicates.
pub fn validate_origins(origins: &[String]) -> Result<(), String> {
    let allowed = "allowed: \"*\" or http(s)://HOST[:PORT] with at most one '*', no path";
    for (i, origin) in origins.iter().enumerate() {
        if origins[..i].contains(origin) {
            return Err(format!("'{origin}' is listed twice"));
        }
        if origin == "*" {
            continue;
        }
        let host = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or_else(|| format!("'{origin}' has no http:// or https://; {allowed}"))?;
        let valid = !host.is_empty()
            && host.matches('*').count() <= 1
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:*[]".contains(c))
            && !host.starts_with([':', '.'])
            && !host.ends_with([':', '.']);
        if !valid {
            return Err(format!("'{origin}' is not an origin; {allowed}"));
        }
    }
    Ok(())
}

/// `[job] max-upload-mb`: a whole number of MiB, 1 to 5 TiB (S3's largest object).
pub fn validate_max_upload(value: Option<i64>) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(mb) if (1..=5 * 1024 * 1024).contains(&mb) => Ok(Some(mb as u64)),
        Some(mb) => Err(format!(
            "{mb} is out of range; allowed: 1 to 5242880 (MiB; S3's largest object is 5 TiB)"
        )),
    }
}

/// The largest `[job] max-duration-min`: a day.
pub const MAX_DURATION_MIN: i64 = 1440;
/// The largest `[job] max-output-minutes-per-day`: a day of 694 outputs running at once
/// (a bound that still says "bounded"; higher is no limit at all).
pub const MAX_OUTPUT_MINUTES_PER_DAY: i64 = 1_000_000;

/// A whole-number limit of the converter function, 1 to `most`.
pub fn validate_limit(value: Option<i64>, most: i64, unit: &str) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(n) if (1..=most).contains(&n) => Ok(Some(n as u64)),
        Some(n) => Err(format!(
            "{n} is out of range; allowed: a whole number from 1 to {most} ({unit})"
        )),
    }
}

pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), String> {
    if tags.len() > 40 {
        return Err(format!(
            "at most 40 tags ({} given; cattube adds 3 of its own)",
            tags.len()
        ));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(format!("tag key '{key}' must be 1 to 128 characters"));
        }
        if value.chars().count() > 256 {
            return Err(format!(
                "the value of tag '{key}' must be at most 256 characters"
            ));
        }
        if key.starts_with("aws:") || key.starts_with("cattube:") || key == "managed-by" {
            return Err(format!(
                "tag key '{key}' is reserved ('aws:', 'cattube:', 'managed-by')"
            ));
        }
        let ok = |s: &str| {
            s.chars()
                .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
        };
        if !ok(key) || !ok(value) {
            return Err(format!(
                "tag '{key}' may contain only letters, digits, spaces and _ . : / = + - @"
            ));
        }
    }
    Ok(())
}

pub fn validate_function(function: &FunctionConfig) -> Result<(), String> {
    const RUNTIMES: &[&str] = &["python3.13", "python3.14"];
    if !RUNTIMES.contains(&function.runtime.as_str()) {
        return Err(format!(
            "runtime '{}' is not allowed; allowed: {}",
            function.runtime,
            RUNTIMES.join(", ")
        ));
    }
    if !["arm64", "x86_64"].contains(&function.architecture.as_str()) {
        return Err(format!(
            "architecture '{}' is not allowed; allowed: arm64, x86_64",
            function.architecture
        ));
    }
    if !(128..=10240).contains(&function.memory_mb) {
        return Err(format!(
            "memory-mb {} is out of range; allowed: 128 to 10240",
            function.memory_mb
        ));
    }
    if !(1..=900).contains(&function.timeout_s) {
        return Err(format!(
            "timeout-s {} is out of range; allowed: 1 to 900",
            function.timeout_s
        ));
    }
    let allowed = cattube_stages::function_log_group::RETENTION_DAYS;
    if !i32::try_from(function.log_retention_days).is_ok_and(|d| allowed.contains(&d)) {
        let shown: Vec<String> = allowed.iter().map(i32::to_string).collect();
        return Err(format!(
            "log-retention-days {} is not a retention CloudWatch Logs allows; allowed: {}",
            function.log_retention_days,
            shown.join(", ")
        ));
    }
    Ok(())
}

pub fn validate_trigger(trigger: &TriggerConfig) -> Result<(), String> {
    for suffix in &trigger.suffixes {
        if suffix.is_empty() || suffix.len() > 1024 {
            return Err(format!("suffix '{suffix}' must be 1 to 1024 characters"));
        }
    }
    Ok(())
}

/// Addresses SNS would take as email endpoints: one `@`, a local part and a dotted domain,
/// no spaces, within the lengths of RFC 5321 (SNS itself checks no more than this shape).
pub fn validate_notify(notify: &NotifyConfig) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for email in &notify.email {
        let shaped = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.split('.').count() >= 2
                    && domain.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                    })
            });
        if !shaped {
            return Err(format!(
                "'{email}' is not an email address (allowed: a list of addresses like \"a@example.com\")"
            ));
        }
        if !seen.insert(email.to_ascii_lowercase()) {
            return Err(format!("'{email}' is listed twice"));
        }
    }
    Ok(())
}

pub fn validate_cdn(cdn: &CdnConfig) -> Result<(), String> {
    const CLASSES: &[&str] = &["PriceClass_All", "PriceClass_200", "PriceClass_100"];
    if !CLASSES.contains(&cdn.price_class.as_str()) {
        return Err(format!(
            "price-class '{}' is not allowed; allowed: {}",
            cdn.price_class,
            CLASSES.join(", ")
        ));
    }
    Ok(())
}
