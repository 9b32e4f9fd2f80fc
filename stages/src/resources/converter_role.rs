//! Stage 5: the converter function's IAM role. It may read the stack's job template, submit
//! jobs to the stack's queue from that template, hand the MediaConvert role to MediaConvert
//! (`iam:PassRole` on that role only, with `iam:PassedToService`), write its own log
//! group, and keep its per-upload claims under one prefix of the destination bucket; nothing
//! else. The tutorial attaches broad managed policies instead.

use serde_json::{json, Value};

use crate::naming::{NameKind, ResourceId};
use crate::resources::iam_role::{role_step, RoleSpec};
use crate::step::{NameRule, Service, Spec};
use crate::{arn, StackContext};

pub struct ConverterRole;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "5",
    // Only names (IAM does not look up an inline policy's `Resource` ARNs, `iam:PassRole`'s
    // included): written beside everything it names, so Lambda can assume it sooner.
    depends_on: &[],
    names: &[
        crate::queue::ID,
        crate::job_template::ID,
        crate::mediaconvert_role::ID,
        crate::destination_bucket::ID,
        super::converter::FUNCTION,
        crate::failures_bucket::ID,
        // The `[job]` limits read and tag uploads.
        crate::source_bucket::ID,
    ],
    name: Some(NameRule {
        kind: NameKind::IamRole,
        default: "{stack}-{region}-converter",
    }),
    outputs: &[],
    service: Service::Iam,
    permissions: &crate::resources::iam_role::permissions(ID),
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = super::converter::ROLE;

/// Where the converter function keeps its claims, in the destination bucket: the same
/// prefix as `CLAIM_PREFIX` in handler.py (a test below checks).
pub const CLAIM_PREFIX: &str = "_cattube/claims/";

/// The claim objects, as IAM names them.
pub fn claims_arn(ctx: &StackContext) -> String {
    format!(
        "{}/{CLAIM_PREFIX}*",
        arn::bucket(ctx, crate::destination_bucket::ID)
    )
}

/// Where the converter function counts the day's output minutes (`[job]
/// max-output-minutes-per-day`), in the destination bucket: the same prefix as
/// `USAGE_PREFIX` in handler.py (a test below checks).
pub const USAGE_PREFIX: &str = "_cattube/usage/";

/// The tag the converter function puts on an upload it rejects: `REJECTED_TAG` in handler.py.
pub const REJECTED_TAG: &str = "cattube:rejected";

/// The catalog's key in the destination bucket: the same as `CATALOG_KEY` in handler.py.
pub const CATALOG_KEY: &str = "catalog.json";

/// The catalog object, as IAM names it.
pub fn catalog_arn(ctx: &StackContext) -> String {
    format!(
        "{}/{CATALOG_KEY}",
        arn::bucket(ctx, crate::destination_bucket::ID)
    )
}

impl RoleSpec for ConverterRole {
    const ID: ResourceId = ID;
    const DESCRIPTION: &'static str =
        "cattube: the converter function submits MediaConvert jobs and writes its logs";

