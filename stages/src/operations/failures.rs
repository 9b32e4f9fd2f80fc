//! The converter function's failed deliveries: asynchronous invocations (an upload's S3
//! event, a job event) that failed every attempt, each recorded by Lambda as one object in
//! the failures bucket (the function's on-failure destination,
//! [`crate::failure_destination`]). `status` counts them, `jobs` lists them, and
//! `jobs --retry-failed` replays each one: the same event, invoked asynchronously again
//! (so a replay that fails is recorded again), its record deleted once Lambda accepted it.

use aws_sdk_lambda::types::InvocationType;
use aws_smithy_types::Blob;
use serde_json::Value;

use crate::error::{AwsContext, AwsFound};
use crate::grant::{Grant, Target};
use crate::{arn, Service, StackContext, StepError};

/// What `jobs` lists: the records (ListBucket) and each one's body (GetObject).
pub const LIST_BUCKET: Grant = Grant::observe(
    &["s3:ListBucket"],
    Target::Bucket(crate::failures_bucket::ID),
);
pub const READ_RECORDS: Grant = Grant::observe(
    &["s3:GetObject"],
    Target::Objects(crate::failures_bucket::ID),
);
/// What `jobs --retry-failed` adds: the invocation, and the record's deletion.
pub const REPLAY: Grant = Grant::apply(
    &["lambda:InvokeFunction"],
    Target::Function(crate::converter_function::ID),
);
pub const DELETE_RECORDS: Grant = Grant::apply(
    &["s3:DeleteObject"],
    Target::Objects(crate::failures_bucket::ID),
);

/// One record of Lambda's invocation record format (`requestContext`, `requestPayload`,
/// `responsePayload`…), as read from the failures bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedDelivery {
    /// The record's key in the failures bucket.
    pub record: String,
    /// When Lambda gave up (the record's `timestamp`).
    pub failed_at: Option<String>,
    /// The upload's source key (an S3 event), or `job <id>` (a job event).
    pub subject: Option<String>,
    /// The function's error on its last attempt.
    pub error: Option<String>,
    /// How many times Lambda ran it (`approximateInvokeCount`).
    pub attempts: Option<i64>,
    /// The event the function was given: what a replay sends again.
    pub event: Value,
}

impl FailedDelivery {
    /// Reads one invocation record.
    pub fn parse(record: &str, body: &[u8]) -> Result<FailedDelivery, StepError> {
        let doc: Value = serde_json::from_slice(body).map_err(|e| {
            StepError::msg(format!(
                "failed-delivery record {record} is not an invocation record: {e}"
            ))
        })?;
        let event = doc
            .get("requestPayload")
            .cloned()
            .filter(|v| !v.is_null())
            .ok_or_else(|| {
                StepError::msg(format!(
                    "failed-delivery record {record} has no requestPayload"
                ))
            })?;
        let error = doc.get("responsePayload").and_then(|r| {
            let message = r.get("errorMessage").and_then(Value::as_str);
            let kind = r.get("errorType").and_then(Value::as_str);
            match (kind, message) {
                (Some(kind), Some(message)) => Some(format!("{kind}: {message}")),
                (kind, message) => kind.or(message).map(str::to_string),
            }
        });
        let error = error.or_else(|| {
            doc.pointer("/requestContext/condition")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        Ok(FailedDelivery {
            record: record.to_string(),
            failed_at: doc
                .get("timestamp")
                .and_then(Value::as_str)
                .map(str::to_string),
            subject: subject(&event),
            error,
            attempts: doc
                .pointer("/requestContext/approximateInvokeCount")
                .and_then(Value::as_i64),
            event,
        })
    }
}

/// What an event was about: an S3 event's object key (S3 sends it form-encoded), or a
/// MediaConvert job event's job id.
fn subject(event: &Value) -> Option<String> {
    if let Some(key) = event
        .pointer("/Records/0/s3/object/key")
        .and_then(Value::as_str)
    {
        let spaced = key.replace('+', " ");
        return Some(
            urlencoding::decode(&spaced)
                .map(|k| k.into_owned())
                .unwrap_or(spaced),
        );
    }
    event
        .pointer("/detail/jobId")
        .and_then(Value::as_str)
        .map(|id| format!("job {id}"))
}

/// Every record in the failures bucket, oldest first (Lambda's keys start with the date).
/// `Ok(None)` when the stack has no failures bucket (not up, or from before it had one).
pub async fn list(ctx: &StackContext) -> Result<Option<Vec<FailedDelivery>>, StepError> {
    let Some(keys) = record_keys(ctx).await? else {
        return Ok(None);
    };
    let bucket = ctx.name(crate::failures_bucket::ID);
    let mut all = Vec::with_capacity(keys.len());
    for key in keys {
        let object = ctx
            .clients
            .s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .found(Service::S3, || {
                format!("reading failed-delivery record s3://{bucket}/{key}")
            })?;
        // None: replayed (deleted) since it was listed.
        let Some(object) = object else {
            continue;
        };
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| StepError::with_source(format!("reading s3://{bucket}/{key}"), e))?;
        all.push(FailedDelivery::parse(&key, &body.into_bytes())?);
    }
    Ok(Some(all))
}

/// The records' keys, without reading them: what `status` counts.
pub async fn record_keys(ctx: &StackContext) -> Result<Option<Vec<String>>, StepError> {
    let bucket = ctx.name(crate::failures_bucket::ID);
    let mut pages = ctx
        .clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let Some(page) = page.found(Service::S3, || {
            format!("listing the failed deliveries in bucket {bucket}")
        })?
        else {
            return Ok(None);
        };
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(str::to_string),
        );
    }
    keys.sort();
    Ok(Some(keys))
}

