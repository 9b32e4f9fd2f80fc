//! Stage 1: the source bucket. Uploads land here and trigger the converter function.

use async_trait::async_trait;

use crate::bucket::{self, BucketSpec};
use crate::step::{Applied, DestroyOptions, Destroyed, Observation, Ownership, Recorded, Step};
use crate::{StackContext, StepError};

pub struct SourceBucket;

const SPEC: BucketSpec = BucketSpec {
    id: "source-bucket",
    output: "source_bucket",
};

#[async_trait]
impl Step for SourceBucket {
    fn id(&self) -> &'static str {
        SPEC.id
    }
    fn stage(&self) -> &'static str {
        "1"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    fn kept_by(&self, options: &DestroyOptions) -> Option<String> {
        bucket::kept_by(options)
    }

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        bucket::observe(ctx, &SPEC, recorded).await
    }

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        bucket::apply(ctx, &SPEC, observation, ownership).await
    }

    async fn destroy(
        &self,
        ctx: &StackContext,
        _recorded: Option<&Recorded>,
        options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        bucket::destroy(ctx, &SPEC, options).await
    }
}
