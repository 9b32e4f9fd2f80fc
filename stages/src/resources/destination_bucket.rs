//! Stage 2: the destination bucket. MediaConvert writes the converted videos here and
//! CloudFront serves them from it (privately, through Origin Access Control).

use crate::naming::NameKind;
use crate::resources::bucket::{bucket_step, BucketSpec};
use crate::step::{NameRule, Service, Spec};

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: "destination-bucket",
    stage: "2",
    depends_on: &[],
    names: &[],
    name: Some(NameRule {
        kind: NameKind::Bucket,
        default: "{stack}-destination-{account}-{region}",
    }),
    outputs: &["destination_bucket"],
    service: Service::S3,
    permissions: &crate::resources::bucket::permissions("destination-bucket"),
};

pub struct DestinationBucket;

const BUCKET: BucketSpec = BucketSpec {
    id: SPEC.id,
    output: "destination_bucket",
};

bucket_step!(DestinationBucket, BUCKET, SPEC);
