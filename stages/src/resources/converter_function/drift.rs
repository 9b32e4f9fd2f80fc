//! How a live function differs from the stack's: its code, its architecture, and its
//! configuration (runtime, memory, timeout, handler, role, environment), each noted as it
//! was for `down` to put back on an adopted function.

use std::collections::BTreeMap;

use aws_sdk_lambda::types::FunctionConfiguration;

use super::adopted::fingerprints;
use super::{environment, DRIFT_ARCHITECTURE, DRIFT_CODE, DRIFT_CONFIG};
use crate::artifact::{code_sha256, function_zip, HANDLER};
use crate::step::Drift;
use crate::{arn, StackContext};

/// The drift of the function `config` describes; `domain` is the playback domain its
/// environment should carry.
pub(super) fn drift(
    ctx: &StackContext,
    config: &FunctionConfiguration,
    domain: Option<&str>,
) -> Vec<Drift> {
    let mut drift = Vec::new();
    let wanted = &ctx.settings.function;

    let sha = config.code_sha256().unwrap_or_default();
    if sha != code_sha256(&function_zip()) {
        drift.push(Drift::new(
            DRIFT_CODE,
            format!("code differs from this cattube's handler.py (CodeSha256 {sha})"),
        ));
    }
    let architectures: Vec<&str> = config.architectures().iter().map(|a| a.as_str()).collect();
    if architectures != [wanted.architecture.as_str()] {
        drift.push(Drift::new(
            DRIFT_ARCHITECTURE,
            format!(
                "architecture {}, not {}",
                architectures.join(","),
                wanted.architecture
            ),
        ));
    }
    let mut differs = Vec::new();
    let runtime = config.runtime().map(|r| r.as_str()).unwrap_or_default();
    if runtime != wanted.runtime {
        differs.push(format!("runtime {runtime}, not {}", wanted.runtime));
    }
    if config.memory_size() != Some(wanted.memory_mb) {
        differs.push(format!(
            "memory {} MB, not {}",
            config.memory_size().unwrap_or_default(),
            wanted.memory_mb
        ));
    }
    if config.timeout() != Some(wanted.timeout_s) {
        differs.push(format!(
            "timeout {} s, not {}",
            config.timeout().unwrap_or_default(),
            wanted.timeout_s
        ));
    }
    let handler = config.handler().unwrap_or_default();
    if handler != HANDLER {
        differs.push(format!("handler {handler}, not {HANDLER}"));
    }
    let role = config.role().unwrap_or_default();
    let wanted_role = arn::role(ctx, crate::resources::converter::ROLE);
    if role != wanted_role {
        differs.push(format!("role {role}, not {wanted_role}"));
    }
    let env: BTreeMap<String, String> = config
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let wanted_env = environment(ctx, domain);
    if env != wanted_env {
        let mut keys: Vec<&str> = wanted_env
            .iter()
            .filter(|(k, v)| env.get(*k) != Some(*v))
            .map(|(k, _)| k.as_str())
            .chain(
                env.keys()
                    .filter(|k| !wanted_env.contains_key(*k))
                    .map(String::as_str),
            )
            .collect();
        keys.sort_unstable();
        differs.push(format!("environment differs: {}", keys.join(", ")));
    }
    if !differs.is_empty() {
        // As it is, for `down` to put back on a function cattube adopted.
        let was = serde_json::json!({
            "Role": role,
            "Runtime": runtime,
            "Handler": handler,
            "MemorySize": config.memory_size(),
            "Timeout": config.timeout(),
            // Fingerprints, not values: a secret in the environment stays out of the
            // state; `down` takes the values from the version `apply` publishes first.
            "Environment": fingerprints(&env),
        });
        drift.push(Drift::new(DRIFT_CONFIG, differs.join("; ")).was(DRIFT_CONFIG, Some(was)));
    }
    let code_was = serde_json::json!({
        "CodeSha256": sha,
        "Architectures": architectures,
    });
    for d in drift
        .iter_mut()
        .filter(|d| d.key == DRIFT_CODE || d.key == DRIFT_ARCHITECTURE)
    {
        d.originals.keep(DRIFT_CODE, Some(code_was.clone()));
    }
    drift
}
