//! How a live distribution drifts from the one the stack wants ([`super::config`]).

use crate::resources::prelude::*;
use aws_sdk_cloudfront::types::{
    DistributionConfig, HttpVersion, Method, PriceClass, SslSupportMethod,
};
use serde_json::{json, Value};

use super::config::{
    default_root_object, origin_domain, CACHING_OPTIMIZED, MINIMUM_TLS, PUBLIC_PATHS,
};
use crate::origin_access_control;

pub(super) const DRIFT_ENABLED: &str = "enabled";
pub(super) const DRIFT_VIEWER: &str = "viewer-protocol";
pub(super) const DRIFT_OAC: &str = "oac";
pub(super) const DRIFT_BEHAVIOR: &str = "cache-behavior";
pub(super) const DRIFT_SETTINGS: &str = "settings";
pub(super) const DRIFT_ROOT: &str = "default-root-object";
pub(super) const DRIFT_DOMAIN: &str = "domain";
pub(super) const DRIFT_SIGNING: &str = "signed-access";

/// How the live `config` differs from the stack's distribution, each drift with what it
/// was (`down` puts an adopted distribution's back); its tags' only when it is `ours`.
pub(super) fn drift(
    ctx: &StackContext,
    config: &DistributionConfig,
    tags: &[(String, String)],
    ours: bool,
    recorded: Option<&Recorded>,
    certificate_arn: Option<&str>,
    key_group: Option<&str>,
) -> Vec<Drift> {
    let mut drift = Vec::new();
    if let Some(problem) = domain_drift(config, certificate_arn, ctx) {
        drift.push(Drift::new(DRIFT_DOMAIN, problem));
    }
    if let Some(problem) = signing_drift(ctx, config, key_group) {
        drift.push(Drift::new(DRIFT_SIGNING, problem));
    }
    if !config.enabled() {
        let by_down = recorded.is_some_and(|r| r.extra.contains_key("disabling"));
        drift.push(Drift::new(
            DRIFT_ENABLED,
            if by_down {
                "distribution disabled by `cattube down --no-wait`: run `cattube down` to finish deleting it, or `cattube up` to enable it again".to_string()
            } else {
                "distribution is disabled: it serves nothing".to_string()
            },
        ).was(DRIFT_ENABLED, Some(json!(false))));
    }
    drift.extend(behavior_drift(config));
    drift.extend(origin_drift(ctx, config));
    drift.extend(settings_drift(ctx, config));
    drift.extend(root_drift(ctx, config));
    if ours {
        drift.extend(ctx.tag_drift(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
    drift
}

/// The default behavior's viewer protocol policy, methods and cache policy.
fn behavior_drift(config: &DistributionConfig) -> Vec<Drift> {
    let mut drift = Vec::new();
    let behavior = config.default_cache_behavior();
    let viewer = behavior.map(|b| b.viewer_protocol_policy().as_str().to_string());
    if viewer.as_deref() != Some("redirect-to-https") {
        drift.push(
            Drift::new(
                DRIFT_VIEWER,
                format!(
                    "viewer protocol policy is {}, wanted redirect-to-https",
                    viewer.as_deref().unwrap_or("unset")
                ),
            )
            .was(DRIFT_VIEWER, viewer.clone().map(Value::String)),
        );
    }
    let mut behavior_off = Vec::new();
    let methods: Vec<&str> = behavior
        .and_then(|b| b.allowed_methods())
        .map(|m| m.items().iter().map(Method::as_str).collect())
        .unwrap_or_default();
    if methods.len() != 2 || !methods.contains(&"GET") || !methods.contains(&"HEAD") {
        behavior_off.push(format!("allowed methods {}", methods.join(",")));
    }
    if behavior.and_then(|b| b.cache_policy_id()) != Some(CACHING_OPTIMIZED) {
        behavior_off.push("cache policy is not Managed-CachingOptimized".to_string());
    }
    if !behavior_off.is_empty() {
        let cached: Vec<&str> = behavior
            .and_then(|b| b.allowed_methods())
            .and_then(|m| m.cached_methods())
            .map(|m| m.items().iter().map(Method::as_str).collect())
            .unwrap_or_default();
        drift.push(
            Drift::new(
                DRIFT_BEHAVIOR,
                format!(
                    "{} (wanted GET,HEAD with CachingOptimized)",
                    behavior_off.join(", ")
                ),
            )
            .was(
                DRIFT_BEHAVIOR,
                Some(json!({
                    "AllowedMethods": methods,
                    "CachedMethods": cached,
                    "CachePolicyId": behavior.and_then(|b| b.cache_policy_id()),
                })),
            ),
        );
    }
    drift
}

/// The default behavior's origin: the destination bucket, through the stack's OAC.
fn origin_drift(ctx: &StackContext, config: &DistributionConfig) -> Option<Drift> {
    let behavior = config.default_cache_behavior();
    let target = behavior.map(|b| b.target_origin_id()).unwrap_or_default();
    let origin = config
        .origins()
        .and_then(|o| o.items().iter().find(|o| o.id() == target));
    let wanted_oac = origin_access_control::known_id(ctx);
    let oac_problem = match origin {
        None => Some("the default behavior has no origin".to_string()),
        Some(o) if o.domain_name() != origin_domain(ctx) => Some(format!(
            "origin is {}, wanted {}",
            o.domain_name(),
            origin_domain(ctx)
        )),
        Some(o) if o.origin_access_control_id().unwrap_or_default().is_empty() => {
            Some("origin access control detached from the origin".to_string())
        }
        Some(o)
            if wanted_oac
                .as_deref()
                .is_some_and(|w| Some(w) != o.origin_access_control_id()) =>
        {
            Some(format!(
                "origin uses origin access control {}, not the stack's {}",
                o.origin_access_control_id().unwrap_or_default(),
                wanted_oac.as_deref().unwrap_or_default()
            ))
        }
        Some(o)
            if o.s3_origin_config()
                .is_some_and(|s| !s.origin_access_identity().is_empty()) =>
        {
            Some("origin uses a legacy origin access identity".to_string())
        }
        _ => None,
    };
    let was = origin.map(|o| {
        json!({
            "DomainName": o.domain_name(),
            "OriginAccessControlId": o.origin_access_control_id(),
            "OriginAccessIdentity": o.s3_origin_config().map(|s| s.origin_access_identity()),
            "Custom": o.custom_origin_config().is_some(),
        })
    });
    Some(Drift::new(DRIFT_OAC, oac_problem?).was(DRIFT_OAC, was))
}

/// HTTP version, IPv6 and price class.
fn settings_drift(ctx: &StackContext, config: &DistributionConfig) -> Option<Drift> {
    let mut settings_off = Vec::new();
    if config.http_version().map(HttpVersion::as_str) != Some("http2and3") {
        settings_off.push(format!(
            "HTTP version {}",
            config
                .http_version()
                .map(HttpVersion::as_str)
                .unwrap_or("unset")
        ));
    }
    if config.is_ipv6_enabled() != Some(true) {
        settings_off.push("IPv6 off".to_string());
    }
    let price = config
        .price_class()
        .map(PriceClass::as_str)
        .unwrap_or("PriceClass_All");
    if price != ctx.settings.price_class {
        settings_off.push(format!(
            "price class {price}, wanted {}",
            ctx.settings.price_class
        ));
    }
    (!settings_off.is_empty()).then(|| {
        Drift::new(DRIFT_SETTINGS, settings_off.join(", ")).was(
            DRIFT_SETTINGS,
            Some(json!({
                "HttpVersion": config.http_version().map(HttpVersion::as_str),
                "IsIPV6Enabled": config.is_ipv6_enabled(),
                "PriceClass": config.price_class().map(PriceClass::as_str),
            })),
        )
    })
}

/// The object `https://<domain>/` serves.
fn root_drift(ctx: &StackContext, config: &DistributionConfig) -> Option<Drift> {
    let root = config.default_root_object().unwrap_or_default();
    let wanted_root = default_root_object(ctx);
    if root == wanted_root {
        return None;
    }
    let shown = |r: &str| {
        if r.is_empty() {
            "none".to_string()
        } else {
            r.to_string()
        }
    };
    Some(
        Drift::new(
            DRIFT_ROOT,
            format!(
                "default root object is {}, wanted {}",
                shown(root),
                shown(wanted_root)
            ),
        )
        .was(DRIFT_ROOT, Some(json!(root))),
    )
}

/// How the live signed access differs from the wanted one, if it does.
fn signing_drift(
    ctx: &StackContext,
    config: &DistributionConfig,
    key_group: Option<&str>,
) -> Option<String> {
    let live: Vec<&str> = config
        .default_cache_behavior()
        .and_then(|b| b.trusted_key_groups())
        .filter(|t| t.enabled())
        .map(|t| t.items().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let wanted: Vec<&str> = key_group.into_iter().collect();
    let mut off = Vec::new();
    if live != wanted {
        off.push(match key_group {
            Some(group) => format!(
                "trusts key groups [{}], wanted the stack's {group}",
                live.join(", ")
            ),
            None if ctx.settings.private => {
                "the stack's key group does not exist yet: the videos are public".to_string()
            }
            None => format!("trusts key groups [{}], wanted none", live.join(", ")),
        });
    }
    let paths: Vec<&str> = config
        .cache_behaviors()
        .map(|b| b.items().iter().map(|b| b.path_pattern()).collect())
        .unwrap_or_default();
    let wanted_paths: Vec<&str> = if key_group.is_some() && ctx.settings.player_enabled {
        PUBLIC_PATHS.to_vec()
    } else {
        Vec::new()
    };
    if paths != wanted_paths {
        off.push(format!(
            "serves [{}] unsigned, wanted [{}]",
            paths.join(", "),
            wanted_paths.join(", ")
        ));
    }
    (!off.is_empty()).then(|| off.join("; "))
}

/// How the live names and certificate differ from [`wanted_domain`]'s, if they do.
fn domain_drift(
    config: &DistributionConfig,
    certificate_arn: Option<&str>,
    ctx: &StackContext,
) -> Option<String> {
    let mut live: Vec<String> = config
        .aliases()
        .map(|a| a.items().iter().map(|n| n.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    live.sort();
    let cert = config.viewer_certificate();
    let live_arn = cert
        .and_then(|c| c.acm_certificate_arn())
        .filter(|a| !a.is_empty());
    match (certificate_arn, ctx.settings.domain.as_ref()) {
        (Some(arn), Some(domain)) => {
            let mut wanted = domain.names();
            wanted.sort();
            let mut off = Vec::new();
            if live != wanted {
                off.push(format!(
                    "alternate domain names [{}], wanted [{}]",
                    live.join(", "),
                    wanted.join(", ")
                ));
            }
            if live_arn != Some(arn) {
                off.push(format!(
                    "certificate {}, wanted {arn}",
                    live_arn.unwrap_or("CloudFront's default")
                ));
            }
            if cert.and_then(|c| c.ssl_support_method()) != Some(&SslSupportMethod::SniOnly) {
                off.push("not sni-only".to_string());
            }
            if cert.and_then(|c| c.minimum_protocol_version()) != Some(&MINIMUM_TLS) {
                off.push(format!(
                    "minimum protocol {}, wanted {}",
                    cert.and_then(|c| c.minimum_protocol_version())
                        .map(|v| v.as_str())
                        .unwrap_or("unset"),
                    MINIMUM_TLS.as_str()
                ));
            }
            (!off.is_empty()).then(|| off.join(", "))
        }
        // No domain, or its certificate not issued yet: CloudFront's domain and certificate.
        _ if !live.is_empty() || live_arn.is_some() => Some(format!(
            "serves [{}] with {}; wanted CloudFront's own domain{}",
            live.join(", "),
            live_arn.unwrap_or("CloudFront's default certificate"),
            if ctx.settings.domain.is_some() {
                " until the certificate is issued"
            } else {
                ""
            }
        )),
        _ => None,
    }
}
