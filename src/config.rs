//! One resolved configuration from flags, `CATTUBE_*` environment, `cattube.toml` and
//! defaults, in that order of precedence. Everything is validated here, before the first
//! AWS call, so bad input never changes anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cattube_stages::{
    naming, origin_access_control, FunctionSettings, JobFile, Registry, Settings,
};
use serde::Deserialize;
use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::error::UsageError;
use crate::pricing::PriceTable;

pub const DEFAULT_STACK: &str = "cattube";
pub const DEFAULT_CONFIG: &str = "cattube.toml";
pub const DEFAULT_STATE: &str = "cattube.state.json";

/// `cattube.toml`. Every key is optional; an unknown key is an error, so a typo never
/// silently does nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    stack: Option<String>,
    region: Option<String>,
    /// Spanned: an unknown resource id is reported with its line.
    #[serde(default)]
    names: BTreeMap<String, toml::Spanned<String>>,
    #[serde(default)]
    job: JobConfig,
    #[serde(default)]
    function: FunctionConfig,
    #[serde(default)]
    trigger: TriggerConfig,
    #[serde(default)]
    cdn: CdnConfig,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    cost: CostConfig,
    #[serde(default)]
    state: StateConfig,
    #[serde(default)]
    player: PlayerConfig,
    #[serde(default)]
    notify: NotifyConfig,
    #[serde(default)]
    uploads: UploadsConfig,
    domain: Option<DomainConfig>,
    #[serde(default)]
    delivery: DeliveryConfig,
    /// The file's text, for the line of what `Config::resolve` refuses.
    #[serde(skip)]
    text: String,
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
struct UploadsConfig {
    /// The origins whose pages may upload to the source bucket (its CORS rule).
    #[serde(default)]
    allowed_origins: Vec<String>,
}

/// `[uploads] allowed-origins`: each `scheme://host[:port]` (S3 allows one `*` in the
/// host, as in `https://*.example.com`), or `*` written as such; no path, no duplicates.
fn validate_origins(origins: &[String]) -> Result<(), String> {
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

/// `[domain]`: the stack's own domain on CloudFront (docs/domain.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DomainConfig {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    zone_id: Option<String>,
}

/// `[delivery]`: how CloudFront reaches and serves the videos (docs/delivery.md,
/// docs/private-videos.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DeliveryConfig {
    /// One origin access control for every stack of the account (docs/delivery.md).
    shared_oac: Option<bool>,
    /// Only signed URLs and cookies play the videos (a key group the stack owns).
    #[serde(default)]
    private: bool,
}

/// `[player]`: the player page and `catalog.json`, served through CloudFront.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct PlayerConfig {
    /// With the player, `catalog.json` lists every video to anyone with the URL.
    enabled: bool,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        PlayerConfig { enabled: true }
    }
}

/// `[state]`: where the state lives (the local file unless `backend = "s3"`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StateConfig {
    backend: Option<String>,
    bucket: Option<String>,
    key: Option<String>,
    /// The state bucket's region, when not the stack's (Terraform's S3 backend's `region`).
    region: Option<String>,
}

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

/// The configuration every command works from.
#[derive(Debug, Clone)]
pub struct Config {
    pub stack: String,
    /// `None`: the AWS SDK's default chain decides (resolved in `session`).
    pub region: Option<String>,
    pub profile: Option<String>,
    pub state: StateLocation,
    /// `[state] region`: where the S3 state's bucket lives (`None`: the stack's region).
    pub state_region: Option<String>,
    /// `[names]` overrides, by resource id.
    pub names: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// What the stages need of `[job]`, `[function]`, `[trigger]` and `[cdn]`.
    pub settings: Settings,
    /// `[cost] table`, or the shipped one.
    pub prices: PriceTable,
}

