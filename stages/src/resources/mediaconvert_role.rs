//! Stage 5: the IAM role MediaConvert assumes to run the stack's jobs. It may read uploads
//! from the source bucket and write outputs to the destination bucket, nothing else; only
//! MediaConvert may assume it, for this account's queue (`aws:SourceAccount`,
//! `aws:SourceArn`: the confused-deputy guard the MediaConvert user guide recommends).

use serde_json::{json, Value};

use crate::naming::NameKind;
use crate::resources::iam_role::{role_step, RoleSpec};
use crate::step::{NameRule, Service, Spec};
use crate::{arn, StackContext};

pub struct MediaConvertRole;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: "mediaconvert-role",
    stage: "5",
    // IAM checks an identity policy's grammar, not that its `Resource` ARNs exist, and a
    // trust policy's service principal and `aws:SourceArn` condition are not looked up
    // either: the role is written right after the account is known, beside the buckets and
    // the queue it names, so IAM's propagation starts as early as it can.
    depends_on: &[],
    names: &["source-bucket", "destination-bucket", "queue"],
    name: Some(NameRule {
        kind: NameKind::IamRole,
        default: "{stack}-{region}-mediaconvert",
    }),
    outputs: &[],
    service: Service::Iam,
    permissions: &crate::resources::iam_role::permissions("mediaconvert-role"),
};

impl RoleSpec for MediaConvertRole {
    const ID: &'static str = SPEC.id;
    const DESCRIPTION: &'static str =
        "cattube: MediaConvert reads the source bucket and writes the destination bucket";

    fn trust(ctx: &StackContext) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "mediaconvert.amazonaws.com" },
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": { "aws:SourceAccount": ctx.account },
                    "ArnLike": { "aws:SourceArn": arn::queue(ctx) }
                }
            }]
        })
    }

    fn policy(ctx: &StackContext) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadUploads",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": format!("{}/*", arn::bucket(ctx, "source-bucket"))
                },
                {
                    "Sid": "WriteOutputs",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": format!("{}/*", arn::bucket(ctx, "destination-bucket"))
                }
            ]
        })
    }
}

role_step!(MediaConvertRole, MediaConvertRole, SPEC);
