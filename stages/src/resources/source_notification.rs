//! Stage 7: the source bucket's event notification that invokes the converter on every new
//! object (`s3:ObjectCreated:*`, optionally only for `[trigger] suffixes`). S3 replaces a
//! bucket's whole notification configuration on every write, so cattube reads it, replaces
//! only its own entries (id `cattube-notifications`, and `cattube-notifications-N` for the
//! second and later suffix: S3 allows one suffix rule per entry) and writes the rest back as
//! it was. S3 checks it may invoke the function and says "Unable to validate the following
//! destination configurations" until the invoke permission has propagated: retried, bounded.

use crate::resources::prelude::*;
use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};

use crate::original::Originals;
use crate::retry::retry_while;

pub struct SourceNotification;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "7",
    // S3 checks it may invoke the function (the invoke permission) and writes the bucket's
    // configuration (the bucket). The notification is what makes the pipeline live: it also
    // waits for everything the function uses when it runs (template, queue through the
    // template, MediaConvert role, the function's own role with its policy), none of them
    // on the critical path.
    depends_on: &[
        crate::lambda_permission::S3_INVOKE_ID,
        crate::source_bucket::ID,
        crate::job_template::ID,
        crate::mediaconvert_role::ID,
        crate::converter_role::ID,
    ],
    names: &[crate::converter_function::ID],
    name: Some(NameRule {
        kind: NameKind::NotificationId,
        default: "cattube-notifications",
    }),
    outputs: &[],
    service: Service::S3,
    permissions: &[
        Grant::observe(
            &["s3:GetBucketNotification"],
            Target::Bucket(crate::source_bucket::ID),
        ),
        Grant::apply(
            &["s3:PutBucketNotification"],
            Target::Bucket(crate::source_bucket::ID),
        ),
        Grant::destroy(
            &["s3:GetBucketNotification", "s3:PutBucketNotification"],
            Target::Bucket(crate::source_bucket::ID),
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("source-notification");

const DRIFT_ENTRIES: &str = "entries";
const EVENT: &str = "s3:ObjectCreated:*";

/// What S3 says while it cannot yet see the invoke permission.
pub const UNVALIDATED: &str = "Unable to validate the following destination configurations";

/// One wanted entry: its id and its suffix filter.
fn wanted(ctx: &StackContext) -> Vec<(String, Option<String>)> {
    let id = ctx.name(ID);
    let suffixes = &ctx.settings.trigger_suffixes;
    if suffixes.is_empty() {
        return vec![(id.to_string(), None)];
    }
    suffixes
        .iter()
        .enumerate()
        .map(|(i, suffix)| {
            let entry = if i == 0 {
                id.to_string()
            } else {
                format!("{id}-{}", i + 1)
            };
            (entry, Some(suffix.clone()))
        })
        .collect()
}

fn is_ours(ctx: &StackContext, entry_id: Option<&str>) -> bool {
    let id = ctx.name(ID);
    entry_id.is_some_and(|e| {
        e == id
            || e.strip_prefix(id)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|n| n.parse::<u32>().is_ok())
    })
}

fn build(ctx: &StackContext) -> Result<Vec<LambdaFunctionConfiguration>, StepError> {
    wanted(ctx)
        .into_iter()
        .map(|(id, suffix)| {
            let filter = suffix.map(|suffix| {
                NotificationConfigurationFilter::builder()
                    .key(
                        S3KeyFilter::builder()
                            .filter_rules(
                                FilterRule::builder()
                                    .name(FilterRuleName::Suffix)
                                    .value(suffix)
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
            LambdaFunctionConfiguration::builder()
                .id(id)
                .lambda_function_arn(arn::function(ctx, crate::converter_function::ID))
                .events(Event::from(EVENT))
                .set_filter(filter)
                .build()
                .map_err(|e| StepError::with_source("building the notification entry", e))
        })
        .collect()
}

/// The entry's suffix filter, if it has exactly one rule, a suffix.
fn suffix_of(entry: &LambdaFunctionConfiguration) -> Result<Option<String>, ()> {
    let rules = entry
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    match rules {
        [] => Ok(None),
        [rule]
            if rule
                .name()
                .is_some_and(|n| n.as_str().eq_ignore_ascii_case("suffix")) =>
        {
            Ok(rule.value().map(str::to_string))
        }
        _ => Err(()),
    }
}

/// The source bucket's notification configuration, `None` when the bucket is gone. Also
/// what `upload` checks before sending anything ([`crate::videos::check_source`]).
pub(crate) async fn read(
    ctx: &StackContext,
) -> Result<Option<GetBucketNotificationConfigurationOutput>, StepError> {
    let bucket = ctx.name(crate::source_bucket::ID);
    ctx.clients
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
        .found(Service::S3, || {
            format!("reading the event notifications of bucket {bucket}")
        })
}

fn unvalidated<R>(
    err: &aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::put_bucket_notification_configuration::PutBucketNotificationConfigurationError,
        R,
    >,
) -> bool {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    err.as_service_error()
        .and_then(|e| e.message())
        .is_some_and(|m| m.contains(UNVALIDATED))
}

/// Writes `current` with cattube's entries replaced by `ours`; retries until S3 can validate
/// the destination.
async fn write(
    ctx: &StackContext,
    current: &GetBucketNotificationConfigurationOutput,
    ours: Vec<LambdaFunctionConfiguration>,
) -> Result<(), StepError> {
    let bucket = ctx.name(crate::source_bucket::ID);
    let mut lambdas: Vec<LambdaFunctionConfiguration> = current
        .lambda_function_configurations()
        .iter()
        .filter(|c| !is_ours(ctx, c.id()))
        .cloned()
        .collect();
    lambdas.extend(ours);
    let config = NotificationConfiguration::builder()
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(lambdas))
        .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
        .build();
    retry_while(ctx, unvalidated, || {
        ctx.clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(bucket)
            .expected_bucket_owner(&ctx.account)
            .notification_configuration(config.clone())
            .send()
    })
    .await
    .context(|| format!("writing the event notifications of bucket {bucket}"))?;
    Ok(())
}

/// An entry as the state keeps it (`original:entries`).
fn entry_json(entry: &LambdaFunctionConfiguration) -> serde_json::Value {
    let rules: Vec<serde_json::Value> = entry
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            serde_json::json!({
                "Name": r.name().map(|n| n.as_str()),
                "Value": r.value(),
            })
        })
        .collect();
    serde_json::json!({
        "Id": entry.id(),
        "LambdaFunctionArn": entry.lambda_function_arn(),
        "Events": entry.events().iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "FilterRules": rules,
    })
}

/// An entry the state kept, to write back.
fn entry_from_json(was: &serde_json::Value) -> Result<LambdaFunctionConfiguration, StepError> {
    let text =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let rules: Vec<FilterRule> = was
        .get("FilterRules")
        .and_then(|r| r.as_array())
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    FilterRule::builder()
                        .set_name(text(r, "Name").map(|n| FilterRuleName::from(n.as_str())))
                        .set_value(text(r, "Value"))
                        .build()
                })
                .collect()
        })
        .unwrap_or_default();
    let filter = (!rules.is_empty()).then(|| {
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build()
    });
    LambdaFunctionConfiguration::builder()
        .set_id(text(was, "Id"))
        .lambda_function_arn(text(was, "LambdaFunctionArn").unwrap_or_default())
        .set_events(was.get("Events").and_then(|e| e.as_array()).map(|events| {
            events
                .iter()
                .filter_map(|e| e.as_str())
                .map(Event::from)
                .collect()
        }))
        .set_filter(filter)
        .build()
        .map_err(|e| StepError::with_source("rebuilding an event entry kept in the state", e))
}