impl Config {
    pub fn resolve(global: &GlobalArgs) -> Result<Config, UsageError> {
        let (file, file_path) = load_file(global.config.as_deref())?;
        let origin = |key: &str| match &file_path {
            Some(path) => format!("{key} in {}", path.display()),
            None => key.to_string(),
        };

        let (stack, stack_origin) = match (&global.stack, &file.stack) {
            (Some(s), _) => (s.clone(), "--stack (or CATTUBE_STACK)".to_string()),
            (None, Some(s)) => (s.clone(), origin("stack")),
            (None, None) => (DEFAULT_STACK.to_string(), "stack".to_string()),
        };
        naming::validate_stack(&stack)
            .map_err(|e| UsageError::new(format!("{stack_origin}: '{stack}' {e}")))?;

        let region = match (&global.region, &file.region) {
            (Some(r), _) => Some((r.clone(), "--region (or CATTUBE_REGION)".to_string())),
            (None, Some(r)) => Some((r.clone(), origin("region"))),
            (None, None) => None,
        };
        if let Some((region, region_origin)) = &region {
            naming::validate_region(region)
                .map_err(|e| UsageError::new(format!("{region_origin}: '{region}' {e}")))?;
        }

        let registry = Registry::standard();
        for (id, name) in &file.names {
            let kind = registry.kind_of(id).ok_or_else(|| {
                let allowed: Vec<&str> = registry.named().iter().map(|(id, _, _)| *id).collect();
                let line = line_at(&file.text, name.span().start);
                UsageError::new(format!(
                    "{} line {line} (names.{id}): unknown resource id '{id}'; allowed: {}",
                    file_path
                        .as_deref()
                        .unwrap_or(Path::new(DEFAULT_CONFIG))
                        .display(),
                    allowed.join(", ")
                ))
            })?;
            let name = name.get_ref();
            naming::validate_name(kind, name).map_err(|e| {
                UsageError::new(format!("{}: '{name}' {e}", origin(&format!("names.{id}"))))
            })?;
        }
        if let (Some(source), Some(destination)) = (
            file.names.get(cattube_stages::source_bucket::ID.as_str()),
            file.names
                .get(cattube_stages::destination_bucket::ID.as_str()),
        ) {
            if source == destination {
                let source = source.get_ref();
                return Err(UsageError::new(format!(
                    "{}: the source and destination buckets must differ (both are '{source}')",
                    origin("[names]")
                )));
            }
        }

        validate_tags(&file.tags)
            .map_err(|e| UsageError::new(format!("{}: {e}", origin("[tags]"))))?;
        validate_function(&file.function)
            .map_err(|e| UsageError::new(format!("{}: {e}", origin("[function]"))))?;
        validate_trigger(&file.trigger)
            .map_err(|e| UsageError::new(format!("{}: {e}", origin("[trigger]"))))?;
        validate_cdn(&file.cdn)
            .map_err(|e| UsageError::new(format!("{}: {e}", origin("[cdn]"))))?;
        validate_notify(&file.notify)
            .map_err(|e| UsageError::new(format!("{}: {e}", origin("[notify] email"))))?;
        validate_origins(&file.uploads.allowed_origins).map_err(|e| {
            UsageError::new(format!("{}: {e}", origin("[uploads] allowed-origins")))
        })?;
        let domain = file.domain.clone().map(|d| cattube_stages::DomainSettings {
            name: d.name,
            aliases: d.aliases,
            zone_id: d.zone_id,
        });
        if let Some(domain) = &domain {
            cattube_stages::certificate::validate_domain(domain).map_err(|(key, e)| {
                UsageError::new(format!("{}: {e}", origin(&format!("[domain] {key}"))))
            })?;
        }

        // Checked also when `template` (which wins) is set: a typo is never silently ignored.
        let name = file.job.profile.as_deref().unwrap_or("tutorial");
        let profile = JobFile::profile(name).ok_or_else(|| {
            let allowed: Vec<String> = cattube_stages::context::PROFILES
                .iter()
                .map(|(n, _)| format!("\"{n}\""))
                .collect();
            UsageError::new(format!(
                "{}: '{name}' is not a job profile; allowed: {}",
                origin("job.profile"),
                allowed.join(", ")
            ))
        })?;
        let job = match &file.job.template {
            Some(template) => {
                // Relative to the configuration file, as Cargo resolves paths in Cargo.toml.
                let base = file_path
                    .as_deref()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new(""));
                let resolved = base.join(template);
                let text = std::fs::read_to_string(&resolved).map_err(|e| {
                    UsageError::new(format!(
                        "{}: cannot read '{}': {e}",
                        origin("job.template"),
                        resolved.display()
                    ))
                })?;
                let source = resolved.display().to_string();
                let document = parse_job(&text).map_err(|e| {
                    UsageError::new(format!("{source} ({}): {e}", origin("job.template")))
                })?;
                JobFile { source, document }
            }
            None => profile,
        };

