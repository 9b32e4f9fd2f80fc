//! Changing a live distribution: its configuration read with its ETag, edited (exactly
//! what drifted, or back to what an adopted one had), and written back with that ETag.

use crate::resources::prelude::*;
use aws_sdk_cloudfront::operation::update_distribution::UpdateDistributionOutput;
use aws_sdk_cloudfront::types::{
    AllowedMethods, CachedMethods, DistributionConfig, HttpVersion, Method, Origins, PriceClass,
    S3OriginConfig, ViewerProtocolPolicy,
};
use serde_json::Value;

use super::config::{
    build_err, default_root_object, get_head, origin_domain, trusted, wanted_behavior,
    wanted_behaviors, wanted_domain, wanted_origin, CACHING_OPTIMIZED, MINIMUM_TLS, ORIGIN_ID,
};
use super::drift::{
    DRIFT_BEHAVIOR, DRIFT_DOMAIN, DRIFT_ENABLED, DRIFT_OAC, DRIFT_ROOT, DRIFT_SETTINGS,
    DRIFT_SIGNING, DRIFT_VIEWER,
};

use crate::origin_access_control;
use crate::original::Originals;
use crate::retry::retry_codes;

/// Reads distribution `id`'s configuration, lets `edit` change it (what it changed, one
/// line each), and writes it back with the ETag just read, when `edit` changed anything;
/// read again when someone changed it in between (`PreconditionFailed`). `doing` names the
/// write ("updating"). What `edit` changed and UpdateDistribution's answer when it wrote;
/// `None` when the distribution is gone.
pub(super) async fn rewrite(
    ctx: &StackContext,
    id: &str,
    doing: &str,
    edit: impl Fn(&mut DistributionConfig) -> Result<Vec<String>, StepError>,
) -> Result<Option<(Vec<String>, Option<UpdateDistributionOutput>)>, StepError> {
    let cf = &ctx.clients.cloudfront;
    retry_codes(
        ctx.settings.propagation_timeout,
        &["PreconditionFailed"],
        |_| {},
        || async {
            let Some(out) = cf
                .get_distribution_config()
                .id(id)
                .send()
                .await
                .found(Service::CloudFront, || {
                    format!("reading the configuration of distribution {id}")
                })?
            else {
                return Ok(None);
            };
            let mut config = out.distribution_config().cloned().ok_or_else(|| {
                StepError::msg(format!("distribution {id} returned no configuration"))
            })?;
            let changes = edit(&mut config)?;
            if changes.is_empty() {
                return Ok(Some((changes, None)));
            }
            let updated = cf
                .update_distribution()
                .id(id)
                .set_if_match(out.e_tag().map(str::to_string))
                .distribution_config(config)
                .send()
                .await
                .found(Service::CloudFront, || format!("{doing} distribution {id}"))?;
            Ok(updated.map(|updated| (changes, Some(updated))))
        },
    )
    .await
}

/// Changes in `config` exactly what drifted; returns what it changed.
pub(super) fn repair(
    ctx: &StackContext,
    config: &mut DistributionConfig,
    present: &Present,
    certificate_arn: Option<&str>,
    key_group: Option<&str>,
) -> Result<Vec<String>, StepError> {
    let mut changes = Vec::new();
    if present.has_drift(DRIFT_DOMAIN) {
        let (aliases, viewer_certificate) = wanted_domain(ctx, certificate_arn)?;
        changes.push(match aliases.items().first() {
            Some(_) => format!(
                "serves {} with its certificate (sni-only, {})",
                aliases.items().join(", "),
                MINIMUM_TLS.as_str()
            ),
            None => "serves CloudFront's own domain and certificate".to_string(),
        });
        config.aliases = Some(aliases);
        config.viewer_certificate = Some(viewer_certificate);
    }
    if present.has_drift(DRIFT_ENABLED) {
        config.enabled = true;
        changes.push("enabled the distribution".to_string());
    }
    let target = config
        .default_cache_behavior
        .as_ref()
        .map(|b| b.target_origin_id.clone())
        .unwrap_or_else(|| ORIGIN_ID.to_string());
    if config.default_cache_behavior.is_none() {
        config.default_cache_behavior = Some(wanted_behavior(&target, key_group)?);
    }
    if present.has_drift(DRIFT_SIGNING) {
        config.cache_behaviors = Some(wanted_behaviors(ctx, &target, key_group)?);
        if let Some(behavior) = config.default_cache_behavior.as_mut() {
            behavior.trusted_key_groups = Some(trusted(key_group)?);
        }
        changes.push(match key_group {
            Some(group) => format!("serves the videos only signed (key group {group})"),
            None => "serves the videos unsigned".to_string(),
        });
    }
    let behavior = config
        .default_cache_behavior
        .as_mut()
        .expect("set just above");
    if present.has_drift(DRIFT_VIEWER) {
        behavior.viewer_protocol_policy = ViewerProtocolPolicy::RedirectToHttps;
        changes.push("viewer protocol policy redirect-to-https".to_string());
    }
    if present.has_drift(DRIFT_BEHAVIOR) {
        behavior.allowed_methods = Some(get_head()?);
        behavior.cache_policy_id = Some(CACHING_OPTIMIZED.to_string());
        // A cache policy excludes the legacy cache settings.
        #[allow(deprecated)]
        {
            behavior.forwarded_values = None;
            behavior.min_ttl = None;
            behavior.default_ttl = None;
            behavior.max_ttl = None;
        }
        changes.push("GET,HEAD with the CachingOptimized cache policy".to_string());
    }
    if present.has_drift(DRIFT_OAC) {
        changes.push(repair_origin(ctx, config, &target)?);
    }
    if present.has_drift(DRIFT_SETTINGS) {
        config.http_version = Some(HttpVersion::Http2and3);
        config.is_ipv6_enabled = Some(true);
        config.price_class = Some(PriceClass::from(ctx.settings.price_class.as_str()));
        changes.push(format!(
            "HTTP/2 and HTTP/3, IPv6, {}",
            ctx.settings.price_class
        ));
    }
    if present.has_drift(DRIFT_ROOT) {
        config.default_root_object = Some(default_root_object(ctx).to_string());
        changes.push(format!(
            "default root object '{}'",
            default_root_object(ctx)
        ));
    }
    Ok(changes)
}