    fn trust(_ctx: &StackContext) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "lambda.amazonaws.com" },
                "Action": "sts:AssumeRole"
            }]
        })
    }

    fn policy(ctx: &StackContext) -> Value {
        let mut policy = json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    // The group itself is the stack's (function-log-group), made before the
                    // function: Lambda needs no CreateLogGroup, so none is granted.
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": arn::function_log_group(ctx, super::converter::FUNCTION)
                },
                {
                    "Sid": "ReadJobTemplate",
                    "Effect": "Allow",
                    "Action": "mediaconvert:GetJobTemplate",
                    "Resource": arn::job_template(ctx, crate::job_template::ID)
                },
                {
                    "Sid": "SubmitJobs",
                    "Effect": "Allow",
                    "Action": "mediaconvert:CreateJob",
                    "Resource": [arn::queue(ctx, crate::queue::ID), arn::job_template(ctx, crate::job_template::ID)]
                },
                {
                    // The claims that make one job per upload (lambda-artifact/README.md):
                    // created, read and replaced (a release too) under the claim prefix only.
                    "Sid": "UploadClaims",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": claims_arn(ctx)
                },
                {
                    // A takeover first looks for the job an earlier attempt made (its
                    // claim token in the job's UserMetadata), in the stack's queue only.
                    "Sid": "FindEarlierJobs",
                    "Effect": "Allow",
                    "Action": "mediaconvert:ListJobs",
                    "Resource": arn::queue(ctx, crate::queue::ID)
                },
                {
                    // A finished job's own settings: the catalog's codecs strings.
                    "Sid": "ReadJobs",
                    "Effect": "Allow",
                    "Action": "mediaconvert:GetJob",
                    "Resource": format!(
                        "arn:{}:mediaconvert:{}:{}:jobs/*",
                        ctx.partition(),
                        ctx.region,
                        ctx.account
                    )
                },
                {
                    // The catalog (catalog.json at the destination's root), that one key.
                    "Sid": "Catalog",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": catalog_arn(ctx)
                },
                {
                    // Lambda writes the record of an invocation that failed every attempt
                    // to the function's on-failure destination as this role; it needs
                    // both actions for an S3 bucket (Lambda's destination permissions).
                    "Sid": "RecordFailedInvocations",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": format!("{}/*", arn::bucket(ctx, crate::failures_bucket::ID))
                },
                {
                    "Sid": "ListFailedInvocations",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": arn::bucket(ctx, crate::failures_bucket::ID)
                },
                {
                    "Sid": "PassMediaConvertRole",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": arn::role(ctx, crate::mediaconvert_role::ID),
                    "Condition": {
                        "StringEquals": { "iam:PassedToService": "mediaconvert.amazonaws.com" }
                    }
                }
            ]
        });
        let statements = policy["Statement"].as_array_mut().expect("statements");
        // `[notify] email`: one message per finished job, to the stack's topic only.
        if !ctx.settings.notify_emails.is_empty() {
            statements.push(json!({
                "Sid": "NotifyJobs",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": arn::topic(ctx, crate::notification_topic::ID)
            }));
        }
        statements.extend(limit_statements(ctx));
        policy
    }
}

/// What the `[job]` limits need, only when they are set: tag a rejected upload (its own tags
/// read first and kept); time an upload (MediaConvert's Probe, which names no resource and
/// reads the file as the caller, and the ranged GetObject of its header when Probe cannot);
/// count the day's output minutes (one object per day, under its prefix only).
fn limit_statements(ctx: &StackContext) -> Vec<Value> {
    let settings = &ctx.settings;
    let uploads = format!("{}/*", arn::bucket(ctx, crate::source_bucket::ID));
    let mut statements = Vec::new();
    if settings.limits_uploads() {
        statements.push(json!({
            "Sid": "TagRejectedUploads",
            "Effect": "Allow",
            "Action": ["s3:GetObjectTagging", "s3:PutObjectTagging"],
            "Resource": uploads
        }));
    }
    if settings.times_uploads() {
        statements.push(json!({
            "Sid": "TimeUploads",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": uploads
        }));
        statements.push(json!({
            // Probe has no resource type (Service Authorization Reference): "*" is the only form.
            "Sid": "ProbeUploads",
            "Effect": "Allow",
            "Action": "mediaconvert:Probe",
            "Resource": "*"
        }));
    }
    if settings.max_output_minutes_per_day.is_some() {
        statements.push(json!({
            "Sid": "CountDailyOutputMinutes",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": format!("{}/{USAGE_PREFIX}*", arn::bucket(ctx, crate::destination_bucket::ID))
        }));
    }
    statements
}

/// The setting a statement that not every stack has comes with, for the README's list.
fn only_with(sid: &str) -> Option<&'static str> {
    match sid {
        "NotifyJobs" => Some("`[notify] email`"),
        "TagRejectedUploads" => Some("a `[job]` limit"),
        "TimeUploads" | "ProbeUploads" => {
            Some("`[job] max-duration-min` or `max-output-minutes-per-day`")
        }
        "CountDailyOutputMinutes" => Some("`[job] max-output-minutes-per-day`"),
        _ => None,
    }
}

role_step!(ConverterRole, ConverterRole, SPEC);

/// The role's inline policy for this stack (what `up` writes as `cattube`).
pub fn policy(ctx: &StackContext) -> Value {
    <ConverterRole as RoleSpec>::policy(ctx)
}

/// The role's allowed actions as the README lists them ("Least privilege"), one line per
/// statement: generated from [`policy`], so the list cannot fall behind the code (a test in
/// `stages/tests/docs.rs` compares the README's marked block with it). `ctx` names each
/// resource by a placeholder; `with_notify`: the same stack with `[notify] email` and every
/// `[job]` limit, whose extra statements are marked as such.
pub fn least_privilege_lines(ctx: &StackContext, with_notify: &StackContext) -> String {
    let plain = policy(ctx);
    let statements = |policy: &Value| policy["Statement"].as_array().cloned().unwrap_or_default();
    let base = statements(&plain);
    let listed = |v: &Value| match v {
        Value::Array(items) => items
            .iter()
            .map(|i| format!("`{}`", i.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", "),
        other => format!("`{}`", other.as_str().unwrap_or_default()),
    };
    let mut out = String::new();
    for statement in statements(&policy(with_notify)) {
        let mut line = format!(
            "  - {} on {}",
            listed(&statement["Action"]),
            listed(&statement["Resource"])
        );
        if let Some(conditions) = statement["Condition"].as_object() {
            for (operator, pairs) in conditions {
                for (key, value) in pairs.as_object().into_iter().flatten() {
                    line.push_str(&format!(
                        ", when `{key}` {operator} `{}`",
                        value.as_str().unwrap_or_default()
                    ));
                }
            }
        }
        if !base.contains(&statement) {
            let sid = statement["Sid"].as_str().unwrap_or_default();
            line.push_str(&format!(
                " (only with {})",
                only_with(sid).unwrap_or("an option")
            ));
        }
        line.push_str(";\n");
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::CLAIM_PREFIX;

    #[test]
    fn the_catalog_key_is_the_handlers() {
        let handler = include_str!("../../../lambda-artifact/handler.py");
        assert!(
            handler.contains(&format!("\nCATALOG_KEY = \"{}\"\n", super::CATALOG_KEY)),
            "handler.py must set CATALOG_KEY"
        );
    }

    #[test]
    fn the_usage_prefix_and_rejected_tag_are_the_handlers() {
        let handler = include_str!("../../../lambda-artifact/handler.py");
        for (name, value) in [
            ("USAGE_PREFIX", super::USAGE_PREFIX),
            ("REJECTED_TAG", super::REJECTED_TAG),
        ] {
            assert!(
                handler.contains(&format!("\n{name} = \"{value}\"\n")),
                "handler.py must set {name} = \"{value}\""
            );
        }
    }

    #[test]
    fn the_claim_prefix_is_the_handlers() {
        let handler = include_str!("../../../lambda-artifact/handler.py");
        assert!(
            handler.contains(&format!("\nCLAIM_PREFIX = \"{CLAIM_PREFIX}\"\n")),
            "handler.py must set CLAIM_PREFIX = \"{CLAIM_PREFIX}\""
        );
    }
}
