//! The vocabulary of least privilege: which phase of a step makes a call ([`Phase`]), on
//! what ([`Target`], resolved to an ARN for one stack) and which actions ([`Grant`]). Each
//! resource's `Spec::permissions` is a list of grants; [`crate::permissions`] turns the
//! registry's and the commands' grants into one identity policy.

use crate::naming::ResourceId;
use crate::{arn, StackContext};

/// Which of a step's methods makes the calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Observe,
    Apply,
    Destroy,
}

/// What a group of actions is allowed on, resolved to an ARN for one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The bucket of resource `id` (`source-bucket`, `destination-bucket`).
    Bucket(ResourceId),
    /// Every object of that bucket.
    Objects(ResourceId),
    /// The role of resource `id`.
    Role(ResourceId),
    Function(ResourceId),
    Queue(ResourceId),
    JobTemplate(ResourceId),
    /// The queue's jobs: their ids are MediaConvert's, so every job of the account and region.
    Jobs,
    /// CloudFront generates the ids: every distribution of the account.
    Distributions,
    /// Every origin access control of the account (generated ids too).
    OriginAccessControls,
    /// The EventBridge rule of resource `id`.
    Rule(ResourceId),
    /// The SNS topic of resource `id`.
    Topic(ResourceId),
    /// The log group of function `id` (`/aws/lambda/<function>`).
    LogGroup(ResourceId),
    /// Every IAM role of the account: roles cattube knows only at run time, from another
    /// resource (the role the console made for an adopted function, whatever its name and
    /// path).
    Roles,
    /// Every ACM certificate of the account in us-east-1 (ACM generates the ids).
    Certificates,
    /// Every Route 53 hosted zone of the account (the zone is the user's, found at run time).
    HostedZones,
    /// Route 53's change ids (`GetChange`).
    DnsChanges,
    /// The Secrets Manager secret of resource `id` (its ARN ends in six random characters).
    Secret(ResourceId),
    /// Actions that take no resource type (AWS accepts only `*`).
    Any,
}

impl Target {
    pub fn arn(self, ctx: &StackContext) -> String {
        let (partition, region, account) = (ctx.partition(), &ctx.region, &ctx.account);
        match self {
            Target::Bucket(id) => arn::bucket(ctx, id),
            Target::Objects(id) => format!("{}/*", arn::bucket(ctx, id)),
            Target::Role(id) => arn::role(ctx, id),
            Target::Function(id) => arn::function(ctx, id),
            Target::Queue(id) => arn::queue(ctx, id),
            Target::JobTemplate(id) => arn::job_template(ctx, id),
            Target::Jobs => format!("arn:{partition}:mediaconvert:{region}:{account}:jobs/*"),
            Target::Distributions => {
                format!("arn:{partition}:cloudfront::{account}:distribution/*")
            }
            Target::OriginAccessControls => {
                format!("arn:{partition}:cloudfront::{account}:origin-access-control/*")
            }
            Target::Rule(id) => arn::rule(ctx, id),
            Target::Topic(id) => arn::topic(ctx, id),
            Target::LogGroup(id) => arn::log_group(ctx, id),
            Target::Roles => format!("arn:{partition}:iam::{account}:role/*"),
            Target::Certificates => format!(
                "arn:{partition}:acm:{}:{account}:certificate/*",
                crate::aws::ACM_REGION
            ),
            Target::HostedZones => format!("arn:{partition}:route53:::hostedzone/*"),
            Target::DnsChanges => format!("arn:{partition}:route53:::change/*"),
            Target::Secret(id) => format!("{}-??????", arn::secret_prefix(ctx, id)),
            Target::Any => "*".into(),
        }
    }
}

/// Actions one phase of a step (or one command) uses on one target.
#[derive(Clone, Copy, Debug)]
pub struct Grant {
    pub phase: Phase,
    pub actions: &'static [&'static str],
    pub on: Target,
    /// `StringEquals` this condition key to this value, narrowing the grant further.
    pub only_if: Option<(&'static str, &'static str)>,
}

impl Grant {
    pub const fn new(phase: Phase, actions: &'static [&'static str], on: Target) -> Grant {
        Grant {
            phase,
            actions,
            on,
            only_if: None,
        }
    }

    /// A grant of `observe` (read only), one line in a `SPEC`.
    pub const fn observe(actions: &'static [&'static str], on: Target) -> Grant {
        Grant::new(Phase::Observe, actions, on)
    }

    /// A grant of `apply`.
    pub const fn apply(actions: &'static [&'static str], on: Target) -> Grant {
        Grant::new(Phase::Apply, actions, on)
    }

    /// A grant of `destroy`.
    pub const fn destroy(actions: &'static [&'static str], on: Target) -> Grant {
        Grant::new(Phase::Destroy, actions, on)
    }

    pub const fn only_if(self, key: &'static str, value: &'static str) -> Grant {
        Grant {
            only_if: Some((key, value)),
            ..self
        }
    }
}
