//! Every cattube stack of an account and region, found by the tags each taggable resource
//! carries (`managed-by = cattube`, `cattube:stack`), through the Resource Groups Tagging
//! API: one paginated read, not a listing of every service by hand.
//!
//! What the API reports is what it covers: on AWS, S3 buckets, the Lambda function, the
//! MediaConvert queue and job template, and the CloudFront distribution (CloudFront only
//! from us-east-1, IAM roles not at all); an emulator may cover fewer. The resource count is
//! therefore what the API found, not the stack's size; `gc` finds what it deletes by each
//! step's own lookup ([`crate::Step::find_owned`]), not from this list.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_smithy_types::date_time::{DateTime, Format};

use crate::context::{TAG_EXPIRES_AT, TAG_MANAGED_BY, TAG_REGION, TAG_STACK};
use crate::error::AwsContext;
use crate::grant::{Grant, Target};
use crate::{Clients, StepError};

/// The one call of [`list`] (`stacks`, `gc`): the tagging API takes no resource type, so it
/// is allowed on `*` only.
pub const LIST: Grant = Grant::observe(&["tag:GetResources"], Target::Any);

/// One stack as its tags describe it.
#[derive(Clone, Debug, PartialEq)]
pub struct StackSummary {
    pub stack: String,
    /// The ARNs the tagging API reported, sorted.
    pub resources: Vec<String>,
    /// The earliest `cattube:expires-at` among them, if any carries one that parses.
    pub expires_at: Option<DateTime>,
}

impl StackSummary {
    /// Whether the stack's expiry is at or before `now`. A stack without one never expires.
    pub fn expired(&self, now: std::time::SystemTime) -> bool {
        let now = DateTime::from(now);
        self.expires_at.is_some_and(|at| at.secs() <= now.secs())
    }
}

/// Every stack in `region` whose resources carry cattube's tags, by stack name.
pub async fn list(clients: &Clients, region: &str) -> Result<Vec<StackSummary>, StepError> {
    let managed = TagFilter::builder()
        .key(TAG_MANAGED_BY)
        .values("cattube")
        .build();
    let mut pages = clients
        .tagging
        .get_resources()
        .tag_filters(managed)
        .into_paginator()
        .send();
    let mut stacks: BTreeMap<String, StackSummary> = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.context(|| "listing the stacks' resources (tag:GetResources)".into())?;
        for mapping in page.resource_tag_mapping_list() {
            let tags: BTreeMap<&str, &str> = mapping
                .tags()
                .iter()
                .map(|t| (t.key(), t.value()))
                .collect();
            let Some(stack) = tags.get(TAG_STACK) else {
                continue;
            };
            // A global resource (CloudFront) is listed in every region it is asked from.
            if tags.get(TAG_REGION).is_some_and(|r| *r != region) {
                continue;
            }
            let summary = stacks
                .entry(stack.to_string())
                .or_insert_with(|| StackSummary {
                    stack: stack.to_string(),
                    resources: Vec::new(),
                    expires_at: None,
                });
            summary
                .resources
                .push(mapping.resource_arn().unwrap_or_default().to_string());
            if let Some(at) = tags.get(TAG_EXPIRES_AT).and_then(|t| parse_time(t)) {
                if summary.expires_at.is_none_or(|old| at.secs() < old.secs()) {
                    summary.expires_at = Some(at);
                }
            }
        }
    }
    Ok(stacks
        .into_values()
        .map(|mut s| {
            s.resources.sort();
            s
        })
        .collect())
}

/// An RFC 3339 time (`2026-12-04T02:00:00Z`).
pub fn parse_time(text: &str) -> Option<DateTime> {
    DateTime::from_str(text, Format::DateTime).ok()
}

/// A time as RFC 3339 UTC, to the second.
pub fn format_time(at: impl Into<DateTime>) -> String {
    DateTime::from_secs(at.into().secs())
        .fmt(Format::DateTime)
        .expect("a time in RFC 3339's range")
}
