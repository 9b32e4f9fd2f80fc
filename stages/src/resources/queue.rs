//! Stage 3: the MediaConvert queue the converter submits jobs to. On-demand pricing (the
//! tutorial's default), reached at MediaConvert's regional endpoint (DescribeEndpoints is
//! deprecated). `down` cancels the jobs still waiting or running: a queue with unfinished
//! jobs cannot be deleted, and CancelJob returns before the job has stopped, so DeleteQueue's
//! ConflictException is retried within the propagation bound.

use crate::resources::prelude::*;
use std::collections::BTreeMap;

use aws_sdk_mediaconvert::error::SdkError;
use aws_sdk_mediaconvert::operation::delete_queue::DeleteQueueError;
use aws_sdk_mediaconvert::types::{JobStatus, PricingPlan, QueueStatus};

use crate::retry::retry_while;

pub struct Queue;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "3",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::MediaConvert,
        default: "{stack}-queue",
    }),
    outputs: &["queue_arn"],
    service: Service::MediaConvert,
    permissions: &[
        Grant::observe(
            &["mediaconvert:GetQueue", "mediaconvert:ListTagsForResource"],
            Target::Queue(ID),
        ),
        Grant::apply(&["mediaconvert:CreateQueue"], Target::Any),
        Grant::apply(
            &["mediaconvert:UpdateQueue", "mediaconvert:TagResource"],
            Target::Queue(ID),
        ),
        Grant::destroy(
            &["mediaconvert:ListJobs", "mediaconvert:DeleteQueue"],
            Target::Queue(ID),
        ),
        Grant::destroy(&["mediaconvert:CancelJob"], Target::Jobs),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("queue");

const DRIFT_PAUSED: &str = "paused";

fn outputs(ctx: &StackContext) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("queue_arn", arn::queue(ctx, ID))])
}

/// The tags of a MediaConvert resource (queue or job template); none when it has none.
pub(crate) async fn mediaconvert_tags(
    ctx: &StackContext,
    arn: &str,
) -> Result<BTreeMap<String, String>, StepError> {
    let answer = ctx
        .clients
        .mediaconvert
        .list_tags_for_resource()
        .arn(arn)
        .send()
        .await
        .found(Service::MediaConvert, || {
            format!("reading the tags of {arn}")
        })?;
    Ok(answer
        .as_ref()
        .and_then(|out| out.resource_tags())
        .and_then(|t| t.tags())
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default())
}

/// Rewrites the stack's tags on a MediaConvert queue or job template (`what`) when they
/// drifted and it is the stack's: an adopted one keeps its owner's.
pub(crate) async fn retag_mediaconvert(
    ctx: &ApplyContext<'_>,
    present: &Present,
    applied: &mut Applied,
    what: &str,
) -> StepResult<()> {
    if !present.retags(ctx.ownership) {
        return Ok(());
    }
    let arn = &applied.arn;
    ctx.clients
        .mediaconvert
        .tag_resource()
        .arn(arn)
        .set_tags(Some(ctx.tags().into_iter().collect()))
        .send()
        .await
        .context(|| format!("tagging {arn}"))?;
    applied.changes.push(format!("tagged {what}"));
    Ok(())
}

