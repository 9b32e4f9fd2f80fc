//! Who uses an OAC: the account's distributions (whoever made them) and the OACs of their
//! origins, for the shared OAC's `down` and the quotas checked before a distribution is
//! created.

use super::lookup::by_name;
use super::SHARED_NAME;
use crate::{StackContext, StepError};

/// The distributions of the account `(id, the OAC ids of its origins)`, whoever made them.
async fn distributions(ctx: &StackContext) -> Result<Vec<(String, Vec<String>)>, StepError> {
    let all = crate::aws::all_distributions(&ctx.clients.cloudfront).await?;
    Ok(all
        .iter()
        .map(|summary| {
            let oacs = summary
                .origins()
                .map(|o| o.items())
                .unwrap_or_default()
                .iter()
                .filter_map(|origin| origin.origin_access_control_id())
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect();
            (summary.id().to_string(), oacs)
        })
        .collect())
}

/// The ids of the distributions whose origins use OAC `oac`.
pub(super) async fn users(ctx: &StackContext, oac: &str) -> Result<Vec<String>, StepError> {
    Ok(distributions(ctx)
        .await?
        .into_iter()
        .filter(|(_, oacs)| oacs.iter().any(|o| o == oac))
        .map(|(id, _)| id)
        .collect())
}

/// Refuses, before the stack's distribution is created, when one more would exceed the
/// account's distributions, or (shared) the distributions one OAC may serve.
pub(crate) async fn check_room_for_distribution(ctx: &StackContext) -> Result<(), StepError> {
    let all = distributions(ctx).await?;
    crate::quota::DISTRIBUTIONS
        .check(
            ctx,
            all.len() as u64,
            1,
            "creating the stack's distribution",
        )
        .await?;
    if !ctx.settings.shared_oac {
        return Ok(());
    }
    let Some(shared) = by_name(ctx, SHARED_NAME).await?.0 else {
        return Ok(());
    };
    let using = all
        .iter()
        .filter(|(_, oacs)| oacs.contains(&shared.id))
        .count();
    crate::quota::DISTRIBUTIONS_PER_ORIGIN_ACCESS_CONTROL
        .check(
            ctx,
            using as u64,
            1,
            &format!("attaching the stack's distribution to the shared OAC {SHARED_NAME}"),
        )
        .await
}