        let shared_oac = shared_oac(file.delivery.shared_oac, &origin)?;
        // The shared OAC has the account's one name: a stack's own name for it would split it.
        if shared_oac && file.names.contains_key(origin_access_control::ID.as_str()) {
            return Err(UsageError::new(format!(
                "{}: origin-access-control cannot be renamed with shared-oac (the shared one is always '{}'); remove one of the two",
                origin("[names]"),
                origin_access_control::SHARED_NAME
            )));
        }

        let max_upload_mb = validate_max_upload(file.job.max_upload_mb)
            .map_err(|e| UsageError::new(format!("{}: {e}", origin("job.max-upload-mb"))))?;
        let max_duration_min = validate_limit(
            file.job.max_duration_min,
            MAX_DURATION_MIN,
            "minutes; 1440 is a day",
        )
        .map_err(|e| UsageError::new(format!("{}: {e}", origin("job.max-duration-min"))))?;
        let max_output_minutes_per_day = validate_limit(
            file.job.max_output_minutes_per_day,
            MAX_OUTPUT_MINUTES_PER_DAY,
            "output minutes per UTC day",
        )
        .map_err(|e| {
            UsageError::new(format!("{}: {e}", origin("job.max-output-minutes-per-day")))
        })?;
        let prices = load_prices(&file.cost, file_path.as_deref(), &origin)?;
        let state = state_location(global.state.as_deref(), &file.state, &origin)?;
        // Only S3 is asked there, so the format is checked, not the stack's services.
        if let Some(region) = &file.state.region {
            naming::validate_region(region).map_err(|e| {
                UsageError::new(format!("{}: '{region}' {e}", origin("state.region")))
            })?;
        }

        Ok(Config {
            stack,
            region: region.map(|(r, _)| r),
            profile: global.profile.clone(),
            state,
            state_region: file.state.region.clone(),
            names: file
                .names
                .into_iter()
                .map(|(id, name)| (id, name.into_inner()))
                .collect(),
            tags: file.tags,
            settings: Settings {
                job,
                function: FunctionSettings {
                    runtime: file.function.runtime,
                    architecture: file.function.architecture,
                    memory_mb: file.function.memory_mb as i32,
                    timeout_s: file.function.timeout_s as i32,
                    log_retention_days: file.function.log_retention_days as i32,
                },
                trigger_suffixes: file.trigger.suffixes,
                price_class: file.cdn.price_class,
                propagation_timeout: propagation_timeout()?,
                wait_for_deploy: false,
                deploy_timeout: deploy_timeout()?,
                max_upload_mb,
                max_duration_min,
                max_output_minutes_per_day,
                player_enabled: file.player.enabled,
                notify_emails: file.notify.email,
                upload_origins: file.uploads.allowed_origins,
                domain,
                shared_oac,
                private: file.delivery.private,
            },
            prices,
        })
    }
}

/// `--state` (or `CATTUBE_STATE`: a file path or `s3://bucket/key`), else `[state]`, else
/// the local file.
fn state_location(
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

/// `[job] max-upload-mb`: a whole number of MiB, 1 to 5 TiB (S3's largest object).
fn validate_max_upload(value: Option<i64>) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(mb) if (1..=5 * 1024 * 1024).contains(&mb) => Ok(Some(mb as u64)),
        Some(mb) => Err(format!(
            "{mb} is out of range; allowed: 1 to 5242880 (MiB; S3's largest object is 5 TiB)"
        )),
    }
}

