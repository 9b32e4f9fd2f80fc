//! cattube's resources, one module per stage of the console tutorial.
//!
//! Every resource is a [`Step`]: `observe` (read-only: what exists and how it differs from
//! what is wanted), `apply` (create or converge, safe to repeat) and `destroy` (safe to
//! repeat, "not found" is success). The CLI walks the [`Registry`] as a dependency graph and
//! knows nothing about the AWS APIs behind them.

// The kernel: the step contract and what every step uses.
pub mod arn;
pub mod artifact;
pub mod aws;
pub mod context;
pub mod drift;
pub mod error;
pub mod grant;
pub mod naming;
pub mod original;
pub mod policy;
pub mod quota;
pub mod recorded;
pub mod regions;
pub mod registry;
pub mod retry;
pub mod signing;
pub mod step;

pub mod resources;

// Above the registry: the commands' own operations and their policy.
pub mod operations;
pub mod permissions;

pub use operations::{
    catalog, cost, failures, remote_state, signed, stacks, tutorial, upload_grant, videos,
};
pub use resources::{
    certificate, converter_function, converter_role, destination_bucket, destination_bucket_policy,
    distribution, domain_records, failure_destination, failures_bucket, function_log_group,
    job_events_rule, job_template, key_group, lambda_permission, mediaconvert_role,
    notification_topic, origin_access_control, player_page, public_keys, queue, signing_secret,
    source_bucket, source_cors, source_lifecycle, source_notification,
};

pub use context::{
    Clients, DomainSettings, Fact, FunctionSettings, JobFile, ProgressHook, Settings, StackContext,
};
pub use error::StepError;
pub use naming::ResourceId;
pub use registry::Registry;
pub use step::{
    Applied, ApplyContext, DestroyContext, Destroyed, Drift, Found, NameRule, Observation,
    ObserveContext, Ownership, Present, Recorded, Service, Spec, Step, StepResult,
};
