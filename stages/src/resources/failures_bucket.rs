//! Stage 4, with the function: the bucket Lambda keeps a record of every asynchronous
//! invocation of the converter function that failed all its attempts (its on-failure
//! destination, [`crate::failure_destination`]): the event it was given, the error, the
//! attempts. `status` counts the records, `jobs` lists them, `jobs --retry-failed` replays
//! each and deletes it. Private and encrypted as both other buckets; `down` empties and
//! deletes it.

use crate::naming::{NameKind, ResourceId};
use crate::resources::bucket::{bucket_step, BucketSpec};
use crate::step::{NameRule, Service, Spec};

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "4",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::Bucket,
        default: "{stack}-failures-{account}-{region}",
    }),
    outputs: &["failures_bucket"],
    service: Service::S3,
    permissions: &crate::resources::bucket::permissions(ID),
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("failures-bucket");

pub struct FailuresBucket;

const BUCKET: BucketSpec = BucketSpec {
    id: SPEC.id,
    output: "failures_bucket",
};

bucket_step!(FailuresBucket, BUCKET, SPEC);
