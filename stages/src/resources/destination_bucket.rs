//! Stage 2: the destination bucket. MediaConvert writes the converted videos here and
//! CloudFront serves them from it (privately, through Origin Access Control).

use crate::naming::{NameKind, ResourceId};
use crate::resources::bucket::{bucket_step, BucketSpec};
use crate::step::{NameRule, Service, Spec};

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "2",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::Bucket,
        default: "{stack}-destination-{account}-{region}",
    }),
    outputs: &["destination_bucket"],
    service: Service::S3,
    permissions: &crate::resources::bucket::permissions(ID),
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("destination-bucket");

pub struct DestinationBucket;

const BUCKET: BucketSpec = BucketSpec {
    id: SPEC.id,
    output: "destination_bucket",
};

bucket_step!(DestinationBucket, BUCKET, SPEC);