/// Points the default behavior's origin (`target`) at the destination bucket through the
/// stack's OAC, adding the origin when it is gone; what it changed.
fn repair_origin(
    ctx: &StackContext,
    config: &mut DistributionConfig,
    target: &str,
) -> Result<String, StepError> {
    let oac = origin_access_control::known_id(ctx)
        .ok_or_else(|| StepError::msg("the stack's origin access control is not known"))?;
    let wanted = wanted_origin(ctx, &oac)?;
    if config.origins.is_none() {
        config.origins = Some(
            Origins::builder()
                .quantity(0)
                .set_items(Some(Vec::new()))
                .build()
                .map_err(build_err("origins"))?,
        );
    }
    let origins = config.origins.as_mut().expect("set just above");
    match origins.items.iter_mut().find(|o| o.id == target) {
        Some(origin) => {
            origin.domain_name = wanted.domain_name.clone();
            origin.s3_origin_config = wanted.s3_origin_config.clone();
            origin.custom_origin_config = None;
            origin.origin_access_control_id = wanted.origin_access_control_id.clone();
        }
        None => {
            let mut wanted = wanted;
            wanted.id = target.to_string();
            origins.items.push(wanted);
        }
    }
    origins.quantity = origins.items.len() as i32;
    Ok(format!(
        "origin {} through origin access control {oac}",
        origin_domain(ctx)
    ))
}

/// Puts back in `config` the settings recorded before `up` changed them on an adopted
/// distribution ([`crate::original`]); what it put back. The legacy cache settings a
/// behavior may have had beside its methods (forwarded values, TTLs) are not recorded: a
/// behavior that had them keeps CachingOptimized.
pub(super) fn restore(
    config: &mut DistributionConfig,
    originals: &Originals,
) -> Result<Vec<String>, StepError> {
    let mut restored = Vec::new();
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    if let Some(Some(enabled)) = originals.get(DRIFT_ENABLED) {
        config.enabled = enabled.as_bool().unwrap_or(true);
        restored.push("enabled".to_string());
    }
    let target = config
        .default_cache_behavior
        .as_ref()
        .map(|b| b.target_origin_id.clone())
        .unwrap_or_default();
    if let Some(behavior) = config.default_cache_behavior.as_mut() {
        if let Some(Some(Value::String(viewer))) = originals.get(DRIFT_VIEWER) {
            behavior.viewer_protocol_policy = ViewerProtocolPolicy::from(viewer.as_str());
            restored.push("viewer protocol policy".to_string());
        }
        if let Some(Some(was)) = originals.get(DRIFT_BEHAVIOR) {
            let methods = |key: &str| -> Vec<Method> {
                was.get(key)
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .map(Method::from)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (allowed, cached) = (methods("AllowedMethods"), methods("CachedMethods"));
            if !allowed.is_empty() {
                behavior.allowed_methods = Some(
                    AllowedMethods::builder()
                        .quantity(allowed.len() as i32)
                        .set_items(Some(allowed))
                        .set_cached_methods(
                            (!cached.is_empty())
                                .then(|| {
                                    CachedMethods::builder()
                                        .quantity(cached.len() as i32)
                                        .set_items(Some(cached))
                                        .build()
                                })
                                .transpose()
                                .map_err(build_err("cached methods"))?,
                        )
                        .build()
                        .map_err(build_err("allowed methods"))?,
                );
            }
            behavior.cache_policy_id = text(was, "CachePolicyId");
            restored.push("cache behavior".to_string());
        }
    }
    if let Some(Some(was)) = originals.get(DRIFT_OAC) {
        if let Some(origin) = config
            .origins
            .as_mut()
            .and_then(|o| o.items.iter_mut().find(|o| o.id == target))
        {
            if let Some(domain) = text(was, "DomainName") {
                origin.domain_name = domain;
            }
            origin.origin_access_control_id = text(was, "OriginAccessControlId");
            if let Some(identity) = text(was, "OriginAccessIdentity") {
                origin.s3_origin_config = Some(
                    S3OriginConfig::builder()
                        .origin_access_identity(identity)
                        .build(),
                );
            }
            restored.push("origin".to_string());
        }
    }
    if let Some(Some(was)) = originals.get(DRIFT_SETTINGS) {
        config.http_version = text(was, "HttpVersion").map(|v| HttpVersion::from(v.as_str()));
        config.is_ipv6_enabled = was.get("IsIPV6Enabled").and_then(Value::as_bool);
        config.price_class = text(was, "PriceClass").map(|v| PriceClass::from(v.as_str()));
        restored.push("HTTP version, IPv6, price class".to_string());
    }
    if let Some(Some(Value::String(root))) = originals.get(DRIFT_ROOT) {
        config.default_root_object = Some(root.clone());
        restored.push(format!("default root object '{root}'"));
    }
    Ok(restored)
}