/// The largest `[job] max-duration-min`: a day.
const MAX_DURATION_MIN: i64 = 1440;
/// The largest `[job] max-output-minutes-per-day`: a day of 694 outputs running at once
/// (a bound that still says "bounded"; higher is no limit at all).
const MAX_OUTPUT_MINUTES_PER_DAY: i64 = 1_000_000;

/// A whole-number limit of the converter function, 1 to `most`.
fn validate_limit(value: Option<i64>, most: i64, unit: &str) -> Result<Option<u64>, String> {
    match value {
        None => Ok(None),
        Some(n) if (1..=most).contains(&n) => Ok(Some(n as u64)),
        Some(n) => Err(format!(
            "{n} is out of range; allowed: a whole number from 1 to {most} ({unit})"
        )),
    }
}

/// `[cost] table` (relative to the configuration file), or the shipped table.
fn load_prices(
    cost: &CostConfig,
    file_path: Option<&Path>,
    origin: &dyn Fn(&str) -> String,
) -> Result<PriceTable, UsageError> {
    let Some(table) = &cost.table else {
        return Ok(PriceTable::shipped());
    };
    let base = file_path.and_then(Path::parent).unwrap_or(Path::new(""));
    let resolved = base.join(table);
    let text = std::fs::read_to_string(&resolved).map_err(|e| {
        UsageError::new(format!(
            "{}: cannot read '{}': {e}",
            origin("cost.table"),
            resolved.display()
        ))
    })?;
    PriceTable::parse(&text, &resolved.display().to_string())
        .map_err(|e| UsageError::new(format!("{e} ({})", origin("cost.table"))))
}

