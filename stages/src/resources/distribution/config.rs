//! The distribution the stack wants: its configuration, built from the settings.

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, DefaultCacheBehavior,
    DistributionConfig, HttpVersion, Method, MinimumProtocolVersion, Origin, Origins, PriceClass,
    S3OriginConfig, SslSupportMethod, Tag, Tags, TrustedKeyGroups, ViewerCertificate,
    ViewerProtocolPolicy,
};

use crate::{StackContext, StepError};

/// The id of the one origin, the destination bucket.
pub const ORIGIN_ID: &str = "cattube-destination";
/// AWS's managed cache policy "Managed-CachingOptimized".
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

/// What a private stack serves without a signature: the player page and its scripts, which
/// show nothing until the viewer holds the signed cookies (`cattube open`). Everything
/// else (the videos, `catalog.json`) falls to the default behavior, which trusts the key
/// group.
pub const PUBLIC_PATHS: [&str; 2] = [crate::player_page::ROOT_KEY, "player/*"];

/// The key groups the default behavior trusts: the stack's when it is private.
pub(super) fn trusted(key_group: Option<&str>) -> Result<TrustedKeyGroups, StepError> {
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
pub(super) fn wanted_behaviors(
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

pub(super) fn stack_tags(ctx: &StackContext) -> Result<Tags, StepError> {
    let items = ctx.sdk_tags(|k, v| Tag::builder().key(k).value(v).build())?;
    Ok(Tags::builder().set_items(Some(items)).build())
}
