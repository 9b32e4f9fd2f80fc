//! ARNs derived from the deterministic names, so a step never has to look up another
//! resource to know what to point at (a converged `up` stays one round of reads).

pub use crate::context::last_segment;
use crate::naming::ResourceId;
use crate::StackContext;

pub fn bucket(ctx: &StackContext, id: ResourceId) -> String {
    format!("arn:{}:s3:::{}", ctx.partition(), ctx.name(id))
}

pub fn queue(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:mediaconvert:{}:{}:queues/{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

pub fn job_template(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:mediaconvert:{}:{}:jobTemplates/{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

/// The role of resource `id` (`mediaconvert-role`, `converter-role`).
pub fn role(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:iam::{}:role/{}",
        ctx.partition(),
        ctx.account,
        ctx.name(id)
    )
}

pub fn function(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:lambda:{}:{}:function:{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

/// The function's own log group, as CloudWatch Logs' tagging calls name it.
pub fn log_group(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:/aws/lambda/{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

/// The function's own log group (and its streams), as IAM policies name it.
pub fn function_log_group(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:/aws/lambda/{}:*",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

/// The EventBridge rule of resource `id` on the default bus.
pub fn rule(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:events:{}:{}:rule/{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

/// The SNS topic of resource `id`.
pub fn topic(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:sns:{}:{}:{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}

/// The secret of resource `id`, without the six random characters Secrets Manager appends.
pub fn secret_prefix(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "arn:{}:secretsmanager:{}:{}:secret:{}",
        ctx.partition(),
        ctx.region,
        ctx.account,
        ctx.name(id)
    )
}
