//! Stage 4, before the function: the converter function's CloudWatch Logs group,
//! `/aws/lambda/<function>`, with a retention (`[function] log-retention-days`, default 30)
//! and the stack's tags. Lambda would create the group on the first invocation, without a
//! retention and outside the stack, so every log line (source keys included) would be kept
//! and billed after `down`; created here first, the converter role needs no
//! `logs:CreateLogGroup` and `down` deletes it. Retention and tags changed by hand are drift
//! that `up` repairs.

use crate::resources::prelude::*;
use std::collections::HashMap;

pub struct FunctionLogGroup;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "4",
    // Its name is the function's (Lambda writes to `/aws/lambda/<function>`); the function
    // waits for it instead (`depends_on` there), so that no invocation creates it first.
    names: &[super::converter::FUNCTION],
    service: Service::Logs,
    permissions: &[
        // DescribeLogGroups takes no resource type: AWS accepts only `*`.
        Grant::observe(&["logs:DescribeLogGroups"], Target::Any),
        Grant::observe(
            &["logs:ListTagsForResource"],
            Target::LogGroup(super::converter::FUNCTION),
        ),
        Grant::apply(
            &[
                "logs:CreateLogGroup",
                // CreateLogGroup with tags needs TagResource too.
                "logs:TagResource",
                "logs:PutRetentionPolicy",
            ],
            Target::LogGroup(super::converter::FUNCTION),
        ),
        Grant::destroy(
            &["logs:DeleteLogGroup"],
            Target::LogGroup(super::converter::FUNCTION),
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state and facts).
pub const ID: ResourceId = ResourceId::new("function-log-group");

/// CloudWatch Logs' allowed retentions, in days (PutRetentionPolicy refuses any other).
pub const RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const DRIFT_RETENTION: &str = "retention";

/// The group Lambda writes the function's logs to.
pub fn name(ctx: &StackContext) -> String {
    format!("/aws/lambda/{}", ctx.name(super::converter::FUNCTION))
}

fn group_arn(ctx: &StackContext) -> String {
    arn::log_group(ctx, super::converter::FUNCTION)
}

fn tags(ctx: &StackContext) -> HashMap<String, String> {
    ctx.tags().into_iter().collect()
}

#[async_trait]
impl Step for FunctionLogGroup {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn shown_name(&self, ctx: &StackContext) -> String {
        name(ctx)
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = name(ctx);
        let arn = group_arn(ctx);
        let logs = &ctx.clients.logs;
        // The group and its tags in one round (a missing group's tags are "not found").
        let (groups, tags) = tokio::join!(
            logs.describe_log_groups()
                .log_group_name_prefix(&name)
                .send(),
            logs.list_tags_for_resource().resource_arn(&arn).send()
        );
        let groups = groups.context(|| format!("reading log group {name}"))?;
        // The prefix lists the group and any whose name extends it: the exact one is ours.
        let Some(group) = groups
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()))
        else {
            return Ok(Observation::Missing);
        };
        let live_tags = match tags {
            Ok(out) => out.tags().cloned().unwrap_or_default(),
            Err(e) if Service::Logs.not_found(&e) => return Ok(Observation::Missing),
            Err(e) => {
                return Err(StepError::with_source(
                    format!("reading the tags of log group {name}"),
                    AwsError::from_sdk(&e),
                ))
            }
        };
        let pairs = || live_tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let tagged_ours = ctx.tagged_ours(pairs());
        let mut drift = Vec::new();
        // An adopted group keeps its owner's retention and tags.
        if tagged_ours || ctx.recorded.is_some_and(|r| r.ownership.is_ours()) {
            let wanted = ctx.settings.function.log_retention_days;
            let live = group.retention_in_days();
            if live != Some(wanted) {
                let live = live.map_or("never expire".to_string(), |d| format!("{d} days"));
                drift.push(Drift::new(
                    DRIFT_RETENTION,
                    format!("retention {live}, want {wanted} days"),
                ));
            }
            drift.extend(ctx.tag_drift(pairs()));
        }
        Ok(Observation::Present(Present {
            name,
            arn,
            tagged_ours,
            drift,
            ..Default::default()
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = name(ctx);
        let logs = &ctx.clients.logs;
        let days = ctx.settings.function.log_retention_days;
        let mut applied = Applied {
            arn: group_arn(ctx),
            ..Default::default()
        };
        let present = ctx.observation.present();
        if present.is_none() {
            logs.create_log_group()
                .log_group_name(&name)
                .set_tags(Some(tags(ctx)))
                .send()
                .await
                .context(|| format!("creating log group {name}"))?;
            applied.changes.push("created log group".into());
        }
        if present.is_none_or(|p| p.has_drift(DRIFT_RETENTION)) {
            logs.put_retention_policy()
                .log_group_name(&name)
                .retention_in_days(days)
                .send()
                .await
                .context(|| format!("setting the retention of log group {name}"))?;
            applied.changes.push(format!("retention {days} days"));
        }
        // An adopted group (Lambda made it for a stack older than this resource) keeps its
        // owner's tags, as observe keeps its retention.
        if present.is_some_and(|p| p.retags(ctx.ownership)) {
            logs.tag_resource()
                .resource_arn(&applied.arn)
                .set_tags(Some(tags(ctx)))
                .send()
                .await
                .context(|| format!("tagging log group {name}"))?;
            applied.changes.push("tagged log group".into());
        }
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let name = name(ctx);
        let answer = ctx
            .clients
            .logs
            .delete_log_group()
            .log_group_name(&name)
            .send()
            .await;
        Service::Logs.deleted(answer, || format!("deleting log group {name}"))
    }
}
