//! Stage 5: the IAM role MediaConvert assumes to run the stack's jobs. It may read uploads
//! from the source bucket and write outputs to the destination bucket, nothing else; only
//! MediaConvert may assume it, for this account's queue (`aws:SourceAccount`,
//! `aws:SourceArn`: the confused-deputy guard the MediaConvert user guide recommends).

use serde_json::{json, Value};

use crate::naming::{NameKind, ResourceId};
use crate::resources::iam_role::{role_step, RoleSpec};
use crate::step::{NameRule, Service, Spec};
use crate::{arn, StackContext};

pub struct MediaConvertRole;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "5",
    // IAM checks an identity policy's grammar, not that its `Resource` ARNs exist, and a
    // trust policy's service principal and `aws:SourceArn` condition are not looked up
    // either: the role is written right after the account is known, beside the buckets and
    // the queue it names, so IAM's propagation starts as early as it can.
    depends_on: &[],
    names: &[
        crate::source_bucket::ID,
        crate::destination_bucket::ID,
        crate::queue::ID,
    ],
    name: Some(NameRule {
        kind: NameKind::IamRole,
        default: "{stack}-{region}-mediaconvert",
    }),
    outputs: &[],
    service: Service::Iam,
    permissions: &crate::resources::iam_role::permissions(ID),
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("mediaconvert-role");

impl RoleSpec for MediaConvertRole {
    const ID: ResourceId = ID;
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
                    "ArnLike": { "aws:SourceArn": arn::queue(ctx, crate::queue::ID) }
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
                    "Resource": format!("{}/*", arn::bucket(ctx, crate::source_bucket::ID))
                },
                {
                    "Sid": "WriteOutputs",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": format!("{}/*", arn::bucket(ctx, crate::destination_bucket::ID))
                }
            ]
        })
    }
}

role_step!(MediaConvertRole, MediaConvertRole, SPEC);
