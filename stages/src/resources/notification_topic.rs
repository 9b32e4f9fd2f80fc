//! Stage 8, optional: with `[notify] email = [...]`, an SNS topic the converter function
//! publishes one message to per finished job, with those addresses subscribed. Encrypted at
//! rest with the AWS managed key for SNS. A subscription waiting for its address to confirm
//! is not drift (only the mailbox's owner can confirm it). Without `[notify] email` the
//! stack does not want the topic: `up` deletes the one it owns, as Terraform deletes a
//! resource removed from the configuration.

use crate::resources::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sns::types::Tag;

use crate::Settings;

pub struct NotificationTopic;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "8",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::Topic,
        default: "{stack}-jobs",
    }),
    outputs: &["notification_topic_arn"],
    service: Service::Sns,
    permissions: &[
        Grant::observe(
            &[
                "sns:GetTopicAttributes",
                "sns:ListTagsForResource",
                "sns:ListSubscriptionsByTopic",
            ],
            Target::Topic(ID),
        ),
        Grant::apply(
            &[
                "sns:CreateTopic",
                "sns:SetTopicAttributes",
                "sns:TagResource",
                "sns:Subscribe",
                "sns:Unsubscribe",
                // `up` deletes the topic when `[notify] email` is gone.
                "sns:DeleteTopic",
            ],
            Target::Topic(ID),
        ),
        Grant::destroy(&["sns:DeleteTopic"], Target::Topic(ID)),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("notification-topic");

/// The AWS managed key for SNS: encryption at rest without a key to manage.
pub const KMS_KEY: &str = "alias/aws/sns";
const PROTOCOL: &str = "email";

const DRIFT_ENCRYPTION: &str = "encryption";
const DRIFT_SUBSCRIPTIONS: &str = "subscriptions";

fn outputs(ctx: &StackContext) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("notification_topic_arn", arn::topic(ctx, ID))])
}

/// One email subscription of the topic.
struct Subscription {
    endpoint: String,
    /// `None` while the address has not confirmed it (`PendingConfirmation`).
    arn: Option<String>,
}

async fn subscriptions(ctx: &StackContext) -> Result<Option<Vec<Subscription>>, StepError> {
    let topic = arn::topic(ctx, ID);
    let mut pages = ctx
        .clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .into_paginator()
        .send();
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        let Some(page) = page.found(Service::Sns, || {
            format!("listing the subscriptions of SNS topic {topic}")
        })?
        else {
            return Ok(None);
        };
        all.extend(
            page.subscriptions()
                .iter()
                .filter(|s| s.protocol() == Some(PROTOCOL))
                .map(|s| Subscription {
                    endpoint: s.endpoint().unwrap_or_default().to_string(),
                    arn: s
                        .subscription_arn()
                        .filter(|a| a.starts_with("arn:"))
                        .map(str::to_string),
                }),
        );
    }
    Ok(Some(all))
}

async fn live_tags(ctx: &StackContext) -> Result<BTreeMap<String, String>, StepError> {
    let topic = arn::topic(ctx, ID);
    let answer = ctx
        .clients
        .sns
        .list_tags_for_resource()
        .resource_arn(&topic)
        .send()
        .await
        .found(Service::Sns, || format!("reading the tags of {topic}"))?;
    Ok(answer
        .iter()
        .flat_map(|out| out.tags())
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect())
}

fn tags(ctx: &StackContext) -> Result<Vec<Tag>, StepError> {
    ctx.sdk_tags(|k, v| Tag::builder().key(k).value(v).build())
}

/// The addresses wanted and not subscribed, and the confirmed subscriptions not wanted.
fn subscription_changes<'a>(
    ctx: &StackContext,
    live: &'a [Subscription],
) -> (Vec<String>, Vec<&'a Subscription>) {
    let wanted: BTreeSet<String> = ctx
        .settings
        .notify_emails
        .iter()
        .map(|e| e.to_ascii_lowercase())
        .collect();
    let have: BTreeSet<String> = live
        .iter()
        .map(|s| s.endpoint.to_ascii_lowercase())
        .collect();
    let missing = wanted.difference(&have).cloned().collect();
    // A pending subscription cannot be removed (it has no ARN yet); it lapses by itself.
    let extra = live
        .iter()
        .filter(|s| s.arn.is_some() && !wanted.contains(&s.endpoint.to_ascii_lowercase()))
        .collect();
    (missing, extra)
}

#[async_trait]
impl Step for NotificationTopic {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn wanted(&self, settings: &Settings) -> bool {
        !settings.notify_emails.is_empty()
    }

