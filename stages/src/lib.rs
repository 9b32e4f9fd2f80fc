//! cattube's resources, one module per stage of the console tutorial.
//!
//! Every resource is a [`Step`]: `observe` (read-only: what exists and how it differs from
//! what is wanted), `apply` (create or converge, safe to repeat) and `destroy` (safe to
//! repeat, "not found" is success). The CLI walks [`all_steps`] as a dependency graph and
//! knows nothing about the AWS APIs behind them.

pub mod arn;
pub mod artifact;
pub mod aws;
pub mod context;
pub mod cost;
pub mod error;
pub mod naming;
pub mod policy;
pub mod regions;
pub mod retry;
pub mod step;
pub mod videos;

mod bucket;
mod iam_role;

pub mod converter_function;
pub mod converter_role;
pub mod destination_bucket;
pub mod destination_bucket_policy;
pub mod distribution;
pub mod invoke_permission;
pub mod job_template;
pub mod mediaconvert_role;
pub mod origin_access_control;
pub mod queue;
pub mod source_bucket;
pub mod source_notification;

pub use context::{Clients, FunctionSettings, JobFile, ProgressHook, Settings, StackContext};
pub use error::StepError;
pub use step::{Applied, Destroyed, Drift, Observation, Ownership, Present, Recorded, Step};

/// The stack's resources in the tutorial's order, which is also a valid dependency order.
pub fn all_steps() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(source_bucket::SourceBucket),
        Box::new(destination_bucket::DestinationBucket),
        Box::new(queue::Queue),
        Box::new(job_template::JobTemplate),
        Box::new(mediaconvert_role::MediaConvertRole),
        Box::new(converter_role::ConverterRole),
        Box::new(converter_function::ConverterFunction),
        Box::new(origin_access_control::OriginAccessControl),
        Box::new(distribution::Distribution),
        Box::new(destination_bucket_policy::DestinationBucketPolicy),
        Box::new(invoke_permission::InvokePermission),
        Box::new(source_notification::SourceNotification),
    ]
}