fn entry_arn(ctx: &StackContext) -> String {
    format!(
        "{}#{}",
        arn::bucket(ctx, crate::source_bucket::ID),
        ctx.name(ID)
    )
}

#[async_trait]
impl Step for SourceNotification {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// Entries have no tags: an entry with the stack's notification id on the stack's
    /// source bucket is ours.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        let Some(current) = read(ctx).await? else {
            return Ok(Vec::new());
        };
        let ours = current
            .lambda_function_configurations()
            .iter()
            .any(|c| is_ours(ctx, c.id()));
        Ok(ours
            .then(|| Found {
                name: ctx.name(ID).to_string(),
                arn: entry_arn(ctx),
            })
            .into_iter()
            .collect())
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let Some(current) = read(ctx).await? else {
            return Ok(Observation::Missing);
        };
        let live: Vec<&LambdaFunctionConfiguration> = current
            .lambda_function_configurations()
            .iter()
            .filter(|c| is_ours(ctx, c.id()))
            .collect();
        if live.is_empty() {
            return Ok(Observation::Missing);
        }
        let function = arn::function(ctx, crate::converter_function::ID);
        let mut problems = Vec::new();
        let wanted = wanted(ctx);
        for (id, suffix) in &wanted {
            let Some(entry) = live.iter().find(|c| c.id() == Some(id.as_str())) else {
                problems.push(format!("entry {id} is missing"));
                continue;
            };
            if entry.lambda_function_arn() != function {
                problems.push(format!(
                    "entry {id} invokes {}, not {function}",
                    entry.lambda_function_arn()
                ));
            }
            let events: Vec<&str> = entry.events().iter().map(|e| e.as_str()).collect();
            if events != [EVENT] {
                problems.push(format!(
                    "entry {id} is for {}, not {EVENT}",
                    events.join(",")
                ));
            }
            match suffix_of(entry) {
                Ok(live_suffix) if live_suffix == *suffix => {}
                _ => problems.push(format!(
                    "entry {id} filter differs (wanted {})",
                    suffix
                        .as_deref()
                        .map_or("none".into(), |s| format!("suffix {s}"))
                )),
            }
        }
        for entry in &live {
            if !wanted.iter().any(|(id, _)| entry.id() == Some(id.as_str())) {
                problems.push(format!(
                    "entry {} is not wanted any more",
                    entry.id().unwrap_or_default()
                ));
            }
        }
        let drift = if problems.is_empty() {
            Vec::new()
        } else {
            // As they are, for `down` to put back on an adopted entry (the tutorial's).
            let was = live.iter().map(|entry| entry_json(entry)).collect();
            vec![Drift::new(DRIFT_ENTRIES, problems.join("; "))
                .was(DRIFT_ENTRIES, Some(serde_json::Value::Array(was)))]
        };
        Ok(Observation::Present(Present {
            // Entries cannot carry tags; their ids are in cattube's own namespace, unless
            // the state says the stack adopted them (`adopt --from-tutorial`).
            tagged_ours: !ctx
                .recorded
                .is_some_and(|r| r.ownership == Ownership::Adopted),
            ..Present::ours(ctx.name(ID), entry_arn(ctx), drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let bucket = ctx.name(crate::source_bucket::ID);
        // A bucket this run created has no notifications but the ones written here: nothing to
        // keep, no read on the critical path of a first `up`. Otherwise read again right
        // before writing: someone else's entries may have changed since the observe.
        let current = if ctx.created_now(crate::source_bucket::ID) {
            GetBucketNotificationConfigurationOutput::builder().build()
        } else {
            read(ctx).await?.ok_or_else(|| {
                StepError::msg(format!(
                    "bucket {bucket} disappeared before its notification was written"
                ))
            })?
        };
        write(ctx, &current, build(ctx)?).await?;
        Ok(Applied {
            arn: entry_arn(ctx),
            changes: vec![format!("bucket {bucket} invokes the converter on {EVENT}")],
            ..Default::default()
        })
    }

    /// Puts back an adopted bucket's entries as they were before `up` rewrote them.
    async fn restore(
        &self,
        ctx: &StackContext,
        recorded: &Recorded,
    ) -> Result<Vec<String>, StepError> {
        let Some(Some(serde_json::Value::Array(was))) = Originals::of(recorded)
            .get(DRIFT_ENTRIES)
            .map(|v| v.cloned())
        else {
            return Ok(Vec::new());
        };
        let Some(current) = read(ctx).await? else {
            return Ok(Vec::new());
        };
        let entries = was
            .iter()
            .map(entry_from_json)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<String> = entries
            .iter()
            .map(|e| e.id().unwrap_or_default().to_string())
            .collect();
        write(ctx, &current, entries).await?;
        Ok(vec![format!("event entries {}", ids.join(", "))])
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let Some(current) = read(ctx).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        if !current
            .lambda_function_configurations()
            .iter()
            .any(|c| is_ours(ctx, c.id()))
        {
            return Ok(Destroyed::AlreadyGone);
        }
        write(ctx, &current, Vec::new()).await?;
        Ok(Destroyed::Deleted)
    }
}
