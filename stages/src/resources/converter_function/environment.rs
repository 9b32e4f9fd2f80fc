//! The function's environment: the only way cattube configures handler.py.

use std::collections::BTreeMap;

use crate::{arn, distribution, StackContext, StepError};

/// The function's environment: everything handler.py reads. `playback_domain`: the
/// distribution's, once there is one (the notifications' URLs; S3 locations without it).
pub fn environment(ctx: &StackContext, playback_domain: Option<&str>) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "DESTINATION_BUCKET".into(),
            ctx.name(crate::destination_bucket::ID).into(),
        ),
        (
            "JOB_TEMPLATE".into(),
            ctx.name(crate::job_template::ID).into(),
        ),
        ("QUEUE_ARN".into(), arn::queue(ctx, crate::queue::ID)),
        (
            "MEDIACONVERT_ROLE_ARN".into(),
            arn::role(ctx, crate::mediaconvert_role::ID),
        ),
        ("STACK".into(), ctx.stack.clone()),
    ])
    .into_iter()
    .chain(
        // `[notify] email`: where the function announces finished jobs.
        (!ctx.settings.notify_emails.is_empty()).then(|| {
            (
                TOPIC_ARN.to_string(),
                arn::topic(ctx, crate::notification_topic::ID),
            )
        }),
    )
    .chain(playback_domain.map(|domain| (PLAYBACK_DOMAIN.to_string(), domain.to_string())))
    .chain(
        // `[job]` limits: each set only when configured, so a stack without them keeps the
        // environment it had.
        [
            (MAX_UPLOAD_MB, ctx.settings.max_upload_mb),
            (MAX_DURATION_MIN, ctx.settings.max_duration_min),
            (
                MAX_OUTPUT_MINUTES_PER_DAY,
                ctx.settings.max_output_minutes_per_day,
            ),
        ]
        .into_iter()
        .filter_map(|(name, limit)| limit.map(|n| (name.to_string(), n.to_string()))),
    )
    .collect()
}

/// The environment variable carrying the notification topic to handler.py.
pub const TOPIC_ARN: &str = "TOPIC_ARN";

/// The environment variable carrying the distribution's domain to handler.py.
pub const PLAYBACK_DOMAIN: &str = "PLAYBACK_DOMAIN";

/// The domain for PLAYBACK_DOMAIN: the distribution's with `[notify]` (its messages carry
/// playback URLs), else none and no CloudFront call (nothing else in handler.py uses it).
pub(super) async fn playback_domain(ctx: &StackContext) -> Result<Option<String>, StepError> {
    if ctx.settings.notify_emails.is_empty() {
        return Ok(None);
    }
    distribution::domain(ctx).await
}

/// The environment variable carrying `[job] max-upload-mb` to handler.py.
pub const MAX_UPLOAD_MB: &str = "MAX_UPLOAD_MB";
/// The environment variable carrying `[job] max-duration-min` to handler.py.
pub const MAX_DURATION_MIN: &str = "MAX_DURATION_MIN";
/// The environment variable carrying `[job] max-output-minutes-per-day` to handler.py.
pub const MAX_OUTPUT_MINUTES_PER_DAY: &str = "MAX_OUTPUT_MINUTES_PER_DAY";
