//! Stage 4, after the function: what Lambda does with an asynchronous invocation of the
//! converter function (an S3 event, a job event) that failed: two retries (Lambda's
//! default, said explicitly), then a record of it (the event, the error, the attempts) in
//! the stack's failures bucket, its on-failure destination, instead of only a log line.
//! `status` counts those records, `jobs` lists them and `jobs --retry-failed` replays them
//! (`crate::operations::failures`). The function's event invoke configuration carries no
//! tags: it is the stack's when its destination is the stack's bucket. An adopted function's
//! own configuration (another destination, its retries, a maximum event age, an on-success
//! destination) is recorded before `up` replaces it and put back by `down`.

use crate::resources::prelude::*;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::get_function_event_invoke_config::GetFunctionEventInvokeConfigOutput;
use aws_sdk_lambda::types::{DestinationConfig, OnFailure, OnSuccess};
use serde_json::{json, Value};

use crate::original::Originals;
use crate::retry::retry_propagation;

pub struct FailureDestination;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "4",
    // The configuration is the function's own. Lambda checks, when it is written, that the
    // function's role may write to the destination: the role (with its policy) and the
    // bucket first.
    depends_on: &[
        crate::converter_function::ID,
        crate::converter_role::ID,
        crate::failures_bucket::ID,
    ],
    // The same check when `down` writes an adopted function's own destination back: its
    // role must reach it, so the function's own role is put back first.
    restore_after: &[crate::converter_function::ID],
    service: Service::Lambda,
    permissions: &[
        Grant::observe(
            &["lambda:GetFunctionEventInvokeConfig"],
            Target::Function(crate::converter_function::ID),
        ),
        Grant::apply(
            &["lambda:PutFunctionEventInvokeConfig"],
            Target::Function(crate::converter_function::ID),
        ),
        Grant::destroy(
            &["lambda:DeleteFunctionEventInvokeConfig"],
            Target::Function(crate::converter_function::ID),
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state and facts).
pub const ID: ResourceId = ResourceId::new("failure-destination");

/// Lambda's asynchronous retries after the first attempt (0 to 2; 2 is its default).
pub const RETRIES: i32 = 2;

const DRIFT_DESTINATION: &str = "destination";
/// The original setting `down` puts back on an adopted function: its whole configuration.
const ORIGINAL_CONFIG: &str = "event-invoke-config";

/// A live configuration as the state records it (absent values are Lambda's defaults).
fn config_json(config: &GetFunctionEventInvokeConfigOutput) -> Value {
    let destinations = config.destination_config();
    json!({
        "MaximumRetryAttempts": config.maximum_retry_attempts(),
        "MaximumEventAgeInSeconds": config.maximum_event_age_in_seconds(),
        "OnSuccess": destinations.and_then(|d| d.on_success()).and_then(|d| d.destination()),
        "OnFailure": destinations.and_then(|d| d.on_failure()).and_then(|d| d.destination()),
    })
}

/// The destination's ARN: the stack's failures bucket.
pub fn destination(ctx: &StackContext) -> String {
    arn::bucket(ctx, crate::failures_bucket::ID)
}

/// The configuration's ARN as the state records it: the function's, with what it is.
fn config_arn(ctx: &StackContext) -> String {
    format!(
        "{}:event-invoke-config",
        arn::function(ctx, crate::converter_function::ID)
    )
}

/// Lambda has not yet seen the role's new policy, or the function is still being updated.
/// A role that may not reach the destination is refused as "The destination ARN … is
/// invalid." (the AWS provider's documentation quotes it), the same words as for a
/// malformed ARN: retried only while the role may still be propagating.
fn not_settled<E: ProvideErrorMetadata>(err: &E) -> bool {
    match err.code() {
        Some("ResourceConflictException") => true,
        Some("InvalidParameterValueException") => err.message().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("permission") || (m.contains("destination") && m.contains("invalid"))
        }),
        _ => false,
    }
}

