//! cattube's resources, one module per stage of the console tutorial.
//!
//! Every resource is a [`Step`]: `observe` (read-only: what exists and how it differs from
//! what is wanted), `apply` (create or converge, safe to repeat) and `destroy` (safe to
//! repeat, "not found" is success). The CLI walks [`all_steps`] as a dependency graph and
//! knows nothing about the AWS APIs behind them.

pub mod arn;
pub mod artifact;
pub mod aws;
pub mod catalog;
pub mod context;
pub mod cost;
pub mod error;
pub mod naming;
pub mod original;
pub mod permissions;
pub mod policy;
pub mod regions;
pub mod remote_state;
pub mod retry;
pub mod stacks;
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
pub mod job_events_permission;
pub mod job_events_rule;
pub mod job_template;
pub mod mediaconvert_role;
pub mod notification_topic;
pub mod origin_access_control;
pub mod player_page;
pub mod queue;
pub mod source_bucket;
pub mod source_notification;

pub use context::{Clients, Fact, FunctionSettings, JobFile, ProgressHook, Settings, StackContext};
pub use error::StepError;
pub use step::{
    Applied, Destroyed, Drift, Found, NameRule, Observation, Ownership, Present, Recorded, Service,
    Spec, Step,
};

/// The registry: every resource of the stack, one line each. Order does not matter (the
/// graph sorts by `depends_on`); the tutorial's order is kept for the reader. Everything
/// else (names, `[names]` keys, the JSON outputs, the tests' leak checks) derives from it.
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
        Box::new(player_page::PlayerPage),
        Box::new(job_events_rule::JobEventsRule),
        Box::new(job_events_permission::JobEventsPermission),
        Box::new(notification_topic::NotificationTopic),
    ]
}

/// The JSON document's `outputs` keys, in registry order, derived from the specs.
pub fn output_keys() -> Vec<&'static str> {
    output_keys_in(&all_steps())
}

/// [`output_keys`] of any list of steps.
pub fn output_keys_in(steps: &[Box<dyn Step>]) -> Vec<&'static str> {
    steps
        .iter()
        .flat_map(|step| step.spec().outputs.iter().copied())
        .collect()
}
