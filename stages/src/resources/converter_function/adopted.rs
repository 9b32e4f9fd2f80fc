//! What an adopted function keeps and gets back: before the first change `apply` publishes
//! it as a version (Lambda keeps its code and environment there; the state only their
//! CodeSha256 and fingerprints), and `down` puts its code and configuration back from that
//! version, then deletes the version it published.

use crate::resources::prelude::*;
use std::collections::{BTreeMap, HashMap};

use aws_sdk_lambda::types::{Architecture, Environment, Runtime};
use aws_smithy_types::Blob;

use super::{configuration, wait_until_updated, DRIFT_CODE, DRIFT_CONFIG, ID};
use crate::original::Originals;

/// Puts back an adopted function's configuration (role, runtime, handler, memory,
/// timeout, environment) as it was before `up`, so that it never points at the role
/// `down` deletes.
pub(super) async fn restore(
    ctx: &StackContext,
    recorded: &Recorded,
) -> Result<Vec<String>, StepError> {
    let name = ctx.name(ID);
    let originals = Originals::of(recorded);
    let mut restored = Vec::new();
    if let Some(Some(code)) = originals.get(DRIFT_CODE) {
        if let Some(version) = restore_code(ctx, name, code).await? {
            restored.push(format!("code (from version {version})"));
        }
    }
    if let Some(Some(was)) = originals.get(DRIFT_CONFIG) {
        let text = |key: &str| was.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let number = |key: &str| {
            was.get(key)
                .and_then(|v| v.as_i64())
                .and_then(|n| i32::try_from(n).ok())
        };
        let recorded: BTreeMap<String, String> = was
            .get("Environment")
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .unwrap_or_default();
        let variables = original_environment(ctx, name, recorded).await?;
        let runtime = text("Runtime").filter(|r| !r.is_empty());
        wait_until_updated(ctx, name).await?;
        ctx.clients
            .lambda
            .update_function_configuration()
            .function_name(name)
            .set_role(text("Role"))
            .set_runtime(runtime.map(|r| Runtime::from(r.as_str())))
            .set_handler(text("Handler").filter(|h| !h.is_empty()))
            .set_memory_size(number("MemorySize"))
            .set_timeout(number("Timeout"))
            .environment(
                Environment::builder()
                    .set_variables(Some(variables))
                    .build(),
            )
            .send()
            .await
            .context(|| format!("restoring the configuration of Lambda function {name}"))?;
        restored
            .push("configuration (role, runtime, handler, memory, timeout, environment)".into());
    }
    forget_kept(ctx, name).await?;
    if let Some(Some(serde_json::Value::Array(replaced))) = originals.get(REPLACED) {
        let names: Vec<String> = replaced
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["kind"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default()
                )
            })
            .collect();
        restored.push(format!(
            "and left in place what cattube replaced ({})",
            names.join(", ")
        ));
    }
    Ok(restored)
}

/// The setting of an adopted function's record (`original:replaced`) that lists what the
/// stack replaced when it took the function over (`adopt --from-tutorial`: the console's
/// roles): never restored nor deleted, named by `down`.
pub const REPLACED: &str = "replaced";

/// The description of the version that keeps an adopted function as it was.
fn kept_description(ctx: &StackContext) -> String {
    format!(
        "cattube stack {}: the function as it was before adoption",
        ctx.stack
    )
}

/// The published versions of a function (not `$LATEST`).
async fn versions(
    ctx: &StackContext,
    name: &str,
) -> Result<Vec<aws_sdk_lambda::types::FunctionConfiguration>, StepError> {
    let mut pages = ctx
        .clients
        .lambda
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.context(|| format!("listing the versions of Lambda function {name}"))?;
        all.extend(
            page.versions()
                .iter()
                .filter(|v| v.version() != Some("$LATEST"))
                .cloned(),
        );
    }
    Ok(all)
}