/// Sends the failed event to the function again, asynchronously (Lambda answers 202 once it
/// has queued it; the function's retries and on-failure destination apply again), then
/// deletes the record. A record whose replay Lambda refused stays.
pub async fn replay(ctx: &StackContext, failed: &FailedDelivery) -> Result<(), StepError> {
    let function = arn::function(ctx, crate::converter_function::ID);
    let payload = serde_json::to_vec(&failed.event).expect("a JSON value serializes");
    ctx.clients
        .lambda
        .invoke()
        .function_name(&function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload))
        .send()
        .await
        .context(|| format!("invoking {function} with the event of {}", failed.record))?;
    let bucket = ctx.name(crate::failures_bucket::ID);
    ctx.clients
        .s3
        .delete_object()
        .bucket(bucket)
        .key(&failed.record)
        .send()
        .await
        .context(|| {
            format!(
                "deleting the replayed record s3://{bucket}/{}",
                failed.record
            )
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lambda's invocation record, as its documentation shows one (an S3 event inside).
    fn record(payload: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-12-07T14:00:00.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:cattube-converter:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "no template", "errorType": "NotFoundException"}
        }))
        .unwrap()
    }

    #[test]
    fn a_record_gives_the_key_the_error_and_the_event_to_replay() {
        let event = serde_json::json!({"Records": [{"s3": {"object": {"key": "cats/tabby+cat+%281%29.mp4"}}}]});
        let failed = FailedDelivery::parse("aws/lambda/async/x", &record(event.clone())).unwrap();
        assert_eq!(failed.subject.as_deref(), Some("cats/tabby cat (1).mp4"));
        assert_eq!(
            failed.error.as_deref(),
            Some("NotFoundException: no template")
        );
        assert_eq!(failed.attempts, Some(3));
        assert_eq!(
            failed.failed_at.as_deref(),
            Some("2026-12-07T14:00:00.000Z")
        );
        assert_eq!(failed.event, event);
    }

    #[test]
    fn a_job_event_is_named_by_its_job() {
        let event = serde_json::json!({"detail": {"jobId": "1712-abc", "status": "COMPLETE"}});
        let failed = FailedDelivery::parse("k", &record(event)).unwrap();
        assert_eq!(failed.subject.as_deref(), Some("job 1712-abc"));
    }

    #[test]
    fn a_record_without_its_event_is_refused_by_name() {
        let err = FailedDelivery::parse("k1", br#"{"version": "1.0"}"#).unwrap_err();
        assert!(err.to_string().contains("k1"), "{err}");
    }
}
