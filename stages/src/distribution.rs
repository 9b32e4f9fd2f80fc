//! Stage 6: the CloudFront distribution in front of the destination bucket. Viewers reach
//! the converted videos over HTTPS only (HTTP is redirected), CloudFront reads the private
//! bucket through the stack's Origin Access Control, and caches with the managed
//! CachingOptimized policy over HTTP/2 and HTTP/3, IPv4 and IPv6.
//!
//! A distribution has no name: its id is kept in the state, and it carries the stack's tags
//! so that it is found again (ListDistributions, then each one's tags) when the state is
//! lost. Every change is an UpdateDistribution with the ETag just read; CloudFront then
//! takes minutes to deploy it (`InProgress` → `Deployed`). Deleting it (stage 9) means
//! disabling it, waiting until that is deployed, then deleting with the current ETag.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    AllowedMethods, CachedMethods, DefaultCacheBehavior, DistributionConfig,
    DistributionConfigWithTags, HttpVersion, Method, Origin, Origins, PriceClass, S3OriginConfig,
    Tag, Tags, ViewerProtocolPolicy,
};

use crate::context::TAG_REGION;
use crate::error::{error_code, AwsContext, AwsError};
use crate::origin_access_control;
use crate::retry::{poll_until, retry_codes, Poll};
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Found, Observation, Ownership, Present, Recorded,
    Service, Spec, Step,
};
use crate::{StackContext, StepError};

pub struct Distribution;

const ID: &str = SPEC.id;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: "distribution",
    stage: "6",
    depends_on: &["origin-access-control", "destination-bucket"],
    name: None,
    outputs: &[
        "distribution_id",
        "distribution_domain",
        "distribution_status",
    ],
    service: Service::CloudFront,
};

/// The id of the one origin, the destination bucket.
pub const ORIGIN_ID: &str = "cattube-destination";
/// AWS's managed cache policy "Managed-CachingOptimized".
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

const DRIFT_ENABLED: &str = "enabled";
const DRIFT_VIEWER: &str = "viewer-protocol";
const DRIFT_OAC: &str = "oac";
const DRIFT_BEHAVIOR: &str = "cache-behavior";
const DRIFT_SETTINGS: &str = "settings";
use crate::context::DRIFT_TAGS;

fn dist_arn(ctx: &StackContext, id: &str) -> String {
    format!(
        "arn:{}:cloudfront::{}:distribution/{id}",
        ctx.partition(),
        ctx.account
    )
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
        ctx.name("destination-bucket"),
        ctx.region
    )
}

fn comment(ctx: &StackContext) -> String {
    format!("cattube stack {} ({})", ctx.stack, ctx.region)
}

/// Deterministic per stack, account, region and OAC: a create retried after a crash gets
/// the same distribution back (or DistributionAlreadyExists), never a second one; a stack
/// stood up again after `down` has a new OAC and so a fresh reference.
fn caller_reference(ctx: &StackContext, oac_id: &str) -> String {
    format!(
        "cattube-{}-{}-{}-{oac_id}",
        ctx.stack, ctx.account, ctx.region
    )
}

fn build_err(
    what: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> StepError {
    move |e| StepError::with_source(format!("building the {what}"), e)
}

fn wanted_origin(ctx: &StackContext, oac_id: &str) -> Result<Origin, StepError> {
    Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(origin_domain(ctx))
        // With an OAC the (legacy) origin access identity must be present and empty.
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .origin_access_control_id(oac_id)
        .build()
        .map_err(build_err("origin"))
}

fn get_head() -> Result<AllowedMethods, StepError> {
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

fn wanted_behavior(target: &str) -> Result<DefaultCacheBehavior, StepError> {
    DefaultCacheBehavior::builder()
        .target_origin_id(target)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(get_head()?)
        .cache_policy_id(CACHING_OPTIMIZED)
        .compress(true)
        .build()
        .map_err(build_err("cache behavior"))
}

fn wanted_config(ctx: &StackContext, oac_id: &str) -> Result<DistributionConfig, StepError> {
    DistributionConfig::builder()
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
        .default_cache_behavior(wanted_behavior(ORIGIN_ID)?)
        .http_version(HttpVersion::Http2and3)
        .is_ipv6_enabled(true)
        .price_class(PriceClass::from(ctx.settings.price_class.as_str()))
        .build()
        .map_err(build_err("distribution configuration"))
}

fn outputs(dist: &aws_sdk_cloudfront::types::Distribution) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("distribution_id", dist.id().to_string()),
        ("distribution_domain", dist.domain_name().to_string()),
        ("distribution_status", dist.status().to_string()),
    ])
}

