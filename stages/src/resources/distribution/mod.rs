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
mod drift;
mod lifecycle;
mod lookup;
mod repair;

use crate::resources::prelude::*;

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::DistributionConfigWithTags;

use crate::error::error_code;
use crate::origin_access_control;

pub use config::{origin_domain, CACHING_OPTIMIZED, ORIGIN_ID};
use config::{stack_tags, wanted_config};
use drift::{drift, DRIFT_SETTINGS};
use lifecycle::{wait_deployed, Waited};
use lookup::{by_tags, dist_arn, get, ours_here, recorded_id, tagged, tags};
pub(crate) use lookup::{domain, find, live};
use repair::{repair, rewrite};

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
        Grant::apply(&["cloudfront:CreateDistribution"], Target::Any),
        Grant::apply(
            &[
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:UpdateDistribution",
                "cloudfront:TagResource",
            ],
            Target::Distributions,
        ),
        Grant::destroy(
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
    Grant::observe(&["cloudfront:ListDistributions"], Target::Any),
    Grant::observe(
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

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let mut live = None;
        if let Some(id) = recorded_id(ctx, ctx.recorded) {
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
        let ours = tagged_ours || ctx.recorded.is_some_and(|r| r.ownership.is_ours());
        let certificate = crate::certificate::attachable(ctx).await?;
        let key_group = signing_group(ctx).await?;
        let drift = match dist.distribution_config() {
            Some(config) => drift(
                ctx,
                config,
                &tag_list,
                ours,
                ctx.recorded,
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

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let mut changes = Vec::new();
        let mut dist = match ctx.observation {
            Observation::Missing => create(ctx, &mut changes).await?,
            Observation::Present(present) => update(ctx, present, &mut changes).await?,
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
        let restored = rewrite(ctx, &id, "restoring", |config| {
            repair::restore(config, &originals)
        })
        .await?;
        Ok(restored.map(|(restored, _)| restored).unwrap_or_default())
    }

    // -----------------------------------------------------------------------------------
    // destroy

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let id = match recorded_id(ctx, ctx.recorded) {
            Some(id) => id,
            None => match by_tags(ctx).await? {
                Some((id, _)) => id,
                None => return Ok(Destroyed::AlreadyGone),
            },
        };
        lifecycle::destroy(ctx, id, ctx.options).await
    }
}

/// Creates the distribution (`changes` says so), or finds the one an earlier create of
/// this stack left unrecorded.
async fn create(
    ctx: &StackContext,
    changes: &mut Vec<String>,
) -> Result<aws_sdk_cloudfront::types::Distribution, StepError> {
    let oac = origin_access_control::known_id(ctx)
        .ok_or_else(|| StepError::msg("the stack's origin access control is not known"))?;
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
    match ctx
        .clients
        .cloudfront
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
        // The same caller reference: an earlier create of this stack that was not recorded
        // (a crash). It carries our tags.
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
    .ok_or_else(|| StepError::msg("CloudFront returned no distribution"))
}

/// Repairs exactly what drifted on the live distribution (`changes` says what).
async fn update(
    ctx: &StackContext,
    present: &Present,
    changes: &mut Vec<String>,
) -> Result<aws_sdk_cloudfront::types::Distribution, StepError> {
    let id = present
        .outputs
        .get("distribution_id")
        .cloned()
        .ok_or_else(|| StepError::msg("the observed distribution has no id"))?;
    let gone = || StepError::msg(format!("distribution {id} is gone"));
    let certificate = crate::certificate::attachable(ctx).await?;
    let key_group = signing_group(ctx).await?;
    let (repaired, updated) = rewrite(ctx, &id, "updating", |config| {
        repair(
            ctx,
            config,
            present,
            certificate.as_deref(),
            key_group.as_deref(),
        )
    })
    .await?
    .ok_or_else(gone)?;
    changes.extend(repaired);
    let updated = updated.and_then(|out| out.distribution().cloned());
    if present.has_drift(crate::context::DRIFT_TAGS) {
        ctx.clients
            .cloudfront
            .tag_resource()
            .resource(dist_arn(ctx, &id))
            .tags(stack_tags(ctx)?)
            .send()
            .await
            .context(|| format!("tagging distribution {id}"))?;
        changes.push("tagged the distribution".to_string());
    }
    match updated {
        Some(d) => Ok(d),
        None => get(ctx, &id).await?.map(|(d, _)| d).ok_or_else(gone),
    }
}
