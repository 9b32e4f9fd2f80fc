//! The distribution the stack wants, and how a live one drifts from it.

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, DefaultCacheBehavior,
    DistributionConfig, HttpVersion, Method, MinimumProtocolVersion, Origin, Origins, PriceClass,
    S3OriginConfig, SslSupportMethod, Tag, Tags, TrustedKeyGroups, ViewerCertificate,
    ViewerProtocolPolicy,
};

use serde_json::{json, Value};

use crate::origin_access_control;
use crate::original::Originals;
use crate::step::{Drift, Present, Recorded};
use crate::{StackContext, StepError};

/// The id of the one origin, the destination bucket.
pub const ORIGIN_ID: &str = "cattube-destination";
/// AWS's managed cache policy "Managed-CachingOptimized".
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

pub(super) const DRIFT_ENABLED: &str = "enabled";
pub(super) const DRIFT_VIEWER: &str = "viewer-protocol";
pub(super) const DRIFT_OAC: &str = "oac";
pub(super) const DRIFT_BEHAVIOR: &str = "cache-behavior";
pub(super) const DRIFT_SETTINGS: &str = "settings";
pub(super) const DRIFT_ROOT: &str = "default-root-object";
pub(super) const DRIFT_DOMAIN: &str = "domain";
pub(super) const DRIFT_SIGNING: &str = "signed-access";

/// What a private stack serves without a signature: the player page and its scripts, which
/// show nothing until the viewer holds the signed cookies (`cattube open`). Everything
/// else (the videos, `catalog.json`) falls to the default behavior, which trusts the key
/// group.
pub const PUBLIC_PATHS: [&str; 2] = [crate::player_page::ROOT_KEY, "player/*"];

/// The key groups the default behavior trusts: the stack's when it is private.
fn trusted(key_group: Option<&str>) -> Result<TrustedKeyGroups, StepError> {
    let items: Vec<String> = key_group.into_iter().map(str::to_string).collect();
    TrustedKeyGroups::builder()
        .enabled(!items.is_empty())
        .quantity(items.len() as i32)
        .set_items(Some(items))
        .build()
        .map_err(build_err("trusted key groups"))
}

