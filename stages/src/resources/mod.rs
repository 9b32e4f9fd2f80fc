//! The stack's resources, one module per stage of the console tutorial, each a
//! [`crate::Step`] (observe -> apply -> destroy), and the shapes two of them share: a bucket
//! ([`bucket`]), an IAM role ([`iam_role`]), a Lambda invoke permission
//! ([`lambda_permission`], registered twice), and a rule by id in one of the source
//! bucket's rule lists ([`bucket_rule`]: its CORS and lifecycle rules).

pub(crate) mod bucket;
pub(crate) mod bucket_rule;
mod converter;
pub(crate) mod dns;
pub(crate) mod iam_role;
pub(crate) mod prelude;
mod signing_keys;

pub mod certificate;
pub mod converter_function;
pub mod converter_role;
pub mod destination_bucket;
pub mod destination_bucket_policy;
pub mod distribution;
pub mod domain_records;
pub mod failure_destination;
pub mod failures_bucket;
pub mod function_log_group;
pub mod job_events_rule;
pub mod job_template;
pub mod key_group;
pub mod lambda_permission;
pub mod mediaconvert_role;
pub mod notification_topic;
pub mod origin_access_control;
pub mod player_page;
pub mod public_keys;
pub mod queue;
pub mod signing_secret;
pub mod source_bucket;
pub mod source_cors;
pub mod source_lifecycle;
pub mod source_notification;
