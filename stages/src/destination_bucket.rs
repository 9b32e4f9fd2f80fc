//! Stage 2: the destination bucket. MediaConvert writes the converted videos here and
//! CloudFront serves them from it (privately, through Origin Access Control).

use async_trait::async_trait;

use crate::naming::NameKind;

use crate::bucket::{self, BucketSpec};
use crate::step::{
    Applied, DestroyOptions, Destroyed, NameRule, Observation, Ownership, Recorded, Service, Spec,
    Step,
};
use crate::{StackContext, StepError};

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: "destination-bucket",
    stage: "2",
    depends_on: &[],
    name: Some(NameRule {
        kind: NameKind::Bucket,
        default: "{stack}-destination-{account}-{region}",
    }),
    outputs: &["destination_bucket"],
    service: Service::S3,
};

pub struct DestinationBucket;

const BUCKET: BucketSpec = BucketSpec {
    id: SPEC.id,
    output: "destination_bucket",
};

#[async_trait]
impl Step for DestinationBucket {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn kept_by(&self, options: &DestroyOptions) -> Option<String> {
        bucket::kept_by(options)
    }

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        bucket::observe(ctx, &BUCKET, recorded).await
    }

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        bucket::apply(ctx, &BUCKET, observation, ownership).await
    }

    async fn destroy(
        &self,
        ctx: &StackContext,
        _recorded: Option<&Recorded>,
        options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        bucket::destroy(ctx, &BUCKET, options).await
    }
}