/// The behaviors before the default one: the player's public paths, on a private stack
/// with the player.
fn wanted_behaviors(
    ctx: &StackContext,
    target: &str,
    key_group: Option<&str>,
) -> Result<CacheBehaviors, StepError> {
    let items = if key_group.is_some() && ctx.settings.player_enabled {
        PUBLIC_PATHS
            .iter()
            .map(|path| {
                CacheBehavior::builder()
                    .path_pattern(*path)
                    .target_origin_id(target)
                    .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                    .allowed_methods(get_head()?)
                    .cache_policy_id(CACHING_OPTIMIZED)
                    .compress(true)
                    .build()
                    .map_err(build_err("cache behavior"))
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    CacheBehaviors::builder()
        .quantity(items.len() as i32)
        .set_items(Some(items))
        .build()
        .map_err(build_err("cache behaviors"))
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

/// The oldest TLS a viewer of the stack's own domain may use: TLS 1.2 with the 2021 ciphers.
pub const MINIMUM_TLS: MinimumProtocolVersion = MinimumProtocolVersion::TlSv122021;

/// The names and certificate the distribution serves: `[domain]`'s names with the stack's
/// issued certificate (`certificate_arn`), else CloudFront's own domain and certificate.
pub(super) fn wanted_domain(
    ctx: &StackContext,
    certificate_arn: Option<&str>,
) -> Result<(Aliases, ViewerCertificate), StepError> {
    match (certificate_arn, ctx.settings.domain.as_ref()) {
        (Some(arn), Some(domain)) => {
            let names = domain.names();
            Ok((
                Aliases::builder()
                    .quantity(names.len() as i32)
                    .set_items(Some(names))
                    .build()
                    .map_err(build_err("aliases"))?,
                ViewerCertificate::builder()
                    .acm_certificate_arn(arn)
                    // SNI only: a dedicated-IP certificate costs $600 a month.
                    .ssl_support_method(SslSupportMethod::SniOnly)
                    .minimum_protocol_version(MINIMUM_TLS)
                    .cloud_front_default_certificate(false)
                    .build(),
            ))
        }
        _ => Ok((
            Aliases::builder()
                .quantity(0)
                .set_items(Some(Vec::new()))
                .build()
                .map_err(build_err("aliases"))?,
            ViewerCertificate::builder()
                .cloud_front_default_certificate(true)
                .build(),
        )),
    }
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

/// What `https://<domain>/` serves: the player page (`player-page`), or nothing when the
/// player is off (`[player] enabled = false`).
pub fn default_root_object(ctx: &StackContext) -> &'static str {
    if ctx.settings.player_enabled {
        crate::player_page::ROOT_KEY
    } else {
        ""
    }
}

/// The destination bucket's regional S3 domain (not the global one, which redirects for
/// new buckets outside us-east-1).
pub fn origin_domain(ctx: &StackContext) -> String {
    let suffix = if ctx.partition() == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!(
        "{}.s3.{}.{suffix}",
        ctx.name(crate::destination_bucket::ID),
        ctx.region
    )
}

pub(super) fn comment(ctx: &StackContext) -> String {
    format!("cattube stack {} ({})", ctx.stack, ctx.region)
}

/// Deterministic per stack, account, region and OAC: a create retried after a crash gets
/// the same distribution back (or DistributionAlreadyExists), never a second one; a stack
/// stood up again after `down` has a new OAC and so a fresh reference.
pub(super) fn caller_reference(ctx: &StackContext, oac_id: &str) -> String {
    format!(
        "cattube-{}-{}-{}-{oac_id}",
        ctx.stack, ctx.account, ctx.region
    )
}

pub(super) fn build_err(
    what: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> StepError {
    move |e| StepError::with_source(format!("building the {what}"), e)
}

pub(super) fn wanted_origin(ctx: &StackContext, oac_id: &str) -> Result<Origin, StepError> {
    Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(origin_domain(ctx))
        // With an OAC the (legacy) origin access identity must be present and empty.
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(oac_id)
        .build()
        .map_err(build_err("origin"))
}

pub(super) fn get_head() -> Result<AllowedMethods, StepError> {
    AllowedMethods::builder()
        .quantity(2)
        .items(Method::Get)
        .items(Method::Head)
        .cached_methods(
            CachedMethods::builder()
                .quantity(2)
                .items(Method::Get)
                .items(Method::Head)
                .build()
                .map_err(build_err("cached methods"))?,
        )
        .build()
        .map_err(build_err("allowed methods"))
}

pub(super) fn wanted_behavior(
    target: &str,
    key_group: Option<&str>,
) -> Result<DefaultCacheBehavior, StepError> {
    DefaultCacheBehavior::builder()
        .target_origin_id(target)
        .trusted_key_groups(trusted(key_group)?)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(get_head()?)
        .cache_policy_id(CACHING_OPTIMIZED)
        .compress(true)
        .build()
        .map_err(build_err("cache behavior"))
}

pub(super) fn wanted_config(
    ctx: &StackContext,
    oac_id: &str,
    certificate_arn: Option<&str>,
    key_group: Option<&str>,
) -> Result<DistributionConfig, StepError> {
    let (aliases, viewer_certificate) = wanted_domain(ctx, certificate_arn)?;
    DistributionConfig::builder()
        .aliases(aliases)
        .viewer_certificate(viewer_certificate)
        .caller_reference(caller_reference(ctx, oac_id))
        .comment(comment(ctx))
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(wanted_origin(ctx, oac_id)?)
                .build()
                .map_err(build_err("origins"))?,
        )
        .default_cache_behavior(wanted_behavior(ORIGIN_ID, key_group)?)
        .cache_behaviors(wanted_behaviors(ctx, ORIGIN_ID, key_group)?)
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .price_class(PriceClass::from(ctx.settings.price_class.as_str()))
        .default_root_object(default_root_object(ctx))
        .build()
        .map_err(build_err("distribution configuration"))
}

// ---------------------------------------------------------------------------------------
// observe

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
    if let Some(problem) = oac_problem {
        drift.push(
            Drift::new(DRIFT_OAC, problem).was(
                DRIFT_OAC,
                origin.map(|o| {
                    json!({
                        "DomainName": o.domain_name(),
                        "OriginAccessControlId": o.origin_access_control_id(),
                        "OriginAccessIdentity": o.s3_origin_config().map(|s| s.origin_access_identity()),
                        "Custom": o.custom_origin_config().is_some(),
                    })
                }),
            ),
        );
    }

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
    if !settings_off.is_empty() {
        drift.push(Drift::new(DRIFT_SETTINGS, settings_off.join(", ")).was(
            DRIFT_SETTINGS,
            Some(json!({
                "HttpVersion": config.http_version().map(HttpVersion::as_str),
                "IsIPV6Enabled": config.is_ipv6_enabled(),
                "PriceClass": config.price_class().map(PriceClass::as_str),
            })),
        ));
    }

    let root = config.default_root_object().unwrap_or_default();
    let wanted_root = default_root_object(ctx);
    if root != wanted_root {
        let shown = |r: &str| {
            if r.is_empty() {
                "none".to_string()
            } else {
                r.to_string()
            }
        };
        drift.push(
            Drift::new(
                DRIFT_ROOT,
                format!(
                    "default root object is {}, wanted {}",
                    shown(root),
                    shown(wanted_root)
                ),
            )
            .was(DRIFT_ROOT, Some(json!(root))),
        );
    }

    if ours {
        drift.extend(ctx.tag_drift(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
    drift
}

// ---------------------------------------------------------------------------------------
// apply helpers

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
                wanted.id = target.clone();
                origins.items.push(wanted);
            }
        }
        origins.quantity = origins.items.len() as i32;
        changes.push(format!(
            "origin {} through origin access control {oac}",
            origin_domain(ctx)
        ));
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

pub(super) fn stack_tags(ctx: &StackContext) -> Result<Tags, StepError> {
    let items = ctx
        .tags()
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(build_err("tags"))?;
    Ok(Tags::builder().set_items(Some(items)).build())
}