/// An environment as the state keeps it: each value's SHA-256, never the value.
pub(super) fn fingerprints(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    env.iter()
        .map(|(k, v)| {
            let digest: String = Sha256::digest(v.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (k.clone(), format!("{FINGERPRINT}{digest}"))
        })
        .collect()
}

/// The prefix of an environment value's fingerprint in the state.
const FINGERPRINT: &str = "sha256:";

/// A function version's (or `$LATEST`'s) environment.
fn environment_of(
    config: &aws_sdk_lambda::types::FunctionConfiguration,
) -> BTreeMap<String, String> {
    config
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Before the first change to an adopted function, publishes it as a version: Lambda keeps
/// its code and environment there, which `down` puts back (the state holds only the code's
/// CodeSha256 and the environment's fingerprints). Nothing when a version already holds the
/// code and environment it has now.
pub(super) async fn keep_original(
    ctx: &StackContext,
    name: &str,
) -> Result<Option<String>, StepError> {
    let live = configuration(ctx, name).await?;
    let sha = live.code_sha256().unwrap_or_default();
    let env: BTreeMap<String, String> = live
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if versions(ctx, name)
        .await?
        .iter()
        .any(|v| v.code_sha256() == Some(sha) && environment_of(v) == env)
    {
        return Ok(None);
    }
    let published = ctx
        .clients
        .lambda
        .publish_version()
        .function_name(name)
        .code_sha256(sha)
        .description(kept_description(ctx))
        .send()
        .await
        .context(|| format!("keeping Lambda function {name} as it was (PublishVersion)"))?;
    Ok(published.version().map(str::to_string))
}

/// The environment an adopted function had: its values from the version that kept it, found
/// by the fingerprints the state recorded (a state written before fingerprints holds the
/// values themselves).
async fn original_environment(
    ctx: &StackContext,
    name: &str,
    recorded: BTreeMap<String, String>,
) -> Result<HashMap<String, String>, StepError> {
    if !recorded.values().any(|v| v.starts_with(FINGERPRINT)) {
        return Ok(recorded.into_iter().collect());
    }
    versions(ctx, name)
        .await?
        .iter()
        .map(environment_of)
        .find(|env| fingerprints(env) == recorded)
        .map(|env| env.into_iter().collect())
        .ok_or_else(|| {
            StepError::msg(format!(
                "Lambda function {name}: no version holds its environment from before adoption \
                 (the state keeps only its fingerprints); set it again, then run `cattube down` again"
            ))
        })
}

/// Puts back the code an adopted function had (`was`: its recorded CodeSha256 and
/// architectures), from the version that holds it. The version it came from, if it wrote.
async fn restore_code(
    ctx: &StackContext,
    name: &str,
    was: &serde_json::Value,
) -> Result<Option<String>, StepError> {
    let lambda = &ctx.clients.lambda;
    let Some(sha) = was.get("CodeSha256").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    let architectures: Vec<Architecture> = was
        .get("Architectures")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(Architecture::from)
                .collect()
        })
        .unwrap_or_default();
    let live = configuration(ctx, name).await?;
    if live.code_sha256() == Some(sha) && live.architectures() == architectures.as_slice() {
        return Ok(None);
    }
    let Some(version) = versions(ctx, name)
        .await?
        .into_iter()
        .find(|v| v.code_sha256() == Some(sha))
        .and_then(|v| v.version().map(str::to_string))
    else {
        return Err(StepError::msg(format!(
            "Lambda function {name}: no version holds its code from before adoption \
             (CodeSha256 {sha}); deploy it again, then run `cattube down` again"
        )));
    };
    let got = lambda
        .get_function()
        .function_name(name)
        .qualifier(&version)
        .send()
        .await
        .context(|| format!("reading version {version} of Lambda function {name}"))?;
    let location = got.code().and_then(|c| c.location()).ok_or_else(|| {
        StepError::msg(format!(
            "Lambda function {name}: version {version} has no code to download"
        ))
    })?;
    let zip = crate::aws::download(location).await?;
    wait_until_updated(ctx, name).await?;
    lambda
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(zip))
        .set_architectures((!architectures.is_empty()).then_some(architectures))
        .send()
        .await
        .context(|| format!("restoring the code of Lambda function {name}"))?;
    Ok(Some(version))
}

/// Deletes the version [`keep_original`] published, once the function is restored (a
/// version its owner published is theirs, and stays).
async fn forget_kept(ctx: &StackContext, name: &str) -> Result<(), StepError> {
    let description = kept_description(ctx);
    for version in versions(ctx, name).await? {
        if version.description() != Some(description.as_str()) {
            continue;
        }
        let Some(number) = version.version() else {
            continue;
        };
        let answer = ctx
            .clients
            .lambda
            .delete_function()
            .function_name(name)
            .qualifier(number)
            .send()
            .await;
        Service::Lambda.deleted(answer, || {
            format!("deleting version {number} of Lambda function {name}")
        })?;
    }
    Ok(())
}