#[async_trait]
impl Step for Queue {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = ctx.name(ID);
        let arn = arn::queue(ctx, ID);
        let mc = &ctx.clients.mediaconvert;
        // The ARN is derived: queue and tags in one round trip.
        let (queue, tags) = tokio::join!(
            mc.get_queue().name(name).send(),
            mediaconvert_tags(ctx, &arn)
        );
        let Some(queue) = queue.found(Service::MediaConvert, || {
            format!("reading MediaConvert queue {name}")
        })?
        else {
            return Ok(Observation::Missing);
        };
        let mut drift = Vec::new();
        if queue.queue().and_then(|q| q.status()) == Some(&QueueStatus::Paused) {
            drift.push(Drift::new(
                DRIFT_PAUSED,
                "queue is paused: uploads would wait forever",
            ));
        }
        let arn = queue
            .queue()
            .and_then(|q| q.arn())
            .map_or(arn, str::to_string);
        Ok(Observation::Present(Present {
            outputs: outputs(ctx),
            ..Present::tagged(ctx, name, arn, &tags?, ctx.recorded, drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = ctx.name(ID);
        let mc = &ctx.clients.mediaconvert;
        let mut applied = Applied {
            arn: arn::queue(ctx, ID),
            outputs: outputs(ctx),
            ..Default::default()
        };
        match ctx.observation {
            Observation::Missing => {
                let created = mc
                    .create_queue()
                    .name(name)
                    .pricing_plan(PricingPlan::OnDemand)
                    .status(QueueStatus::Active)
                    .description(format!("cattube stack {}: stage 3", ctx.stack))
                    .set_tags(Some(ctx.tags().into_iter().collect()))
                    .send()
                    .await
                    .context(|| format!("creating MediaConvert queue {name}"))?;
                if let Some(arn) = created.queue().and_then(|q| q.arn()) {
                    applied.arn = arn.to_string();
                }
                applied.changes.push("created on-demand queue".into());
            }
            Observation::Present(present) => {
                if present.has_drift(DRIFT_PAUSED) {
                    mc.update_queue()
                        .name(name)
                        .status(QueueStatus::Active)
                        .send()
                        .await
                        .context(|| format!("resuming MediaConvert queue {name}"))?;
                    applied.changes.push("resumed the paused queue".into());
                }
                retag_mediaconvert(ctx, present, &mut applied, "queue").await?;
            }
        }
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let name = ctx.name(ID);
        let mc = &ctx.clients.mediaconvert;
        let Some(cancelled) = cancel_unfinished(ctx).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        // CancelJob returns before the job is CANCELED, and MediaConvert refuses to delete a
        // queue with unfinished jobs (ConflictException): retried within the propagation bound.
        let deleted = retry_while(
            ctx,
            |e: &SdkError<DeleteQueueError, _>| {
                e.as_service_error()
                    .is_some_and(|e| e.is_conflict_exception())
            },
            || mc.delete_queue().name(name).send(),
        )
        .await;
        let deleted = deleted.found(Service::MediaConvert, || {
            format!(
                "deleting MediaConvert queue {name} (after cancelling {cancelled} unfinished jobs)"
            )
        })?;
        if deleted.is_none() {
            return Ok(Destroyed::AlreadyGone);
        }
        Ok(match cancelled {
            0 => Destroyed::Deleted,
            n => Destroyed::DeletedAfter(format!(
                "cancelled {n} unfinished job{} first",
                if n == 1 { "" } else { "s" }
            )),
        })
    }
}

/// Cancels every SUBMITTED and PROGRESSING job of the queue: how many it cancelled, or
/// `None` when the queue is already gone.
async fn cancel_unfinished(ctx: &StackContext) -> Result<Option<usize>, StepError> {
    let mc = &ctx.clients.mediaconvert;
    let queue = arn::queue(ctx, ID);
    // The two listings are independent: one round, not two, in every `down`.
    let (submitted, progressing) = tokio::try_join!(
        list_jobs(ctx, JobStatus::Submitted),
        list_jobs(ctx, JobStatus::Progressing)
    )?;
    let (Some(mut ids), Some(progressing)) = (submitted, progressing) else {
        return Ok(None);
    };
    ids.extend(progressing);
    for id in &ids {
        let answer = mc.cancel_job().id(id).send().await;
        // Finished (a conflict) or gone between the listing and the cancel: nothing left to stop.
        let finished = matches!(&answer, Err(e) if e.as_service_error()
            .is_some_and(|e| e.is_conflict_exception()));
        if !finished {
            answer.found(Service::MediaConvert, || {
                format!("cancelling job {id} of queue {queue}")
            })?;
        }
    }
    Ok(Some(ids.len()))
}

/// The ids of the queue's jobs in `status`, every page; `None` when the queue is gone.
async fn list_jobs(
    ctx: &StackContext,
    status: JobStatus,
) -> Result<Option<Vec<String>>, StepError> {
    let mc = &ctx.clients.mediaconvert;
    let queue = arn::queue(ctx, ID);
    let mut pages = mc
        .list_jobs()
        .queue(&queue)
        .status(status.clone())
        .into_paginator()
        .send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        let Some(page) = page.found(Service::MediaConvert, || {
            format!("listing the {status} jobs of queue {queue}")
        })?
        else {
            return Ok(None);
        };
        ids.extend(
            page.jobs()
                .iter()
                .filter_map(|j| j.id())
                .map(str::to_string),
        );
    }
    Ok(Some(ids))
}
