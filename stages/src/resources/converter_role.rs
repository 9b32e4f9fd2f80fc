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
    ],
    name: Some(NameRule {
        kind: NameKind::IamRole,
        default: "{stack}-{region}-converter",
    }),
    outputs: &[],
    service: Service::Iam,
    permissions: &crate::resources::iam_role::permissions(ID),
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
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
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
        // `[notify] email`: one message per finished job, to the stack's topic only.
        if !ctx.settings.notify_emails.is_empty() {
            policy["Statement"]
                .as_array_mut()
                .expect("statements")
                .push(json!({
                    "Sid": "NotifyJobs",
                    "Effect": "Allow",
                    "Action": "sns:Publish",
                    "Resource": arn::topic(ctx, crate::notification_topic::ID)
                }));
        }
        policy
    }
}

role_step!(ConverterRole, ConverterRole, SPEC);

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
    fn the_claim_prefix_is_the_handlers() {
        let handler = include_str!("../../../lambda-artifact/handler.py");
        assert!(
            handler.contains(&format!("\nCLAIM_PREFIX = \"{CLAIM_PREFIX}\"\n")),
            "handler.py must set CLAIM_PREFIX = \"{CLAIM_PREFIX}\""
        );
    }
}