// ---------------------------------------------------------------------------------------
// finding it

/// The distribution and its ETag, `None` when there is no such distribution.
async fn get(
    ctx: &StackContext,
    id: &str,
) -> Result<Option<(aws_sdk_cloudfront::types::Distribution, Option<String>)>, StepError> {
    match ctx
        .clients
        .cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .distribution()
            .cloned()
            .map(|d| (d, out.e_tag().map(str::to_string)))),
        Err(e) if Service::CloudFront.not_found(&e) => Ok(None),
        Err(e) => Err(StepError::with_source(
            format!("reading distribution {id}"),
            AwsError::from_sdk(&e),
        )),
    }
}

async fn tags(ctx: &StackContext, arn: &str) -> Result<Vec<(String, String)>, StepError> {
    let out = ctx
        .clients
        .cloudfront
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
        .context(|| format!("reading the tags of {arn}"))?;
    Ok(out
        .tags()
        .map(|t| {
            t.items()
                .iter()
                .map(|t| {
                    (
                        t.key().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

fn ours_here(ctx: &StackContext, tags: &[(String, String)]) -> bool {
    ctx.tagged_ours(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        && tags
            .iter()
            .any(|(k, v)| k == TAG_REGION && *v == ctx.region)
}

/// The stack's distributions `(id, arn, domain)` by their tags: every distribution of the
/// account is listed and each one's tags read, stopping after `limit` found.
async fn tagged(
    ctx: &StackContext,
    limit: usize,
) -> Result<Vec<(String, String, String)>, StepError> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .clients
            .cloudfront
            .list_distributions()
            .set_marker(marker.take())
            .send()
            .await
            .context(|| "listing CloudFront distributions".to_string())?;
        let Some(list) = page.distribution_list() else {
            return Ok(found);
        };
        for summary in list.items() {
            if ours_here(ctx, &tags(ctx, summary.arn()).await?) {
                found.push((
                    summary.id().to_string(),
                    summary.arn().to_string(),
                    summary.domain_name().to_string(),
                ));
                if found.len() >= limit {
                    return Ok(found);
                }
            }
        }
        match list
            .next_marker()
            .filter(|m| !m.is_empty() && list.is_truncated())
        {
            Some(next) => marker = Some(next.to_string()),
            None => return Ok(found),
        }
    }
}

/// The first distribution carrying the stack's tags, `(id, arn)`: how it is found when the
/// state is lost.
async fn by_tags(ctx: &StackContext) -> Result<Option<(String, String)>, StepError> {
    Ok(tagged(ctx, 1)
        .await?
        .into_iter()
        .next()
        .map(|(id, arn, _)| (id, arn)))
}

/// The stack's distribution `(id, arn)`: the one this run or the state knows, else the one
/// carrying the stack's tags.
pub(crate) async fn find(ctx: &StackContext) -> Result<Option<(String, String)>, StepError> {
    if let Some(id) = ctx.id_of(ID) {
        if get(ctx, &id).await?.is_some() {
            return Ok(Some((id.clone(), dist_arn(ctx, &id))));
        }
    }
    by_tags(ctx).await
}

fn recorded_id(ctx: &StackContext, recorded: Option<&Recorded>) -> Option<String> {
    recorded
        .and_then(|r| {
            r.extra
                .get("id")
                .cloned()
                .or_else(|| crate::arn::last_segment(&r.arn).map(str::to_string))
        })
        .or_else(|| ctx.id_of(ID))
}

// ---------------------------------------------------------------------------------------
// observe

fn drift(
    ctx: &StackContext,
    config: &DistributionConfig,
    tags: &[(String, String)],
    ours: bool,
    recorded: Option<&Recorded>,
) -> Vec<Drift> {
    let mut drift = Vec::new();
    if !config.enabled() {
        let by_down = recorded.is_some_and(|r| r.extra.contains_key("disabling"));
        drift.push(Drift::new(
            DRIFT_ENABLED,
            if by_down {
                "distribution disabled by `cattube down --no-wait`: run `cattube down` to finish deleting it, or `cattube up` to enable it again".to_string()
            } else {
                "distribution is disabled: it serves nothing".to_string()
            },
        ));
    }
    let behavior = config.default_cache_behavior();
    let viewer = behavior.map(|b| b.viewer_protocol_policy().as_str().to_string());
    if viewer.as_deref() != Some("redirect-to-https") {
        drift.push(Drift::new(
            DRIFT_VIEWER,
            format!(
                "viewer protocol policy is {}, wanted redirect-to-https",
                viewer.as_deref().unwrap_or("unset")
            ),
        ));
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
        drift.push(Drift::new(
            DRIFT_BEHAVIOR,
            format!(
                "{} (wanted GET,HEAD with CachingOptimized)",
                behavior_off.join(", ")
            ),
        ));
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
        drift.push(Drift::new(DRIFT_OAC, problem));
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
        drift.push(Drift::new(DRIFT_SETTINGS, settings_off.join(", ")));
    }

    if ours {
        drift.extend(ctx.tag_drift(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
    }
    drift
}

// ---------------------------------------------------------------------------------------
// apply helpers

/// Changes in `config` exactly what drifted; returns what it changed.
fn repair(
    ctx: &StackContext,
    config: &mut DistributionConfig,
    present: &Present,
) -> Result<Vec<String>, StepError> {
    let mut changes = Vec::new();
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
        config.default_cache_behavior = Some(wanted_behavior(&target)?);
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
    Ok(changes)
}

fn stack_tags(ctx: &StackContext) -> Result<Tags, StepError> {
    let items = ctx
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(build_err("tags"))?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

/// How a wait for `Deployed` ended.
enum Waited {
    // Boxed: a distribution is large, and the other variants carry nothing.
    Deployed(Box<aws_sdk_cloudfront::types::Distribution>, Option<String>),
    Gone,
    TimedOut(String),
}

/// Polls until CloudFront has deployed the distribution, for at most
/// `settings.deploy_timeout`, telling the user the status and the time waited.
async fn wait_deployed(ctx: &StackContext, id: &str, doing: &str) -> Result<Waited, StepError> {
    let bound = ctx.settings.deploy_timeout;
    let interval = (bound / 120).clamp(Duration::from_millis(10), Duration::from_secs(20));
    let polled = poll_until(
        bound,
        interval,
        || async {
            Ok(match get(ctx, id).await? {
                None => Poll::Ready(Waited::Gone),
                Some((dist, etag)) if dist.status() == "Deployed" => {
                    Poll::Ready(Waited::Deployed(Box::new(dist), etag))
                }
                Some((dist, _)) => Poll::Pending(dist.status().to_string()),
            })
        },
        |status, waited| {
            ctx.progress(
                ID,
                &format!(
                    "{doing}: {status} for {} s (CloudFront usually takes 5-20 min)",
                    waited.as_secs()
                ),
            )
        },
    )
    .await?;
    Ok(polled.unwrap_or_else(Waited::TimedOut))
}

#[async_trait]
impl Step for Distribution {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// A distribution has no name: its domain, once CloudFront has given it one.
    fn shown_name(&self, ctx: &StackContext) -> String {
        ctx.output_of(ID, "distribution_domain")
            .unwrap_or_else(|| "domain given by CloudFront".to_string())
    }

    /// Every distribution carrying the stack's tags (and region): it has no name to look for.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(tagged(ctx, usize::MAX)
            .await?
            .into_iter()
            .map(|(_, arn, domain)| Found { name: domain, arn })
            .collect())
    }

    // -----------------------------------------------------------------------------------
    // observe

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        let mut live = None;
        if let Some(id) = recorded_id(ctx, recorded) {
            // The converged case: one round of two reads.
            let arn = dist_arn(ctx, &id);
            let (dist, tag_list) = tokio::join!(get(ctx, &id), tags(ctx, &arn));
            if let Some((dist, _)) = dist? {
                live = Some((dist, tag_list?));
            }
        }
        if live.is_none() {
            if let Some((id, arn)) = by_tags(ctx).await? {
                if let Some((dist, _)) = get(ctx, &id).await? {
                    live = Some((dist, tags(ctx, &arn).await?));
                }
            }
        }
        let Some((dist, tag_list)) = live else {
            return Ok(Observation::Missing);
        };
        let tagged_ours = ours_here(ctx, &tag_list);
        let ours = tagged_ours || recorded.is_some_and(|r| r.ownership.is_ours());
        let drift = match dist.distribution_config() {
            Some(config) => drift(ctx, config, &tag_list, ours, recorded),
            None => vec![Drift::new(DRIFT_SETTINGS, "no configuration returned")],
        };
        let pending = (dist.status() != "Deployed").then(|| {
            format!(
                "CloudFront is deploying it ({}): `cattube up --wait` waits for it",
                dist.status()
            )
        });
        Ok(Observation::Present(Present {
            name: dist.domain_name().to_string(),
            arn: dist.arn().to_string(),
            tagged_ours,
            drift,
            pending,
            outputs: outputs(&dist),
        }))
    }

    // -----------------------------------------------------------------------------------
    // apply

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        _ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        let cf = &ctx.clients.cloudfront;
        let mut changes = Vec::new();
        let mut dist = match observation {
            Observation::Missing => {
                let oac = origin_access_control::known_id(ctx).ok_or_else(|| {
                    StepError::msg("the stack's origin access control is not known")
                })?;
                let request = DistributionConfigWithTags::builder()
                    .distribution_config(wanted_config(ctx, &oac)?)
                    .tags(stack_tags(ctx)?)
                    .build();
                match cf
                    .create_distribution_with_tags()
                    .distribution_config_with_tags(request)
                    .send()
                    .await
                {
                    Ok(out) => {
                        changes.push(format!(
                            "created distribution (origin {}, OAC {oac})",
                            origin_domain(ctx)
                        ));
                        out.distribution().cloned()
                    }
                    // The same caller reference: an earlier create of this stack that was
                    // not recorded (a crash). It carries our tags.
                    Err(e) if error_code(&e) == Some("DistributionAlreadyExists") => {
                        let (id, _) = by_tags(ctx).await?.ok_or_else(|| {
                            StepError::with_source(
                                "creating the distribution: its caller reference belongs to a distribution not tagged as this stack's",
                                AwsError::from_sdk(&e),
                            )
                        })?;
                        changes.push(format!("found distribution {id} created earlier"));
                        get(ctx, &id).await?.map(|(d, _)| d)
                    }
                    Err(e) => {
                        return Err(StepError::with_source(
                            "creating the distribution",
                            AwsError::from_sdk(&e),
                        ))
                    }
                }
                .ok_or_else(|| StepError::msg("CloudFront returned no distribution"))?
            }
            Observation::Present(present) => {
                let id = present
                    .outputs
                    .get("distribution_id")
                    .cloned()
                    .ok_or_else(|| StepError::msg("the observed distribution has no id"))?;
                // Someone changed it between our read and our write: read again.
                let updated =
                    retry_codes(
                        ctx.settings.propagation_timeout,
                        &["PreconditionFailed"],
                        |_| {},
                        || async {
                            let out = cf.get_distribution_config().id(&id).send().await.context(
                                || format!("reading the configuration of distribution {id}"),
                            )?;
                            let mut config =
                                out.distribution_config().cloned().ok_or_else(|| {
                                    StepError::msg(format!(
                                        "distribution {id} returned no configuration"
                                    ))
                                })?;
                            let repaired = repair(ctx, &mut config, present)?;
                            if repaired.is_empty() {
                                return Ok(None);
                            }
                            let out = cf
                                .update_distribution()
                                .id(&id)
                                .set_if_match(out.e_tag().map(str::to_string))
                                .distribution_config(config)
                                .send()
                                .await
                                .context(|| format!("updating distribution {id}"))?;
                            Ok(Some((out.distribution().cloned(), repaired)))
                        },
                    )
                    .await?
                    .and_then(|(updated, repaired)| {
                        changes.extend(repaired);
                        updated
                    });
                if present.has_drift(DRIFT_TAGS) {
                    cf.tag_resource()
                        .resource(dist_arn(ctx, &id))
                        .tags(stack_tags(ctx)?)
                        .send()
                        .await
                        .context(|| format!("tagging distribution {id}"))?;
                    changes.push("tagged the distribution".to_string());
                }
                match updated {
                    Some(d) => d,
                    None => get(ctx, &id)
                        .await?
                        .map(|(d, _)| d)
                        .ok_or_else(|| StepError::msg(format!("distribution {id} is gone")))?,
                }
            }
        };
        if ctx.settings.wait_for_deploy && dist.status() != "Deployed" {
            match wait_deployed(ctx, dist.id(), "deploying").await? {
                Waited::Deployed(d, _) => dist = *d,
                Waited::Gone => return Err(StepError::msg("the distribution disappeared")),
                Waited::TimedOut(status) => {
                    return Err(StepError::msg(format!(
                        "distribution {} is still {status} after {} s; `cattube status` shows when it is Deployed",
                        dist.id(),
                        ctx.settings.deploy_timeout.as_secs()
                    )))
                }
            }
        }
        Ok(Applied {
            arn: dist.arn().to_string(),
            adopted: false,
            changes,
            outputs: outputs(&dist),
            extra: BTreeMap::from([("id".to_string(), dist.id().to_string())]),
        })
    }

    // -----------------------------------------------------------------------------------
    // destroy

    async fn destroy(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
        options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        let cf = &ctx.clients.cloudfront;
        let id = match recorded_id(ctx, recorded) {
            Some(id) => id,
            None => match by_tags(ctx).await? {
                Some((id, _)) => id,
                None => return Ok(Destroyed::AlreadyGone),
            },
        };
        let bound = ctx.settings.propagation_timeout;
        let extra = BTreeMap::from([
            ("id".to_string(), id.clone()),
            ("disabling".to_string(), "true".to_string()),
        ]);
        let pending = |reason: String| Destroyed::Pending {
            reason,
            extra: extra.clone(),
        };

        // 1. Disable it (a distribution must be disabled, and that deployed, to be deleted).
        // `None`: it is gone; `Some(true)`: disabled by this call.
        let disabled = retry_codes(
            bound,
            &["PreconditionFailed"],
            |_| {},
            || async {
                let out = match cf.get_distribution_config().id(&id).send().await {
                    Ok(out) => out,
                    Err(e) if Service::CloudFront.not_found(&e) => return Ok(None),
                    Err(e) => {
                        return Err(StepError::with_source(
                            format!("reading the configuration of distribution {id}"),
                            AwsError::from_sdk(&e),
                        ))
                    }
                };
                let Some(mut config) = out.distribution_config().cloned() else {
                    return Err(StepError::msg(format!(
                        "distribution {id} returned no configuration"
                    )));
                };
                if !config.enabled {
                    return Ok(Some(false));
                }
                config.enabled = false;
                match cf
                    .update_distribution()
                    .id(&id)
                    .set_if_match(out.e_tag().map(str::to_string))
                    .distribution_config(config)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Some(true)),
                    Err(e) if Service::CloudFront.not_found(&e) => Ok(None),
                    Err(e) => Err(StepError::with_source(
                        format!("disabling distribution {id}"),
                        AwsError::from_sdk(&e),
                    )),
                }
            },
        )
        .await?;
        let Some(disabled_now) = disabled else {
            return Ok(Destroyed::AlreadyGone);
        };
        // It is now disabled: from here on, an interrupted `down` resumes with the wait.
        if options.no_wait && disabled_now {
            return Ok(pending(
                "disabled; CloudFront takes 5-20 min to deploy that: run `cattube down` again to delete it".into(),
            ));
        }

        // 2. Wait until the disabled configuration is deployed.
        let (mut etag, status) = match get(ctx, &id).await? {
            None => return Ok(Destroyed::AlreadyGone),
            Some((d, etag)) => (etag, d.status().to_string()),
        };
        if status != "Deployed" {
            if options.no_wait {
                return Ok(pending(format!(
                    "disabled, still {status}: run `cattube down` again to delete it"
                )));
            }
            match wait_deployed(ctx, &id, "disabling").await? {
                Waited::Deployed(_, e) => etag = e,
                Waited::Gone => return Ok(Destroyed::Deleted),
                Waited::TimedOut(status) => {
                    return Ok(pending(format!(
                        "disabled, still {status} after {} s: run `cattube down` again to finish",
                        ctx.settings.deploy_timeout.as_secs()
                    )))
                }
            }
        }

        // 3. Delete it with the current ETag. Not yet seen as disabled, or changed since
        // the ETag was read: read it again and retry.
        let first = std::sync::atomic::AtomicBool::new(true);
        retry_codes(
            bound,
            &["DistributionNotDisabled", "PreconditionFailed"],
            |_| ctx.progress(ID, "waiting for CloudFront to see it disabled"),
            || {
                let (first, etag, id) = (&first, &etag, &id);
                async move {
                    let etag = if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        etag.clone()
                    } else {
                        match get(ctx, id).await? {
                            Some((_, e)) => e,
                            None => return Ok(Destroyed::Deleted),
                        }
                    };
                    match cf
                        .delete_distribution()
                        .id(id)
                        .set_if_match(etag)
                        .send()
                        .await
                    {
                        Ok(_) => Ok(Destroyed::Deleted),
                        Err(e) if Service::CloudFront.not_found(&e) => Ok(Destroyed::Deleted),
                        Err(e) => Err(StepError::with_source(
                            format!("deleting distribution {id}"),
                            AwsError::from_sdk(&e),
                        )),
                    }
                }
            },
        )
        .await
    }
}
