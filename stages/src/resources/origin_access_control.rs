//! Stage 6 (first half): the CloudFront Origin Access Control. CloudFront signs its requests
//! to the destination bucket with SigV4, always, so the bucket can stay private and trust
//! only this distribution (the tutorial's "Origin access control settings (recommended)";
//! no legacy Origin Access Identity).
//!
//! An OAC cannot be tagged: it is found again by its name, and its description
//! (`cattube stack <stack> (<region>)`) marks it as made by this stack.

use crate::error::AwsFound;
use crate::grant::{Grant, Phase, Target};
use crate::naming::ResourceId;
use crate::retry::retry_codes;
use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::naming::NameKind;
use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};

use crate::error::{error_code, AwsContext, AwsError};
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Found, NameRule, Observation, Ownership, Present,
    Recorded, Service, Spec, Step,
};
use crate::{arn, StackContext, StepError};

pub struct OriginAccessControl;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::OriginAccessControl,
        default: "{stack}-{region}-oac",
    }),
    outputs: &[],
    service: Service::CloudFront,
    permissions: &[
        Grant::new(
            Phase::Observe,
            &["cloudfront:ListOriginAccessControls"],
            Target::Any,
        ),
        Grant::new(
            Phase::Observe,
            &["cloudfront:GetOriginAccessControl"],
            Target::OriginAccessControls,
        ),
        Grant::new(
            Phase::Apply,
            &["cloudfront:CreateOriginAccessControl"],
            Target::Any,
        ),
        Grant::new(
            Phase::Apply,
            &[
                "cloudfront:GetOriginAccessControl",
                "cloudfront:UpdateOriginAccessControl",
            ],
            Target::OriginAccessControls,
        ),
        Grant::new(
            Phase::Destroy,
            &[
                "cloudfront:GetOriginAccessControl",
                "cloudfront:DeleteOriginAccessControl",
            ],
            Target::OriginAccessControls,
        ),
    ],
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("origin-access-control");

const DRIFT_SIGNING: &str = "signing";
/// The output under which the OAC id is published to later steps.
pub(crate) const OUTPUT_ID: &str = "origin_access_control_id";

fn description(ctx: &StackContext) -> String {
    format!("cattube stack {} ({})", ctx.stack, ctx.region)
}

fn oac_arn(ctx: &StackContext, id: &str) -> String {
    format!(
        "arn:{}:cloudfront::{}:origin-access-control/{id}",
        ctx.partition(),
        ctx.account
    )
}

/// The OAC id this stack's distribution should use, if already known in this run or
/// recorded in the state.
pub(crate) fn known_id(ctx: &StackContext) -> Option<String> {
    ctx.id_of(ID)
}

/// What the stack wants.
fn wanted(ctx: &StackContext) -> Result<OriginAccessControlConfig, StepError> {
    OriginAccessControlConfig::builder()
        .name(ctx.name(ID))
        .description(description(ctx))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .map_err(|e| StepError::with_source("building the origin access control", e))
}

/// A live OAC: its id and the settings that matter.
#[derive(Debug)]
struct Live {
    id: String,
    description: String,
    protocol: String,
    behavior: String,
    origin_type: String,
    /// When read by id: the ETag a delete can use without reading it again.
    etag: Option<String>,
}

/// Finds the OAC: by the id recorded in the state, else by its name.
async fn find(ctx: &StackContext, recorded: Option<&Recorded>) -> Result<Option<Live>, StepError> {
    let cf = &ctx.clients.cloudfront;
    let name = ctx.name(ID);
    let recorded_id = recorded
        .and_then(|r| {
            r.extra
                .get("id")
                .cloned()
                .or_else(|| arn::last_segment(&r.arn).map(str::to_string))
        })
        .or_else(|| known_id(ctx));
    if let Some(id) = recorded_id {
        let answer = cf
            .get_origin_access_control()
            .id(&id)
            .send()
            .await
            .found(Service::CloudFront, || {
                format!("reading origin access control {id}")
            })?;
        if let Some(out) = answer {
            if let Some(config) = out
                .origin_access_control()
                .and_then(|o| o.origin_access_control_config())
                .filter(|c| c.name() == name)
            {
                return Ok(Some(Live {
                    id,
                    description: config.description().unwrap_or_default().to_string(),
                    protocol: config.signing_protocol().as_str().to_string(),
                    behavior: config.signing_behavior().as_str().to_string(),
                    origin_type: config
                        .origin_access_control_origin_type()
                        .as_str()
                        .to_string(),
                    etag: out.e_tag().map(str::to_string),
                }));
            }
        }
    }
    // The state is lost or stale: look it up by name.
    by_name(ctx).await
}

/// The OAC named as the stack's, whoever made it (an OAC has no tags: its name is the key).
async fn by_name(ctx: &StackContext) -> Result<Option<Live>, StepError> {
    let cf = &ctx.clients.cloudfront;
    let name = ctx.name(ID);
    let mut pages = cf.list_origin_access_controls().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.context(|| "listing origin access controls".to_string())?;
        let Some(list) = page.origin_access_control_list() else {
            return Ok(None);
        };
        if let Some(s) = list.items().iter().find(|s| s.name() == name) {
            return Ok(Some(Live {
                id: s.id().to_string(),
                description: s.description().to_string(),
                protocol: s.signing_protocol().as_str().to_string(),
                behavior: s.signing_behavior().as_str().to_string(),
                origin_type: s.origin_access_control_origin_type().as_str().to_string(),
                etag: None,
            }));
        }
    }
    Ok(None)
}

