//! Stage 6 (first half): the CloudFront Origin Access Control. CloudFront signs its requests
//! to the destination bucket with SigV4, always, so the bucket can stay private and trust
//! only this distribution (the tutorial's "Origin access control settings (recommended)";
//! no legacy Origin Access Identity).
//!
//! An OAC cannot be tagged: it is found again by its name, and its description
//! (`cattube stack <stack> (<region>)`) marks it as made by this stack.
//!
//! With `[delivery] shared-oac` (or `CATTUBE_SHARED_OAC`) every such stack of the account
//! uses one OAC, [`SHARED_NAME`] (CloudFront is global, and an OAC is not tied to a bucket's
//! region), marked by [`SHARED_DESCRIPTION`], so the 100-OAC quota stops binding. A stack
//! records it under that name: it uses it but does not solely own it. Its `down` deletes it
//! only when no distribution of the account (cattube's or anyone's) has an origin using
//! it, and otherwise drops it from the stack's state ([`Destroyed::Released`]).

use crate::resources::prelude::*;
use crate::retry::retry_codes;
use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols,
};

use crate::error::error_code;

mod lookup;
mod users;

use lookup::{by_name, find, find_or_count, Live};
pub(crate) use users::check_room_for_distribution;
use users::users;

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
        Grant::observe(&["cloudfront:ListOriginAccessControls"], Target::Any),
        Grant::observe(
            &["cloudfront:GetOriginAccessControl"],
            Target::OriginAccessControls,
        ),
        Grant::apply(&["cloudfront:CreateOriginAccessControl"], Target::Any),
        Grant::apply(
            &[
                "cloudfront:GetOriginAccessControl",
                "cloudfront:UpdateOriginAccessControl",
            ],
            Target::OriginAccessControls,
        ),
        Grant::destroy(
            &[
                "cloudfront:GetOriginAccessControl",
                "cloudfront:DeleteOriginAccessControl",
            ],
            Target::OriginAccessControls,
        ),
        // The shared OAC: every distribution's origins, to know whether it is still used.
        Grant::observe(&["cloudfront:ListDistributions"], Target::Any),
        // A quota's applied value, asked only when the account reaches its default
        // (`crate::quota`), for this step's and the distribution's quotas.
        Grant::observe(&["servicequotas:ListServiceQuotas"], Target::Any),
        Grant::destroy(&["cloudfront:ListDistributions"], Target::Any),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("origin-access-control");

/// The account's one shared OAC (`[delivery] shared-oac`).
pub const SHARED_NAME: &str = "cattube-shared-oac";
/// The shared OAC's mark: made by cattube for every stack that shares it.
pub const SHARED_DESCRIPTION: &str =
    "cattube: shared by the stacks with [delivery] shared-oac; deleted by the down that leaves it unused";

const DRIFT_SIGNING: &str = "signing";
/// The output under which the OAC id is published to later steps.
pub(crate) const OUTPUT_ID: &str = "origin_access_control_id";

fn description(ctx: &StackContext) -> String {
    if ctx.settings.shared_oac {
        SHARED_DESCRIPTION.to_string()
    } else {
        format!("cattube stack {} ({})", ctx.stack, ctx.region)
    }
}

/// The OAC's name: the account's shared one, or the stack's own.
fn oac_name(ctx: &StackContext) -> &str {
    if ctx.settings.shared_oac {
        SHARED_NAME
    } else {
        ctx.name(ID)
    }
}

/// Whether cattube made it for this stack, or as the shared one.
fn marked_ours(ctx: &StackContext, live: &Live) -> bool {
    live.description == description(ctx)
        || (live.name == SHARED_NAME && live.description == SHARED_DESCRIPTION)
}

/// Whether a state record is of the shared OAC (a stack that shared it finds it again even
/// when `down` runs without the setting).
fn shares(recorded: Option<&Recorded>) -> bool {
    recorded.is_some_and(|r| r.name == SHARED_NAME)
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
        .name(oac_name(ctx))
        .description(description(ctx))
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .map_err(|e| StepError::with_source("building the origin access control", e))
}

fn outputs(id: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([(OUTPUT_ID, id.to_string())])
}

#[async_trait]
impl Step for OriginAccessControl {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn shown_name(&self, ctx: &StackContext) -> String {
        oac_name(ctx).to_string()
    }

    /// The OAC with the stack's name and the stack's mark in its description; one someone
    /// else named so is not ours. The shared one is the stack's to remove only when no
    /// distribution uses it any more.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        let Some(live) = by_name(ctx, oac_name(ctx))
            .await?
            .0
            .filter(|live| live.description == description(ctx))
        else {
            return Ok(Vec::new());
        };
        if ctx.settings.shared_oac && !users(ctx, &live.id).await?.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![Found {
            name: oac_name(ctx).to_string(),
            arn: oac_arn(ctx, &live.id),
        }])
    }

    // -----------------------------------------------------------------------------------
    // observe

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let (found, count) = find_or_count(ctx, ctx.recorded).await?;
        let Some(found) = found else {
            crate::quota::ORIGIN_ACCESS_CONTROLS
                .check(
                    ctx,
                    count,
                    1,
                    &format!("creating origin access control {}", oac_name(ctx)),
                )
                .await?;
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
            arn: oac_arn(ctx, &found.id),
            tagged_ours: marked_ours(ctx, &found),
            name: found.name,
            drift,
            pending: None,
            outputs: outputs(&found.id),
        }))
    }

    // -----------------------------------------------------------------------------------
    // apply

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let cf = &ctx.clients.cloudfront;
        let name = oac_name(ctx);
        let (id, adopted, change) = match ctx.observation {
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

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let cf = &ctx.clients.cloudfront;
        let Some(found) = find(ctx, ctx.recorded).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        let shared = found.name == SHARED_NAME;
        let id = found.id;
        // Shared: anyone's distribution still using it keeps it, and AWS refuses the delete
        // (OriginAccessControlInUse) if one attaches it between this look and the delete.
        let in_use = || async {
            let using = users(ctx, &id).await?;
            Ok::<_, StepError>((!using.is_empty()).then(|| {
                Destroyed::Released(format!(
                    "shared: still used by distribution {}",
                    using.join(", ")
                ))
            }))
        };
        if shared {
            if let Some(released) = in_use().await? {
                return Ok(released);
            }
        }
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
                if let Err(e) = &answer {
                    if shared && error_code(e) == Some("OriginAccessControlInUse") {
                        if let Some(released) = in_use().await? {
                            return Ok(released);
                        }
                    }
                }
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
