//! Stage 5: the converter function's IAM role. It may read the stack's job template, submit
//! jobs to the stack's queue from that template, hand the MediaConvert role to MediaConvert
//! (`iam:PassRole` on that role only, with `iam:PassedToService`), and write its own log
//! group; nothing else. The tutorial attaches broad managed policies instead.

use serde_json::{json, Value};

use crate::iam_role::{role_step, RoleSpec};
use crate::{arn, StackContext};

pub struct ConverterRole;

impl RoleSpec for ConverterRole {
    const ID: &'static str = "converter-role";
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
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Logs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": arn::function_log_group(ctx)
                },
                {
                    "Sid": "ReadJobTemplate",
                    "Effect": "Allow",
                    "Action": "mediaconvert:GetJobTemplate",
                    "Resource": arn::job_template(ctx)
                },
                {
                    "Sid": "SubmitJobs",
                    "Effect": "Allow",
                    "Action": "mediaconvert:CreateJob",
                    "Resource": [arn::queue(ctx), arn::job_template(ctx)]
                },
                {
                    "Sid": "PassMediaConvertRole",
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": arn::role(ctx, "mediaconvert-role"),
                    "Condition": {
                        "StringEquals": { "iam:PassedToService": "mediaconvert.amazonaws.com" }
                    }
                }
            ]
        })
    }
}

role_step!(
    ConverterRole,
    ConverterRole,
    &["queue", "job-template", "mediaconvert-role"]
);