/// `CATTUBE_SHARED_OAC` (the account-wide default a CI job sets once), which beats
/// `[delivery] shared-oac` as every `CATTUBE_*` variable beats the file; default `false`.
fn shared_oac(file: Option<bool>, origin: &dyn Fn(&str) -> String) -> Result<bool, UsageError> {
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
fn propagation_timeout() -> Result<Duration, UsageError> {
    const KEY: &str = "CATTUBE_PROPAGATION_TIMEOUT";
    match std::env::var(KEY) {
        Err(_) => Ok(Settings::default().propagation_timeout),
        Ok(value) => match value.parse::<u64>() {
            Ok(seconds) if seconds <= 3600 => Ok(Duration::from_secs(seconds)),
            _ => Err(UsageError::new(format!(
                "{KEY}: '{value}' must be a whole number of seconds from 0 to 3600"
            ))),
        },
    }
}

/// `CATTUBE_DEPLOY_TIMEOUT`: seconds to wait for CloudFront to deploy a change (`up --wait`,
/// `down`). CloudFront usually needs 5 to 20 minutes; the default is 30. Tests set it low.
fn deploy_timeout() -> Result<Duration, UsageError> {
    const KEY: &str = "CATTUBE_DEPLOY_TIMEOUT";
    match std::env::var(KEY) {
        Err(_) => Ok(Settings::default().deploy_timeout),
        Ok(value) => match value.parse::<u64>() {
            Ok(seconds) if seconds <= 4 * 3600 => Ok(Duration::from_secs(seconds)),
            _ => Err(UsageError::new(format!(
                "{KEY}: '{value}' must be a whole number of seconds from 0 to 14400"
            ))),
        },
    }
}

/// The configuration file: `--config` must exist; the default `cattube.toml` is optional.
fn load_file(explicit: Option<&Path>) -> Result<(FileConfig, Option<PathBuf>), UsageError> {
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

/// The 1-based line of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
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

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), String> {
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

fn validate_function(function: &FunctionConfig) -> Result<(), String> {
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

fn validate_trigger(trigger: &TriggerConfig) -> Result<(), String> {
    for suffix in &trigger.suffixes {
        if suffix.is_empty() || suffix.len() > 1024 {
            return Err(format!("suffix '{suffix}' must be 1 to 1024 characters"));
        }
    }
    Ok(())
}

/// Addresses SNS would take as email endpoints: one `@`, a local part and a dotted domain,
/// no spaces, within the lengths of RFC 5321 (SNS itself checks no more than this shape).
fn validate_notify(notify: &NotifyConfig) -> Result<(), String> {
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

fn validate_cdn(cdn: &CdnConfig) -> Result<(), String> {
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

/// OutputGroupSettings.Type values whose group has a Destination the function can set.
const DESTINATION_GROUPS: &[&str] = &[
    "FILE_GROUP_SETTINGS",
    "HLS_GROUP_SETTINGS",
    "DASH_ISO_GROUP_SETTINGS",
    "CMAF_GROUP_SETTINGS",
    "MS_SMOOTH_GROUP_SETTINGS",
];

/// A job.json (the tutorial's format: CreateJob's parameters) with the structure a job needs:
/// `Settings` with at least one output group, each with outputs and a settings `Type`, one of
/// them a kind whose destination the function can point at the destination bucket. Whether
/// MediaConvert accepts the settings themselves is for MediaConvert to say at `up`.
pub fn parse_job(text: &str) -> Result<Value, String> {
    let document: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(top) = document.as_object() else {
        return Err("must be a JSON object (the parameters of a MediaConvert job)".into());
    };
    let settings = match top.get("Settings") {
        Some(Value::Object(settings)) => settings,
        Some(_) => return Err("Settings must be an object".into()),
        None => return Err("has no Settings (the job's settings)".into()),
    };
    let groups = match settings.get("OutputGroups") {
        Some(Value::Array(groups)) if !groups.is_empty() => groups,
        Some(Value::Array(_)) => return Err("Settings.OutputGroups is empty".into()),
        Some(_) => return Err("Settings.OutputGroups must be a list".into()),
        None => return Err("has no Settings.OutputGroups (where the outputs go)".into()),
    };
    let mut destinations = 0;
    for (i, group) in groups.iter().enumerate() {
        let at = format!("Settings.OutputGroups[{i}]");
        let Some(group) = group.as_object() else {
            return Err(format!("{at} must be an object"));
        };
        match group.get("Outputs") {
            Some(Value::Array(outputs)) if !outputs.is_empty() => {}
            _ => return Err(format!("{at}.Outputs must be a non-empty list")),
        }
        let kind = group
            .get("OutputGroupSettings")
            .and_then(|s| s.get("Type"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.OutputGroupSettings.Type is missing"))?;
        if DESTINATION_GROUPS.contains(&kind) {
            destinations += 1;
        }
    }
    if destinations == 0 {
        return Err(format!(
            "no output group has a destination; OutputGroupSettings.Type must be one of {}",
            DESTINATION_GROUPS.join(", ")
        ));
    }
    match settings.get("Inputs") {
        None | Some(Value::Array(_)) => {}
        Some(_) => return Err("Settings.Inputs must be a list".into()),
    }
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::parse_job;

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

    #[test]
    fn type_errors_name_the_kind_of_value_wanted() {
        let text = "[function]\nmemory-mb = \"big\"\n";
        let err = toml::from_str::<super::FileConfig>(text).unwrap_err();
        let message = super::plain_types(err.message());
        assert!(message.contains("expected a whole number"), "{message}");
        assert!(!message.contains("i64"), "{message}");
    }

    #[test]
    fn the_default_job_is_valid() {
        parse_job(cattube_stages::context::DEFAULT_JOB_JSON).unwrap();
    }

    #[test]
    fn job_problems_are_named() {
        for (text, problem) in [
            ("{", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ("{}", "has no Settings"),
            (r#"{"Settings": {}}"#, "Settings.OutputGroups"),
            (r#"{"Settings": {"OutputGroups": []}}"#, "is empty"),
            (
                r#"{"Settings": {"OutputGroups": [{"Outputs": [{}]}]}}"#,
                "OutputGroupSettings.Type",
            ),
            (
                r#"{"Settings": {"OutputGroups": [{"Outputs": [], "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS"}}]}}"#,
                "Outputs must be a non-empty list",
            ),
        ] {
            let err = parse_job(text).unwrap_err();
            assert!(err.contains(problem), "{text}: {err}");
        }
    }
}
