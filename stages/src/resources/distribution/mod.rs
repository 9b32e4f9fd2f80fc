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

mod config;
mod lifecycle;

use crate::error::AwsFound;
use crate::grant::{Grant, Phase, Target};
use crate::naming::ResourceId;
use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::DistributionConfigWithTags;

use crate::context::TAG_REGION;
use crate::error::{error_code, AwsContext, AwsError};
use crate::origin_access_control;
use crate::retry::retry_codes;
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Found, Observation, Ownership, Present, Recorded,
    Service, Spec, Step,
};
use crate::{StackContext, StepError};

use crate::context::DRIFT_TAGS;
use config::{drift, repair, stack_tags, wanted_config, DRIFT_SETTINGS};
pub use config::{origin_domain, CACHING_OPTIMIZED, ORIGIN_ID};
use lifecycle::{wait_deployed, Waited};

pub struct Distribution;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    // The OAC's id is known only once it is created; the origin is the bucket, kept as an
    // existence dependency so CloudFront never fronts a bucket still being locked down.
    // With `[domain]` (`waits_for`), the certificate: CloudFront checks that it is issued
    // and covers the names when it is attached.
    depends_on: &[
        crate::origin_access_control::ID,
        crate::destination_bucket::ID,
        crate::certificate::ID,
        // With `[delivery] private` (`waits_for`): CloudFront checks the key group exists
        // when the behavior trusts it.
        crate::key_group::ID,
    ],
    names: &[],
    name: None,
    outputs: &[
        "distribution_id",
        "distribution_domain",
        "distribution_status",
        "custom_domain",
    ],
    service: Service::CloudFront,
    permissions: &[
        LOOKUP[0],
        LOOKUP[1],
        crate::key_group::LIST,
        Grant::new(
            Phase::Apply,
            &["cloudfront:CreateDistribution"],
            Target::Any,
        ),
        Grant::new(
            Phase::Apply,
            &[
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:UpdateDistribution",
                "cloudfront:TagResource",
            ],
            Target::Distributions,
        ),
        Grant::new(
            Phase::Destroy,
            &[
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:UpdateDistribution",
                "cloudfront:DeleteDistribution",
            ],
            Target::Distributions,
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("distribution");

/// What finding the stack's distribution and reading it takes ([`find`], [`live`],
/// [`domain`]): this step's observe, and any other step that reads the domain.
pub(crate) const LOOKUP: [Grant; 2] = [
    Grant::new(
        Phase::Observe,
        &["cloudfront:ListDistributions"],
        Target::Any,
    ),
    Grant::new(
        Phase::Observe,
        &[
            "cloudfront:GetDistribution",
            "cloudfront:ListTagsForResource",
        ],
        Target::Distributions,
    ),
];

/// The key group the distribution trusts: the stack's, on a private stack, once it exists.
async fn signing_group(ctx: &StackContext) -> Result<Option<String>, StepError> {
    if !ctx.settings.private {
        return Ok(None);
    }
    if let Some(id) = ctx.output_of(crate::key_group::ID, "key_group_id") {
        return Ok(Some(id));
    }
    Ok(crate::key_group::find(ctx).await?.map(|(id, _)| id))
}

fn dist_arn(ctx: &StackContext, id: &str) -> String {
    format!(
        "arn:{}:cloudfront::{}:distribution/{id}",
        ctx.partition(),
        ctx.account
    )
}

fn outputs(dist: &aws_sdk_cloudfront::types::Distribution) -> BTreeMap<&'static str, String> {
    let mut outputs = BTreeMap::from([
        ("distribution_id", dist.id().to_string()),
        ("distribution_domain", dist.domain_name().to_string()),
        ("distribution_status", dist.status().to_string()),
    ]);
    if let Some(domain) = custom_domain(dist) {
        outputs.insert("custom_domain", domain);
    }
    outputs
}

/// The stack's own domain (`[domain] name`), once the distribution serves it with its
/// certificate: the first alternate domain name.
pub fn custom_domain(dist: &aws_sdk_cloudfront::types::Distribution) -> Option<String> {
    let config = dist.distribution_config()?;
    config
        .viewer_certificate()
        .and_then(|c| c.acm_certificate_arn())
        .filter(|a| !a.is_empty())?;
    config.aliases()?.items().first().cloned()
}

/// Where viewers reach the distribution: the stack's own domain once it is attached, else
/// CloudFront's. Every URL cattube prints is built on it.
pub fn serving_domain(dist: &aws_sdk_cloudfront::types::Distribution) -> String {
    custom_domain(dist).unwrap_or_else(|| dist.domain_name().to_string())
}

// ---------------------------------------------------------------------------------------
// finding it

/// The distribution and its ETag, `None` when there is no such distribution.
async fn get(
    ctx: &StackContext,
    id: &str,
) -> Result<Option<(aws_sdk_cloudfront::types::Distribution, Option<String>)>, StepError> {
    let out = ctx
        .clients
        .cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
        .found(Service::CloudFront, || format!("reading distribution {id}"))?;
    Ok(out.and_then(|out| {
        out.distribution()
            .cloned()
            .map(|d| (d, out.e_tag().map(str::to_string)))
    }))
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
    let mut pages = ctx
        .clients
        .cloudfront
        .list_distributions()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.context(|| "listing CloudFront distributions".to_string())?;
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
    }
    Ok(found)
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

/// The stack's live distribution, found as [`find`] finds it and read once (one request
/// when the state knows its id).
pub(crate) async fn live(
    ctx: &StackContext,
) -> Result<Option<aws_sdk_cloudfront::types::Distribution>, StepError> {
    if let Some(id) = ctx.id_of(ID) {
        if let Some((dist, _)) = get(ctx, &id).await? {
            return Ok(Some(dist));
        }
    }
    match by_tags(ctx).await? {
        Some((id, _)) => Ok(get(ctx, &id).await?.map(|(dist, _)| dist)),
        None => Ok(None),
    }
}

/// The stack's distribution's domain (`d111111abcdef8.cloudfront.net`, generated by
/// CloudFront at create time): what this run learned, else the [`live`] one's. `None`
/// while there is none.
pub(crate) async fn domain(ctx: &StackContext) -> Result<Option<String>, StepError> {
    if let Some(domain) = ctx.output_of(ID, "distribution_domain") {
        return Ok(Some(domain));
    }
    Ok(live(ctx).await?.map(|dist| dist.domain_name().to_string()))
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

#[async_trait]
impl Step for Distribution {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn waits_for(&self, settings: &crate::Settings) -> Vec<ResourceId> {
        let all = self.depends_on().iter().copied();
        all.filter(|&id| id != crate::certificate::ID || settings.domain.is_some())
            .filter(|&id| id != crate::key_group::ID || settings.private)
            .collect()
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
            // Refused here, before `up` creates anything, when the account is full.
            origin_access_control::check_room_for_distribution(ctx).await?;
            return Ok(Observation::Missing);
        };
        let tagged_ours = ours_here(ctx, &tag_list);
        let ours = tagged_ours || recorded.is_some_and(|r| r.ownership.is_ours());
        let certificate = crate::certificate::attachable(ctx).await?;
        let key_group = signing_group(ctx).await?;
        let drift = match dist.distribution_config() {
            Some(config) => drift(
                ctx,
                config,
                &tag_list,
                ours,
                recorded,
                certificate.as_deref(),
                key_group.as_deref(),
            ),
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
                let certificate = crate::certificate::attachable(ctx).await?;
                let key_group = signing_group(ctx).await?;
                let request = DistributionConfigWithTags::builder()
                    .distribution_config(wanted_config(
                        ctx,
                        &oac,
                        certificate.as_deref(),
                        key_group.as_deref(),
                    )?)
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
                let certificate = crate::certificate::attachable(ctx).await?;
                let certificate = certificate.as_deref();
                let key_group = signing_group(ctx).await?;
                let key_group = key_group.as_deref();
                // Someone changed it between our read and our write: read again.
                let updated = retry_codes(
                    ctx.settings.propagation_timeout,
                    &["PreconditionFailed"],
                    |_| {},
                    || async {
                        let out =
                            cf.get_distribution_config()
                                .id(&id)
                                .send()
                                .await
                                .context(|| {
                                    format!("reading the configuration of distribution {id}")
                                })?;
                        let mut config = out.distribution_config().cloned().ok_or_else(|| {
                            StepError::msg(format!("distribution {id} returned no configuration"))
                        })?;
                        let repaired = repair(ctx, &mut config, present, certificate, key_group)?;
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
            ..Default::default()
        })
    }

    /// Puts back what `up` changed on an adopted distribution (the tutorial's): one
    /// UpdateDistribution with the ETag just read; CloudFront then deploys it.
    async fn restore(
        &self,
        ctx: &StackContext,
        recorded: &Recorded,
    ) -> Result<Vec<String>, StepError> {
        let Some(id) = recorded_id(ctx, Some(recorded)) else {
            return Ok(Vec::new());
        };
        let originals = crate::original::Originals::of(recorded);
        let cf = &ctx.clients.cloudfront;
        retry_codes(
            ctx.settings.propagation_timeout,
            &["PreconditionFailed"],
            |_| {},
            || async {
                let out = match cf.get_distribution_config().id(&id).send().await {
                    Ok(out) => out,
                    Err(e) if Service::CloudFront.not_found(&e) => return Ok(Vec::new()),
                    Err(e) => {
                        return Err(StepError::with_source(
                            format!("reading the configuration of distribution {id}"),
                            AwsError::from_sdk(&e),
                        ))
                    }
                };
                let mut config = out.distribution_config().cloned().ok_or_else(|| {
                    StepError::msg(format!("distribution {id} returned no configuration"))
                })?;
                let restored = config::restore(&mut config, &originals)?;
                if restored.is_empty() {
                    return Ok(restored);
                }
                cf.update_distribution()
                    .id(&id)
                    .set_if_match(out.e_tag().map(str::to_string))
                    .distribution_config(config)
                    .send()
                    .await
                    .context(|| format!("restoring distribution {id}"))?;
                Ok(restored)
            },
        )
        .await
    }

    // -----------------------------------------------------------------------------------
    // destroy

    async fn destroy(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
        options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        let id = match recorded_id(ctx, recorded) {
            Some(id) => id,
            None => match by_tags(ctx).await? {
                Some((id, _)) => id,
                None => return Ok(Destroyed::AlreadyGone),
            },
        };
        lifecycle::destroy(ctx, id, options).await
    }
}
