//! Stage 1: the source bucket. Uploads land here and trigger the converter function.

use crate::naming::{NameKind, ResourceId};
use crate::resources::bucket::{bucket_step, BucketSpec};
use crate::step::{NameRule, Service, Spec};

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "1",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::Bucket,
        default: "{stack}-source-{account}-{region}",
    }),
    outputs: &["source_bucket"],
    service: Service::S3,
    permissions: &crate::resources::bucket::permissions(ID),
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("source-bucket");

pub struct SourceBucket;

const BUCKET: BucketSpec = BucketSpec {
    id: SPEC.id,
    output: "source_bucket",
};

bucket_step!(SourceBucket, BUCKET, SPEC);
