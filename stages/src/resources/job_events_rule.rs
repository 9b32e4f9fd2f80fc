//! Stage 8: an EventBridge rule on the default bus that sends the state changes of this
//! stack's MediaConvert jobs (and only its queue's: `detail.queue`) to the converter
//! function, which keeps `catalog.json` from them. The rule's only target is the function;
//! `job-events-permission` lets EventBridge invoke it.

use crate::resources::prelude::*;
use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{RuleState, Tag, Target as RuleTarget};
use serde_json::{json, Value};

pub struct JobEventsRule;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "8",
    // Only names them: EventBridge takes a pattern naming a queue and a target naming a
    // function before either exists (it checks neither until an event matches), and the
    // ARNs derive from their names.
    depends_on: &[],
    names: &[crate::converter_function::ID, crate::queue::ID],
    name: Some(NameRule {
        kind: NameKind::EventRule,
        default: "{stack}-job-events",
    }),
    outputs: &[],
    service: Service::EventBridge,
    permissions: &[
        Grant::observe(
            &[
                "events:DescribeRule",
                "events:ListTargetsByRule",
                "events:ListTagsForResource",
            ],
            Target::Rule(ID),
        ),
        Grant::apply(
            &[
                "events:PutRule",
                "events:PutTargets",
                "events:RemoveTargets",
                "events:TagResource",
            ],
            Target::Rule(ID),
        ),
        Grant::destroy(
            &[
                "events:ListTargetsByRule",
                "events:RemoveTargets",
                "events:DeleteRule",
            ],
            Target::Rule(ID),
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("job-events-rule");

/// The id of the rule's one target.
pub const TARGET_ID: &str = "cattube-converter";

const DRIFT_PATTERN: &str = "pattern";
const DRIFT_DISABLED: &str = "disabled";
const DRIFT_TARGETS: &str = "targets";

/// The events the rule matches: MediaConvert's job state changes of the stack's queue.
pub fn pattern(ctx: &StackContext) -> Value {
    json!({
        "source": ["aws.mediaconvert"],
        "detail-type": ["MediaConvert Job State Change"],
        "detail": { "queue": [arn::queue(ctx, crate::queue::ID)] }
    })
}

fn tags(ctx: &StackContext) -> Result<Vec<Tag>, StepError> {
    ctx.sdk_tags(|k, v| Tag::builder().key(k).value(v).build())
}

/// The targets of the rule as (id, ARN), none when the rule is gone.
async fn targets(ctx: &StackContext) -> Result<Vec<(String, String)>, StepError> {
    let name = ctx.name(ID);
    let answer = ctx
        .clients
        .eventbridge
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .found(Service::EventBridge, || {
            format!("listing the targets of EventBridge rule {name}")
        })?;
    Ok(answer
        .iter()
        .flat_map(|out| out.targets())
        .map(|t| (t.id().to_string(), t.arn().to_string()))
        .collect())
}

async fn live_tags(ctx: &StackContext) -> Result<BTreeMap<String, String>, StepError> {
    let rule = arn::rule(ctx, ID);
    let answer = ctx
        .clients
        .eventbridge
        .list_tags_for_resource()
        .resource_arn(&rule)
        .send()
        .await
        .found(Service::EventBridge, || {
            format!("reading the tags of {rule}")
        })?;
    Ok(answer
        .iter()
        .flat_map(|out| out.tags())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

#[async_trait]
impl Step for JobEventsRule {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = ctx.name(ID);
        let events = &ctx.clients.eventbridge;
        // The ARN is derived: rule, targets and tags in one round trip.
        let (rule, targets, tags) = tokio::join!(
            events.describe_rule().name(name).send(),
            targets(ctx),
            live_tags(ctx)
        );
        let Some(rule) = rule.found(Service::EventBridge, || {
            format!("reading EventBridge rule {name}")
        })?
        else {
            return Ok(Observation::Missing);
        };
        let (targets, tags) = (targets?, tags?);
        let mut drift = Vec::new();
        let live_pattern: Option<Value> = rule
            .event_pattern()
            .and_then(|p| serde_json::from_str(p).ok());
        if live_pattern.as_ref() != Some(&pattern(ctx)) {
            drift.push(Drift::new(
                DRIFT_PATTERN,
                format!(
                    "event pattern differs: {}",
                    rule.event_pattern().unwrap_or("none")
                ),
            ));
        }
        if rule.state() != Some(&RuleState::Enabled) {
            drift.push(Drift::new(
                DRIFT_DISABLED,
                "rule is disabled: the catalog would stop updating",
            ));
        }
        let function = arn::function(ctx, crate::converter_function::ID);
        if targets != [(TARGET_ID.to_string(), function.clone())] {
            let shown: Vec<String> = targets
                .iter()
                .map(|(id, arn)| format!("{id}={arn}"))
                .collect();
            drift.push(Drift::new(
                DRIFT_TARGETS,
                format!(
                    "targets differ (want only {TARGET_ID}={function}): {}",
                    if shown.is_empty() {
                        "none".into()
                    } else {
                        shown.join(", ")
                    }
                ),
            ));
        }
        let arn = rule
            .arn()
            .map_or_else(|| arn::rule(ctx, ID), str::to_string);
        Ok(Observation::Present(Present::tagged(
            ctx,
            name,
            arn,
            &tags,
            ctx.recorded,
            drift,
        )))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = ctx.name(ID);
        let events = &ctx.clients.eventbridge;
        let mut applied = Applied {
            arn: arn::rule(ctx, ID),
            ..Default::default()
        };
        let present = ctx.observation.present();
        let drifted = |key| present.is_none_or(|p| p.has_drift(key));
        if drifted(DRIFT_PATTERN) || drifted(DRIFT_DISABLED) {
            // PutRule creates or replaces the pattern and state; tags only on create.
            let mut put = events
                .put_rule()
                .name(name)
                .event_pattern(pattern(ctx).to_string())
                .state(RuleState::Enabled)
                .description(format!(
                    "cattube stack {}: MediaConvert job state changes to the converter",
                    ctx.stack
                ));
            if present.is_none() {
                put = put.set_tags(Some(tags(ctx)?));
            }
            let out = put
                .send()
                .await
                .context(|| format!("putting EventBridge rule {name}"))?;
            if let Some(arn) = out.rule_arn() {
                applied.arn = arn.to_string();
            }
            applied.changes.push(match present {
                None => "created rule".into(),
                Some(_) => "set the rule's pattern and state".into(),
            });
        }
        if drifted(DRIFT_TARGETS) {
            // Any other target would get the stack's job events too: removed.
            let others: Vec<String> = targets(ctx)
                .await?
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| id != TARGET_ID)
                .collect();
            if !others.is_empty() {
                events
                    .remove_targets()
                    .rule(name)
                    .set_ids(Some(others.clone()))
                    .send()
                    .await
                    .context(|| format!("removing targets {} of rule {name}", others.join(", ")))?;
                applied
                    .changes
                    .push(format!("removed targets {}", others.join(", ")));
            }
            let target = RuleTarget::builder()
                .id(TARGET_ID)
                .arn(arn::function(ctx, crate::converter_function::ID))
                .build()
                .expect("id and arn");
            let out = events
                .put_targets()
                .rule(name)
                .targets(target)
                .send()
                .await
                .context(|| format!("targeting the converter function from rule {name}"))?;
            if let Some(failed) = out.failed_entries().first() {
                return Err(StepError::msg(format!(
                    "EventBridge refused target {TARGET_ID} of rule {name}: {} {}",
                    failed.error_code().unwrap_or_default(),
                    failed.error_message().unwrap_or_default()
                )));
            }
            applied
                .changes
                .push("targeted the converter function".into());
        }
        if present.is_some_and(|p| p.retags(ctx.ownership)) {
            events
                .tag_resource()
                .resource_arn(&applied.arn)
                .set_tags(Some(tags(ctx)?))
                .send()
                .await
                .context(|| format!("tagging EventBridge rule {name}"))?;
            applied.changes.push("tagged rule".into());
        }
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let name = ctx.name(ID);
        let events = &ctx.clients.eventbridge;
        // A rule with targets cannot be deleted: they go first.
        let ids: Vec<String> = targets(ctx).await?.into_iter().map(|(id, _)| id).collect();
        if !ids.is_empty() {
            let removed = events
                .remove_targets()
                .rule(name)
                .set_ids(Some(ids))
                .send()
                .await
                .found(Service::EventBridge, || {
                    format!("removing the targets of EventBridge rule {name}")
                })?;
            if removed.is_none() {
                return Ok(Destroyed::AlreadyGone);
            }
        }
        let answer = events.delete_rule().name(name).send().await;
        Service::EventBridge.deleted(answer, || format!("deleting EventBridge rule {name}"))
    }
}