#[async_trait]
impl Step for FailureDestination {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn shown_name(&self, ctx: &StackContext) -> String {
        format!("{} on failure", ctx.name(crate::converter_function::ID))
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let function = ctx.name(crate::converter_function::ID);
        let config = match ctx
            .clients
            .lambda
            .get_function_event_invoke_config()
            .function_name(function)
            .send()
            .await
        {
            Ok(config) => config,
            // No configuration, or no function: either way there is none.
            Err(e) if Service::Lambda.not_found(&e) => return Ok(Observation::Missing),
            Err(e) => {
                return Err(StepError::with_source(
                    format!("reading the asynchronous invocation settings of {function}"),
                    AwsError::from_sdk(&e),
                ))
            }
        };
        let wanted = destination(ctx);
        let live = config
            .destination_config()
            .and_then(|d| d.on_failure())
            .and_then(|f| f.destination())
            .unwrap_or_default();
        let mut drift = Vec::new();
        let was = config_json(&config);
        if live != wanted {
            let live = if live.is_empty() { "none" } else { live };
            drift.push(
                Drift::new(
                    DRIFT_DESTINATION,
                    format!("on-failure destination {live}, not {wanted}"),
                )
                .was(ORIGINAL_CONFIG, Some(was.clone())),
            );
        }
        let retries = config.maximum_retry_attempts().unwrap_or(RETRIES);
        if retries != RETRIES {
            drift.push(
                Drift::new(
                    DRIFT_DESTINATION,
                    format!("{retries} retries, not {RETRIES}"),
                )
                .was(ORIGINAL_CONFIG, Some(was)),
            );
        }
        // Once adopted, it stays the owner's even when it points at the stack's bucket
        // (after `up`): `down` then puts the owner's back instead of deleting it.
        let adopted = ctx
            .recorded
            .is_some_and(|r| r.ownership == Ownership::Adopted);
        Ok(Observation::Present(Present {
            name: self.shown_name(ctx),
            arn: config_arn(ctx),
            tagged_ours: live == wanted && !adopted,
            drift,
            ..Default::default()
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let mut applied = Applied {
            arn: config_arn(ctx),
            ..Default::default()
        };
        if ctx
            .observation
            .present()
            .is_some_and(|p| !p.has_drift(DRIFT_DESTINATION))
        {
            return Ok(applied);
        }
        let function = ctx.name(crate::converter_function::ID);
        let wanted = destination(ctx);
        let on_failure = DestinationConfig::builder()
            .on_failure(OnFailure::builder().destination(&wanted).build())
            .build();
        // Put replaces the whole configuration (an event age of its own is Lambda's default).
        retry_propagation(
            ctx,
            |e: &aws_sdk_lambda::error::SdkError<_, _>| {
                e.as_service_error().is_some_and(not_settled)
            },
            || {
                ctx.clients
                    .lambda
                    .put_function_event_invoke_config()
                    .function_name(function)
                    .maximum_retry_attempts(RETRIES)
                    .destination_config(on_failure.clone())
                    .send()
            },
        )
        .await
        .map_err(|e| {
            StepError::with_source(
                format!("setting the on-failure destination of {function}"),
                AwsError::from_sdk(&e),
            )
        })?;
        applied.changes.push(format!(
            "failed invocations recorded in {wanted} after {RETRIES} retries"
        ));
        Ok(applied)
    }

    /// Puts an adopted function's own configuration back as `up` found it: deleted when it
    /// had none, written back whole otherwise; after the function's own role is back
    /// (`restore_after`), since Lambda checks that role against the destination.
    async fn restore(
        &self,
        ctx: &StackContext,
        recorded: &Recorded,
    ) -> Result<Vec<String>, StepError> {
        let function = ctx.name(crate::converter_function::ID);
        let lambda = &ctx.clients.lambda;
        let restored = Originals::of(recorded)
            .put_back(
                ORIGINAL_CONFIG,
                "asynchronous invocation settings",
                || async {
                    let answer = lambda
                        .delete_function_event_invoke_config()
                        .function_name(function)
                        .send()
                        .await;
                    Service::Lambda
                        .deleted(answer, || {
                            format!("deleting the on-failure destination of {function}")
                        })
                        .map(|_| ())
                },
                |was| async move {
                    let text = |key: &str| was[key].as_str().map(str::to_string);
                    let number = |key: &str| was[key].as_i64().and_then(|n| i32::try_from(n).ok());
                    let (on_success, on_failure) = (text("OnSuccess"), text("OnFailure"));
                    let said = on_failure.clone().unwrap_or_else(|| "none".into());
                    let destinations = (on_success.is_some() || on_failure.is_some()).then(|| {
                        DestinationConfig::builder()
                            .set_on_success(
                                on_success.map(|d| OnSuccess::builder().destination(d).build()),
                            )
                            .set_on_failure(
                                on_failure.map(|d| OnFailure::builder().destination(d).build()),
                            )
                            .build()
                    });
                    // Just after the function's own restore: its update may be in progress
                    // and its role new to Lambda.
                    retry_propagation(
                        ctx,
                        |e: &aws_sdk_lambda::error::SdkError<_, _>| {
                            e.as_service_error().is_some_and(not_settled)
                        },
                        || {
                            lambda
                                .put_function_event_invoke_config()
                                .function_name(function)
                                .set_maximum_retry_attempts(number("MaximumRetryAttempts"))
                                .set_maximum_event_age_in_seconds(number(
                                    "MaximumEventAgeInSeconds",
                                ))
                                .set_destination_config(destinations.clone())
                                .send()
                        },
                    )
                    .await
                    .context(|| {
                        format!("restoring the asynchronous invocation settings of {function}")
                    })?;
                    Ok(format!(
                        "asynchronous invocation settings (on failure: {said})"
                    ))
                },
            )
            .await?;
        Ok(restored.into_iter().collect())
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let function = ctx.name(crate::converter_function::ID);
        let answer = ctx
            .clients
            .lambda
            .delete_function_event_invoke_config()
            .function_name(function)
            .send()
            .await;
        Service::Lambda.deleted(answer, || {
            format!("deleting the on-failure destination of {function}")
        })
    }
}
