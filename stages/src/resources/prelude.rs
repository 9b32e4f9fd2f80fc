//! What every resource module uses, imported at once (`use crate::resources::prelude::*`):
//! the step contract and its registry entry's vocabulary, the one form an AWS answer is
//! read in, and the stack's context.

pub(crate) use async_trait::async_trait;

pub(crate) use crate::error::{AwsContext, AwsError, AwsFound};
pub(crate) use crate::grant::{Grant, Target};
pub(crate) use crate::naming::{NameKind, ResourceId};
pub(crate) use crate::step::{
    Applied, ApplyContext, DestroyContext, DestroyOptions, Destroyed, Drift, Found, NameRule,
    Observation, ObserveContext, Ownership, Present, Recorded, Service, Spec, Step, StepResult,
};
pub(crate) use crate::{arn, StackContext, StepError};
