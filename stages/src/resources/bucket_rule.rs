//! The shape two resources share: one rule, by id, inside a configuration of the source
//! bucket that S3 replaces whole on every write (its CORS rules, its lifecycle rules). The
//! other rules are someone else's: every write reads the live list, replaces only the rule
//! with cattube's id, and writes the rest back as it was; removing the last rule deletes the
//! configuration. A rule carries no tags: its id is in cattube's namespace.

use crate::resources::prelude::*;
use crate::{source_bucket, Settings};

/// One kind of rule list: how to read and write it, and the rule cattube wants in it.
#[async_trait]
pub(crate) trait BucketRules: Send + Sync {
    type Rule: Clone + Send + Sync;
    /// The registry entry of the resource the rule is.
    const SPEC: Spec;
    /// The rule's id in the list.
    const RULE_ID: &'static str;
    /// What the list is, for messages ("CORS", "lifecycle").
    const WHAT: &'static str;

    fn rule_id(rule: &Self::Rule) -> Option<&str>;
    fn wanted(ctx: &StackContext) -> Self::Rule;
    /// How `live` differs from the wanted rule, in words (empty: it does not).
    fn differences(ctx: &StackContext, live: &Self::Rule) -> Vec<String>;
    /// The line `up` reports when it writes the rule.
    fn change(ctx: &StackContext) -> String;
    fn wanted_by(_settings: &Settings) -> bool {
        true
    }
    fn unwanted_reason() -> &'static str {
        "not configured"
    }

    /// The live list (empty: no configuration); `None` when the bucket is gone.
    async fn read(ctx: &StackContext, bucket: &str) -> Result<Option<Vec<Self::Rule>>, StepError>;
    async fn put(ctx: &StackContext, bucket: &str, rules: Vec<Self::Rule>)
        -> Result<(), StepError>;
    async fn delete(ctx: &StackContext, bucket: &str) -> Result<(), StepError>;
}

/// The resource a [`BucketRules`] rule is.
pub struct RuleStep<K>(pub K);

const DRIFT_RULE: &str = "rule";

fn rule_arn<K: BucketRules>(ctx: &StackContext) -> String {
    format!(
        "{}#{}/{}",
        arn::bucket(ctx, source_bucket::ID),
        K::WHAT.to_ascii_lowercase(),
        K::RULE_ID
    )
}

/// Writes the others' rules and `ours`; with none left, deletes the configuration.
async fn write<K: BucketRules>(
    ctx: &StackContext,
    live: Vec<K::Rule>,
    ours: Option<K::Rule>,
) -> Result<(), StepError> {
    let bucket = ctx.name(source_bucket::ID);
    let mut rules: Vec<K::Rule> = live
        .into_iter()
        .filter(|r| K::rule_id(r) != Some(K::RULE_ID))
        .collect();
    rules.extend(ours);
    if rules.is_empty() {
        K::delete(ctx, bucket).await
    } else {
        K::put(ctx, bucket, rules).await
    }
}

#[async_trait]
impl<K: BucketRules + 'static> Step for RuleStep<K> {
    fn spec(&self) -> &'static Spec {
        &K::SPEC
    }

    fn shown_name(&self, _ctx: &StackContext) -> String {
        K::RULE_ID.into()
    }

    fn wanted(&self, settings: &Settings) -> bool {
        K::wanted_by(settings)
    }

    fn unwanted_reason(&self) -> &'static str {
        K::unwanted_reason()
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let bucket = ctx.name(source_bucket::ID);
        let Some(live) = K::read(ctx, bucket).await? else {
            return Ok(Observation::Missing);
        };
        let Some(ours) = live.iter().find(|r| K::rule_id(r) == Some(K::RULE_ID)) else {
            return Ok(Observation::Missing);
        };
        let problems = K::differences(ctx, ours);
        let drift = if problems.is_empty() {
            Vec::new()
        } else {
            vec![Drift::new(DRIFT_RULE, problems.join("; "))]
        };
        Ok(Observation::Present(Present::ours(
            K::RULE_ID,
            rule_arn::<K>(ctx),
            drift,
        )))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let bucket = ctx.name(source_bucket::ID);
        // A bucket this run created has no rules: no read on a first `up`'s critical path.
        // Otherwise read again right before writing: the others' rules may have changed.
        let live = if ctx.created_now(source_bucket::ID) {
            Vec::new()
        } else {
            K::read(ctx, bucket).await?.ok_or_else(|| {
                StepError::msg(format!(
                    "bucket {bucket} disappeared before its {} rule was written",
                    K::WHAT
                ))
            })?
        };
        write::<K>(ctx, live, Some(K::wanted(ctx))).await?;
        Ok(Applied {
            arn: rule_arn::<K>(ctx),
            changes: vec![K::change(ctx)],
            ..Default::default()
        })
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let bucket = ctx.name(source_bucket::ID);
        let Some(live) = K::read(ctx, bucket).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        if !live.iter().any(|r| K::rule_id(r) == Some(K::RULE_ID)) {
            return Ok(Destroyed::AlreadyGone);
        }
        write::<K>(ctx, live, None).await?;
        Ok(Destroyed::Deleted)
    }
}
