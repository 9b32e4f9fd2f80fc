//! The stack's resources, one module per stage of the console tutorial, each a
//! [`crate::Step`] (observe -> apply -> destroy), and the shapes two of them share: a bucket
//! ([`bucket`]), an IAM role ([`iam_role`]), a Lambda invoke permission
//! ([`lambda_permission`], registered twice).

pub(crate) mod bucket;
mod converter;
pub(crate) mod dns;
pub(crate) mod iam_role;

pub mod certificate;
pub mod converter_function;
pub mod converter_role;
pub mod destination_bucket;
pub mod destination_bucket_policy;
pub mod distribution;
pub mod failure_destination;
pub mod failures_bucket;
pub mod function_log_group;
pub mod domain_records;
pub mod job_events_rule;
pub mod job_template;
pub mod lambda_permission;
pub mod mediaconvert_role;
pub mod notification_topic;
pub mod origin_access_control;
pub mod player_page;
pub mod queue;
pub mod source_bucket;
pub mod source_notification;
