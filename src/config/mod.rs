//! One resolved configuration from flags, `CATTUBE_*` environment, `cattube.toml` and
//! defaults, in that order of precedence. Everything is validated here, before the first
//! AWS call, so bad input never changes anything.

mod checks;
mod env;
mod file;
mod job;
mod state;

use std::collections::BTreeMap;
use std::path::Path;

use cattube_stages::{naming, origin_access_control, FunctionSettings, Registry, Settings};

use crate::cli::GlobalArgs;
use crate::error::UsageError;
use crate::pricing::PriceTable;
use checks::*;
use file::{load_file, read_beside, FileConfig};
pub use state::StateLocation;

pub const DEFAULT_STACK: &str = "cattube";
pub const DEFAULT_CONFIG: &str = "cattube.toml";
pub const DEFAULT_STATE: &str = "cattube.state.json";

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

/// Where a key was set, for the message that refuses its value: `stack in cattube.toml`.
type Origin<'a> = &'a dyn Fn(&str) -> String;

/// The refusal of `key`'s value: its origin, then what is wrong.
fn refused<'a>(origin: Origin<'a>, key: &'a str) -> impl FnOnce(String) -> UsageError + 'a {
    move |e| UsageError::new(format!("{}: {e}", origin(key)))
}

impl Config {
    pub fn resolve(global: &GlobalArgs) -> Result<Config, UsageError> {
        let (file, file_path) = load_file(global.config.as_deref())?;
        let origin = |key: &str| match &file_path {
            Some(path) => format!("{key} in {}", path.display()),
            None => key.to_string(),
        };
        let (stack, region) = stack_and_region(global, &file, &origin)?;
        check_names(&file, file_path.as_deref(), &origin)?;
        check_tables(&file, &origin)?;
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
        let job = job::resolve(&file.job, file_path.as_deref(), &origin)?;

        let shared_oac = env::shared_oac(file.delivery.shared_oac, &origin)?;
        // The shared OAC has the account's one name: a stack's own name for it would split it.
        if shared_oac && file.names.contains_key(origin_access_control::ID.as_str()) {
            return Err(UsageError::new(format!(
                "{}: origin-access-control cannot be renamed with shared-oac (the shared one is always '{}'); remove one of the two",
                origin("[names]"),
                origin_access_control::SHARED_NAME
            )));
        }

        let max_upload_mb = validate_max_upload(file.job.max_upload_mb)
            .map_err(refused(&origin, "job.max-upload-mb"))?;
        let max_duration_min = validate_limit(
            file.job.max_duration_min,
            MAX_DURATION_MIN,
            "minutes; 1440 is a day",
        )
        .map_err(refused(&origin, "job.max-duration-min"))?;
        let max_output_minutes_per_day = validate_limit(
            file.job.max_output_minutes_per_day,
            MAX_OUTPUT_MINUTES_PER_DAY,
            "output minutes per UTC day",
        )
        .map_err(refused(&origin, "job.max-output-minutes-per-day"))?;
        let prices = load_prices(&file, file_path.as_deref(), &origin)?;
        let state = state::state_location(global.state.as_deref(), &file.state, &origin)?;
        // Only S3 is asked there, so the format is checked, not the stack's services.
        if let Some(region) = &file.state.region {
            naming::validate_region(region).map_err(|e| {
                UsageError::new(format!("{}: '{region}' {e}", origin("state.region")))
            })?;
        }

        Ok(Config {
            stack,
            region,
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
                propagation_timeout: env::propagation_timeout()?,
                wait_for_deploy: false,
                deploy_timeout: env::deploy_timeout()?,
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

/// The stack (flag, file, default) and the region (flag, file, else the SDK's), checked.
fn stack_and_region(
    global: &GlobalArgs,
    file: &FileConfig,
    origin: Origin,
) -> Result<(String, Option<String>), UsageError> {
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
    Ok((stack, region.map(|(r, _)| r)))
}

/// `[names]`: registered resource ids (an unknown one with its line), valid names, and two
/// buckets that differ.
fn check_names(
    file: &FileConfig,
    file_path: Option<&Path>,
    origin: Origin,
) -> Result<(), UsageError> {
    let registry = Registry::standard();
    for (id, name) in &file.names {
        let kind = registry.kind_of(id).ok_or_else(|| {
            let allowed: Vec<&str> = registry.named().iter().map(|(id, _, _)| *id).collect();
            let line = file::line_at(&file.text, name.span().start);
            UsageError::new(format!(
                "{} line {line} (names.{id}): unknown resource id '{id}'; allowed: {}",
                file_path.unwrap_or(Path::new(DEFAULT_CONFIG)).display(),
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
    Ok(())
}

/// The tables whose values follow rules beyond their types (`checks`).
fn check_tables(file: &FileConfig, origin: Origin) -> Result<(), UsageError> {
    validate_tags(&file.tags).map_err(refused(origin, "[tags]"))?;
    validate_function(&file.function).map_err(refused(origin, "[function]"))?;
    validate_trigger(&file.trigger).map_err(refused(origin, "[trigger]"))?;
    validate_cdn(&file.cdn).map_err(refused(origin, "[cdn]"))?;
    validate_notify(&file.notify).map_err(refused(origin, "[notify] email"))?;
    validate_origins(&file.uploads.allowed_origins)
        .map_err(refused(origin, "[uploads] allowed-origins"))
}

/// `[cost] table` (relative to the configuration file), or the shipped table.
fn load_prices(
    file: &FileConfig,
    file_path: Option<&Path>,
    origin: Origin,
) -> Result<PriceTable, UsageError> {
    let Some(table) = &file.cost.table else {
        return Ok(PriceTable::shipped());
    };
    let (resolved, text) = read_beside(file_path, table, "cost.table", origin)?;
    PriceTable::parse(&text, &resolved.display().to_string())
        .map_err(|e| UsageError::new(format!("{e} ({})", origin("cost.table"))))
}
