//! CloudFront's account quotas that still bind a stack (docs/delivery.md, "Quotas"): each
//! resource that counts against one checks, in `observe`, before anything is created, that
//! creating it stays within the quota, and otherwise refuses (exit 2, nothing changed),
//! naming the quota. The limit is the documented default: Service Quotas only ever raises a
//! quota above it, and is asked for the applied value only when the count reaches the default.

use crate::{StackContext, StepError};

/// One CloudFront quota: its name as AWS's quota table and Service Quotas spell it, and its
/// documented default (Amazon CloudFront Developer Guide, "Quotas", read 2026-12-07).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub name: &'static str,
    pub default: u64,
    /// What a user can do instead of raising it.
    pub remedy: &'static str,
}

pub const ORIGIN_ACCESS_CONTROLS: Quota = Quota::new(
    "Origin access controls per AWS account",
    100,
    "set [delivery] shared-oac = true (or CATTUBE_SHARED_OAC=true) so that stacks share one, delete unused ones, or request a higher quota",
);

pub const DISTRIBUTIONS: Quota = Quota::new(
    "Distributions per AWS account",
    500,
    "remove stacks you no longer need (`cattube stacks`, `cattube gc`) or request a higher quota",
);

pub const DISTRIBUTIONS_PER_ORIGIN_ACCESS_CONTROL: Quota = Quota::new(
    "Distributions per origin access control",
    100,
    "remove stacks you no longer need, give this stack its own OAC ([delivery] shared-oac = false) or request a higher quota",
);

pub const KEY_GROUPS: Quota = Quota::new(
    "Key groups per AWS account",
    10,
    "remove private stacks you no longer need or request a higher quota",
);

pub const PUBLIC_KEYS_PER_KEY_GROUP: Quota = Quota::new(
    "Public keys in a single key group",
    5,
    "let the grace period of the oldest key end, or request a higher quota",
);

impl Quota {
    const fn new(name: &'static str, default: u64, remedy: &'static str) -> Quota {
        Quota {
            name,
            default,
            remedy,
        }
    }

    /// Refuses when `used` (counted in the account now) plus `adding` would exceed the
    /// quota. `used` below the default is always room: nothing is asked.
    pub async fn check(
        &self,
        ctx: &StackContext,
        used: u64,
        adding: u64,
        doing: &str,
    ) -> Result<(), StepError> {
        if used + adding <= self.default {
            return Ok(());
        }
        let (limit, source) = match self.applied(ctx).await {
            Ok(Some(applied)) => (
                applied,
                "applied to this account (Service Quotas)".to_string(),
            ),
            Ok(None) => (self.default, "the documented default".to_string()),
            // Denied, or not offered in this partition: the default still protects.
            Err(why) => (
                self.default,
                format!("the documented default; Service Quotas did not answer: {why}"),
            ),
        };
        if used + adding <= limit {
            return Ok(());
        }
        Err(StepError::refused(format!(
            "{doing} would exceed CloudFront's quota \"{}\" ({limit}, {source}): {used} in use. Nothing was created; {}",
            self.name, self.remedy
        )))
    }
}

impl Quota {
    /// The value Service Quotas applies to this account (CloudFront's quotas live in
    /// us-east-1), found by the quota's name; `None` when it lists none: "If the applied
    /// quota value is not available for a quota, the quota is not retrieved"
    /// (ListServiceQuotas).
    async fn applied(&self, ctx: &StackContext) -> Result<Option<u64>, String> {
        let mut pages = ctx
            .clients
            .servicequotas
            .list_service_quotas()
            .service_code("cloudfront")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::error::AwsError::from_sdk(&e).to_string())?;
            let found = page
                .quotas()
                .iter()
                .find(|q| q.quota_name() == Some(self.name))
                .and_then(|q| q.value());
            if let Some(value) = found {
                return Ok(Some(value as u64));
            }
        }
        Ok(None)
    }
}
