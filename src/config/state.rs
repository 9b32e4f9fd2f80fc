//! Where the state lives: `--state`, else `[state]`, else the local file.

use std::path::{Path, PathBuf};

use super::file::StateConfig;
use super::DEFAULT_STATE;
use crate::error::UsageError;

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    Local(PathBuf),
    /// An S3 object; `key: None` is `cattube/<stack>/<region>.json`, once the region is known.
    S3 {
        bucket: String,
        key: Option<String>,
    },
}

impl StateLocation {
    /// The key of an S3 state in `region`.
    pub fn s3_key(key: &Option<String>, stack: &str, region: &str) -> String {
        key.clone()
            .unwrap_or_else(|| format!("cattube/{stack}/{region}.json"))
    }
}

/// `s3://bucket[/key]` (no key: the default key).
fn parse_s3_url(url: &str) -> Result<(String, Option<String>), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        format!("'{url}' is not an s3:// URL; allowed: s3://BUCKET/KEY or a file path")
    })?;
    let (bucket, key) = match rest.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key).filter(|k| !k.is_empty())),
        None => (rest, None),
    };
    check_bucket(bucket).map_err(|e| format!("'{url}': {e}"))?;
    if let Some(key) = key {
        check_key(key).map_err(|e| format!("'{url}': {e}"))?;
    }
    Ok((bucket.to_string(), key.map(str::to_string)))
}

/// S3's bucket naming rules: 3-63 of a-z, 0-9, '.', '-', starting and ending with a letter
/// or digit.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the bucket name '{bucket}' is not valid; allowed: 3-63 of a-z, 0-9, '.', '-', \
             starting and ending with a letter or digit"
        ))
    }
}

/// An object key of at most 1019 bytes (the lock adds `.lock`), not ending in '/'.
fn check_key(key: &str) -> Result<(), String> {
    if key.len() > 1019 || key.ends_with('/') || key.starts_with('/') {
        return Err(format!(
            "the key '{key}' is not valid; allowed: 1-1019 bytes, not starting or ending with '/'"
        ));
    }
    Ok(())
}

/// `--state` (or `CATTUBE_STATE`: a file path or `s3://bucket/key`), else `[state]`, else
/// the local file.
pub fn state_location(
    flag: Option<&Path>,
    file: &StateConfig,
    origin: &dyn Fn(&str) -> String,
) -> Result<StateLocation, UsageError> {
    if let Some(flag) = flag {
        let text = flag.to_string_lossy();
        if text.starts_with("s3:") {
            let (bucket, key) = parse_s3_url(&text)
                .map_err(|e| UsageError::new(format!("--state (or CATTUBE_STATE): {e}")))?;
            return Ok(StateLocation::S3 { bucket, key });
        }
        return Ok(StateLocation::Local(flag.to_path_buf()));
    }
    match file.backend.as_deref() {
        Some("s3") => {
            let bucket = file.bucket.as_deref().ok_or_else(|| {
                UsageError::new(format!(
                    "{}: required with backend = \"s3\" (the state bucket's name)",
                    origin("state.bucket")
                ))
            })?;
            check_bucket(bucket)
                .map_err(|e| UsageError::new(format!("{}: {e}", origin("state.bucket"))))?;
            if let Some(key) = &file.key {
                check_key(key)
                    .map_err(|e| UsageError::new(format!("{}: {e}", origin("state.key"))))?;
            }
            Ok(StateLocation::S3 {
                bucket: bucket.to_string(),
                key: file.key.clone(),
            })
        }
        None | Some("local")
            if file.bucket.is_none() && file.key.is_none() && file.region.is_none() =>
        {
            Ok(StateLocation::Local(PathBuf::from(DEFAULT_STATE)))
        }
        None | Some("local") => Err(UsageError::new(format!(
            "{}: bucket, key and region need backend = \"s3\"",
            origin("state.backend")
        ))),
        Some(other) => Err(UsageError::new(format!(
            "{}: '{other}' is not a state backend; allowed: \"local\", \"s3\"",
            origin("state.backend")
        ))),
    }
}

#[cfg(test)]
mod tests {
    /// `--state` (or CATTUBE_STATE) wins over `[state]`; `s3://bucket` takes the default key.
    #[test]
    fn the_state_location_flag_wins_over_the_file() {
        use super::{state_location, StateConfig, StateLocation};
        use std::path::{Path, PathBuf};
        let origin = |key: &str| format!("{key} in cattube.toml");
        let file = StateConfig {
            backend: Some("s3".into()),
            bucket: Some("from-file".into()),
            key: Some("k.json".into()),
            region: None,
        };
        let s3 = |bucket: &str, key: Option<&str>| StateLocation::S3 {
            bucket: bucket.into(),
            key: key.map(str::to_string),
        };
        let at = |flag: Option<&str>, file: &StateConfig| {
            state_location(flag.map(Path::new), file, &origin).unwrap()
        };
        assert_eq!(at(None, &file), s3("from-file", Some("k.json")));
        assert_eq!(
            at(Some("s3://flag/x/y.json"), &file),
            s3("flag", Some("x/y.json"))
        );
        assert_eq!(at(Some("s3://flag"), &file), s3("flag", None));
        assert_eq!(
            at(Some("here.json"), &file),
            StateLocation::Local(PathBuf::from("here.json"))
        );
        assert_eq!(
            at(None, &StateConfig::default()),
            StateLocation::Local(PathBuf::from(super::DEFAULT_STATE))
        );
        assert_eq!(
            StateLocation::s3_key(&None, "demo", "eu-west-1"),
            "cattube/demo/eu-west-1.json"
        );
        let err = state_location(Some(Path::new("s3://A_B/k")), &file, &origin).unwrap_err();
        assert!(
            err.to_string().starts_with("--state (or CATTUBE_STATE):"),
            "{err}"
        );
    }
}
