//! cattube's resources, one module per stage of the console tutorial.
//!
//! Every resource is a [`Step`]: `observe` (read-only: what exists and how it differs from
//! what is wanted), `apply` (create or converge, safe to repeat) and `destroy` (safe to
//! repeat, "not found" is success). The CLI walks [`all_steps`] as a dependency graph and
//! knows nothing about the AWS APIs behind them.

pub mod aws;
pub mod context;
pub mod error;
pub mod naming;
pub mod policy;
pub mod step;

mod bucket;
pub mod destination_bucket;
pub mod destination_bucket_policy;
pub mod distribution;
pub mod origin_access_control;
pub mod source_bucket;

pub use context::{Clients, FunctionSettings, ProgressHook, Settings, StackContext};
pub use error::StepError;
pub use step::{Applied, Destroyed, Drift, Observation, Ownership, Present, Recorded, Step};

/// The stack's resources in the tutorial's order, which is also a valid dependency order.
pub fn all_steps() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(source_bucket::SourceBucket),
        Box::new(destination_bucket::DestinationBucket),
        Box::new(origin_access_control::OriginAccessControl),
        Box::new(distribution::Distribution),
        Box::new(destination_bucket_policy::DestinationBucketPolicy),
    ]
}