fn outputs(id: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([(OUTPUT_ID, id.to_string())])
}

#[async_trait]
impl Step for OriginAccessControl {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// The OAC with the stack's name and the stack's mark in its description; one someone
    /// else named so is not ours.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(by_name(ctx)
            .await?
            .filter(|live| live.description == description(ctx))
            .map(|live| Found {
                name: ctx.name(ID).to_string(),
                arn: oac_arn(ctx, &live.id),
            })
            .into_iter()
            .collect())
    }

    // -----------------------------------------------------------------------------------
    // observe

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        let Some(found) = find(ctx, recorded).await? else {
            return Ok(Observation::Missing);
        };
        let mut off = Vec::new();
        if found.protocol != "sigv4" {
            off.push(format!("signing protocol {}", found.protocol));
        }
        if found.behavior != "always" {
            off.push(format!("signing behavior {}", found.behavior));
        }
        if found.origin_type != "s3" {
            off.push(format!("origin type {}", found.origin_type));
        }
        let drift = if off.is_empty() {
            Vec::new()
        } else {
            vec![Drift::new(
                DRIFT_SIGNING,
                format!("{} (wanted sigv4, always, s3)", off.join(", ")),
            )]
        };
        Ok(Observation::Present(Present {
            name: ctx.name(ID).to_string(),
            arn: oac_arn(ctx, &found.id),
            tagged_ours: found.description == description(ctx),
            drift,
            pending: None,
            outputs: outputs(&found.id),
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
        let name = ctx.name(ID);
        let (id, adopted, change) = match observation {
            Observation::Missing => match cf
                .create_origin_access_control()
                .origin_access_control_config(wanted(ctx)?)
                .send()
                .await
            {
                Ok(out) => {
                    let id = out
                        .origin_access_control()
                        .map(|o| o.id().to_string())
                        .ok_or_else(|| {
                            StepError::msg("CreateOriginAccessControl returned no id")
                        })?;
                    (
                        id,
                        false,
                        "created origin access control (sigv4, always, s3)",
                    )
                }
                Err(e) if error_code(&e) == Some("OriginAccessControlAlreadyExists") => {
                    // Made between our look and our create: use it, and own it only if it
                    // carries our mark.
                    let found = find(ctx, None).await?.ok_or_else(|| {
                        StepError::msg(format!(
                            "origin access control {name} exists but cannot be found by name"
                        ))
                    })?;
                    let adopted = found.description != description(ctx);
                    (found.id, adopted, "found origin access control by name")
                }
                Err(e) => {
                    return Err(StepError::with_source(
                        format!("creating origin access control {name}"),
                        AwsError::from_sdk(&e),
                    ))
                }
            },
            Observation::Present(present) => {
                let id = present
                    .outputs
                    .get(OUTPUT_ID)
                    .cloned()
                    .ok_or_else(|| StepError::msg("the observed OAC has no id"))?;
                let current = cf
                    .get_origin_access_control()
                    .id(&id)
                    .send()
                    .await
                    .context(|| format!("reading origin access control {id}"))?;
                cf.update_origin_access_control()
                    .id(&id)
                    .set_if_match(current.e_tag().map(str::to_string))
                    .origin_access_control_config(wanted(ctx)?)
                    .send()
                    .await
                    .context(|| format!("updating origin access control {name}"))?;
                (id, false, "set signing to sigv4, always, s3")
            }
        };
        Ok(Applied {
            arn: oac_arn(ctx, &id),
            adopted,
            changes: vec![change.to_string()],
            outputs: outputs(&id),
            extra: BTreeMap::from([("id".to_string(), id)]),
            ..Default::default()
        })
    }

    // -----------------------------------------------------------------------------------
    // destroy

    async fn destroy(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
        _options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        let cf = &ctx.clients.cloudfront;
        let Some(found) = find(ctx, recorded).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        let id = found.id;
        // The first attempt uses the ETag `find` just read; a retry reads it again.
        let known_etag = std::sync::Mutex::new(found.etag);
        // The distribution was deleted just before; CloudFront may still count it as a user
        // of the OAC for a moment (OriginAccessControlInUse), and an ETag read just before
        // may be stale (PreconditionFailed): both are retried for a bounded time.
        let bound = ctx.settings.propagation_timeout;
        retry_codes(
            bound,
            &["OriginAccessControlInUse", "PreconditionFailed"],
            |_| {
                ctx.progress(
                    ID.as_str(),
                    "in use by a distribution: waiting for it to go",
                )
            },
            || async {
                let first = known_etag.lock().expect("etag lock").take();
                let read = match first {
                    Some(etag) => Ok(Some(etag)),
                    None => cf
                        .get_origin_access_control()
                        .id(&id)
                        .send()
                        .await
                        .map(|out| out.e_tag().map(str::to_string)),
                };
                let Some(etag) = read.found(Service::CloudFront, || {
                    format!("reading origin access control {id}")
                })?
                else {
                    return Ok(Destroyed::AlreadyGone);
                };
                let answer = cf
                    .delete_origin_access_control()
                    .id(&id)
                    .set_if_match(etag)
                    .send()
                    .await;
                Service::CloudFront.deleted(answer, || {
                    format!(
                        "deleting origin access control {id} (retried for {} s)",
                        bound.as_secs()
                    )
                })
            },
        )
        .await
    }
}