    fn unwanted_reason(&self) -> &'static str {
        "not configured ([notify] email is empty)"
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let topic = arn::topic(ctx, ID);
        let sns = &ctx.clients.sns;
        let (attributes, subscriptions, tags) = tokio::join!(
            sns.get_topic_attributes().topic_arn(&topic).send(),
            subscriptions(ctx),
            live_tags(ctx)
        );
        let Some(attributes) =
            attributes.found(Service::Sns, || format!("reading SNS topic {topic}"))?
        else {
            return Ok(Observation::Missing);
        };
        let attributes = attributes.attributes().cloned().unwrap_or_default();
        let (subscriptions, tags) = (subscriptions?.unwrap_or_default(), tags?);
        let mut drift = Vec::new();
        if attributes.get("KmsMasterKeyId").map(String::as_str) != Some(KMS_KEY) {
            drift.push(Drift::new(
                DRIFT_ENCRYPTION,
                format!("not encrypted with {KMS_KEY}"),
            ));
        }
        let (missing, extra) = subscription_changes(ctx, &subscriptions);
        if !missing.is_empty() || !extra.is_empty() {
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("not subscribed: {}", missing.join(", ")));
            }
            if !extra.is_empty() {
                let shown: Vec<&str> = extra.iter().map(|s| s.endpoint.as_str()).collect();
                problems.push(format!(
                    "subscribed but not in [notify] email: {}",
                    shown.join(", ")
                ));
            }
            drift.push(Drift::new(DRIFT_SUBSCRIPTIONS, problems.join("; ")));
        }
        Ok(Observation::Present(Present {
            outputs: outputs(ctx),
            ..Present::tagged(ctx, ctx.name(ID), topic, &tags, ctx.recorded, drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = ctx.name(ID);
        let sns = &ctx.clients.sns;
        let mut applied = Applied {
            arn: arn::topic(ctx, ID),
            outputs: outputs(ctx),
            ..Default::default()
        };
        let present = ctx.observation.present();
        match present {
            None => {
                let created = sns
                    .create_topic()
                    .name(name)
                    .attributes("KmsMasterKeyId", KMS_KEY)
                    .set_tags(Some(tags(ctx)?))
                    .send()
                    .await
                    .context(|| format!("creating SNS topic {name}"))?;
                if let Some(arn) = created.topic_arn() {
                    applied.arn = arn.to_string();
                }
                applied.changes.push("created topic".into());
            }
            Some(p) => {
                if p.has_drift(DRIFT_ENCRYPTION) {
                    sns.set_topic_attributes()
                        .topic_arn(&applied.arn)
                        .attribute_name("KmsMasterKeyId")
                        .attribute_value(KMS_KEY)
                        .send()
                        .await
                        .context(|| format!("encrypting SNS topic {name}"))?;
                    applied.changes.push(format!("encrypted with {KMS_KEY}"));
                }
                if p.retags(ctx.ownership) {
                    sns.tag_resource()
                        .resource_arn(&applied.arn)
                        .set_tags(Some(tags(ctx)?))
                        .send()
                        .await
                        .context(|| format!("tagging SNS topic {name}"))?;
                    applied.changes.push("tagged topic".into());
                }
            }
        }
        if present.is_none_or(|p| p.has_drift(DRIFT_SUBSCRIPTIONS)) {
            let live = subscriptions(ctx).await?.unwrap_or_default();
            let (missing, extra) = subscription_changes(ctx, &live);
            for subscription in extra {
                let arn = subscription.arn.as_deref().expect("confirmed");
                sns.unsubscribe()
                    .subscription_arn(arn)
                    .send()
                    .await
                    .context(|| format!("unsubscribing {}", subscription.endpoint))?;
                applied
                    .changes
                    .push(format!("unsubscribed {}", subscription.endpoint));
            }
            for email in missing {
                sns.subscribe()
                    .topic_arn(&applied.arn)
                    .protocol(PROTOCOL)
                    .endpoint(&email)
                    .send()
                    .await
                    .context(|| format!("subscribing {email} to SNS topic {name}"))?;
                applied.changes.push(format!(
                    "subscribed {email} (AWS mails a confirmation link)"
                ));
            }
        }
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let topic = arn::topic(ctx, ID);
        // Deleting a topic deletes its subscriptions.
        let answer = ctx
            .clients
            .sns
            .delete_topic()
            .topic_arn(&topic)
            .send()
            .await;
        Service::Sns.deleted(answer, || format!("deleting SNS topic {topic}"))
    }
}
