//! `cattube.toml`: its tables as serde reads them, and where in the text an error is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DEFAULT_CONFIG;
use crate::error::UsageError;

/// `cattube.toml`. Every key is optional; an unknown key is an error, so a typo never
/// silently does nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub stack: Option<String>,
    pub region: Option<String>,
    /// Spanned: an unknown resource id is reported with its line.
    #[serde(default)]
    pub names: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    pub job: JobConfig,
    #[serde(default)]
    pub function: FunctionConfig,
    #[serde(default)]
    pub trigger: TriggerConfig,
    #[serde(default)]
    pub cdn: CdnConfig,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub cost: CostConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub player: PlayerConfig,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub uploads: UploadsConfig,
    pub domain: Option<DomainConfig>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// The file's text, for the line of what `Config::resolve` refuses.
    #[serde(skip)]
    pub text: String,
}

/// `[notify]`: who hears of each finished job (an SNS topic with email subscriptions).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NotifyConfig {
    #[serde(default)]
    pub email: Vec<String>,
}

/// `[uploads]`: browser uploads with `cattube upload-url` grants.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UploadsConfig {
    /// The origins whose pages may upload to the source bucket (its CORS rule).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// `[domain]`: the stack's own domain on CloudFront (docs/domain.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DomainConfig {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub zone_id: Option<String>,
}

/// `[delivery]`: how CloudFront reaches and serves the videos (docs/delivery.md,
/// docs/private-videos.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeliveryConfig {
    /// One origin access control for every stack of the account (docs/delivery.md).
    pub shared_oac: Option<bool>,
    /// Only signed URLs and cookies play the videos (a key group the stack owns).
    #[serde(default)]
    pub private: bool,
}

/// `[player]`: the player page and `catalog.json`, served through CloudFront.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PlayerConfig {
    /// With the player, `catalog.json` lists every video to anyone with the URL.
    pub enabled: bool,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        PlayerConfig { enabled: true }
    }
}

/// `[state]`: where the state lives (the local file unless `backend = "s3"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StateConfig {
    pub backend: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The state bucket's region, when not the stack's (Terraform's S3 backend's `region`).
    pub region: Option<String>,
}

/// `[cost]`: the price table the estimate and `cattube cost` use.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CostConfig {
    /// A table in `pricing/mediaconvert.toml`'s format, relative to the configuration file.
    pub table: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct JobConfig {
    /// The user's `job.json`, relative to the configuration file; wins over `profile`.
    pub template: Option<PathBuf>,
    /// A built-in job: `tutorial` (the default), `web` or `hls`.
    pub profile: Option<String>,
    /// Uploads larger than this many MiB are rejected by the converter function.
    pub max_upload_mb: Option<i64>,
    /// Uploads longer than this many minutes are rejected by the converter function.
    pub max_duration_min: Option<i64>,
    /// The output minutes the stack's jobs may bill per UTC day; uploads beyond are rejected.
    pub max_output_minutes_per_day: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct FunctionConfig {
    pub runtime: String,
    pub architecture: String,
    pub memory_mb: i64,
    pub timeout_s: i64,
    pub log_retention_days: i64,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            runtime: "python3.13".into(),
            architecture: "arm64".into(),
            memory_mb: 256,
            timeout_s: 60,
            log_retention_days: 30,
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TriggerConfig {
    #[serde(default)]
    pub suffixes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct CdnConfig {
    pub price_class: String,
}

impl Default for CdnConfig {
    fn default() -> Self {
        CdnConfig {
            price_class: "PriceClass_All".into(),
        }
    }
}

/// The configuration file: `--config` must exist; the default `cattube.toml` is optional.
pub fn load_file(explicit: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>), UsageError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_CONFIG).exists() => PathBuf::from(DEFAULT_CONFIG),
        None => return Ok((FileConfig::default(), None)),
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| UsageError::new(format!("--config: cannot read '{}': {e}", path.display())))?;
    let file = toml::from_str::<FileConfig>(&text).map_err(|e| {
        let line = e.span().map(|span| line_at(&text, span.start));
        let key = e.span().and_then(|span| key_at(&text, span.start));
        let at = match (line, key) {
            (Some(l), Some(key)) => format!(" line {l} ({key})"),
            (Some(l), None) => format!(" line {l}"),
            _ => String::new(),
        };
        UsageError::new(format!(
            "{}{at}: {}",
            path.display(),
            plain_types(&e.message().trim().replace('\n', " "))
        ))
    })?;
    let file = FileConfig { text, ..file };
    Ok((file, Some(path)))
}

/// A file the configuration names (`[job] template`, `[cost] table`), relative to the
/// configuration file as Cargo resolves paths in Cargo.toml: its path and its text.
pub fn read_beside(
    file_path: Option<&Path>,
    named: &Path,
    key: &str,
    origin: &dyn Fn(&str) -> String,
) -> Result<(PathBuf, String), UsageError> {
    let base = file_path.and_then(Path::parent).unwrap_or(Path::new(""));
    let resolved = base.join(named);
    let text = std::fs::read_to_string(&resolved).map_err(|e| {
        UsageError::new(format!(
            "{}: cannot read '{}': {e}",
            origin(key),
            resolved.display()
        ))
    })?;
    Ok((resolved, text))
}

/// The 1-based line of byte `offset` of `text`.
pub fn line_at(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// serde names the Rust type it wanted (`expected i64`): say what to write instead.
fn plain_types(message: &str) -> String {
    const PLAIN: &[(&str, &str)] = &[
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected u32", "expected a whole number of 0 or more"),
        ("expected u16", "expected a whole number of 0 or more"),
        ("expected f64", "expected a number"),
        (
            "expected a sequence",
            "expected a list, like [\"a\", \"b\"]",
        ),
        ("expected a map", "expected a table"),
        ("expected a borrowed string", "expected a string"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in PLAIN {
        out = out.replace(rust, plain);
    }
    out
}

/// The dotted key (`function.memory-mb`) of the `key = value` line holding byte `offset`,
/// so that an error about a value names its key, not only its line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn type_errors_name_the_kind_of_value_wanted() {
        let text = "[function]\nmemory-mb = \"big\"\n";
        let err = toml::from_str::<super::FileConfig>(text).unwrap_err();
        let message = super::plain_types(err.message());
        assert!(message.contains("expected a whole number"), "{message}");
        assert!(!message.contains("i64"), "{message}");
    }
}
