//! What every step needs: who and where the stack is, its resource names and tags, the
//! settings of each stage, and the AWS clients.

use std::collections::BTreeMap;

/// One client per AWS service the stages use.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

/// Everything about the stack that is known before the first step runs.
#[derive(Clone, Debug)]
pub struct StackContext {
    pub stack: String,
    pub account: String,
    pub region: String,
    /// The name of every resource that has one, keyed by resource id.
    pub names: BTreeMap<&'static str, String>,
    /// Tags every taggable resource gets: the stack's own and the user's `[tags]`.
    pub tags: BTreeMap<String, String>,
    pub clients: Clients,
}

pub const TAG_STACK: &str = "cattube:stack";
pub const TAG_REGION: &str = "cattube:region";
pub const TAG_MANAGED_BY: &str = "managed-by";

impl StackContext {
    pub fn new(
        stack: &str,
        account: &str,
        region: &str,
        names: BTreeMap<&'static str, String>,
        user_tags: &BTreeMap<String, String>,
        clients: Clients,
    ) -> Self {
        let mut tags = user_tags.clone();
        tags.insert(TAG_STACK.into(), stack.into());
        tags.insert(TAG_REGION.into(), region.into());
        tags.insert(TAG_MANAGED_BY.into(), "cattube".into());
        StackContext {
            stack: stack.into(),
            account: account.into(),
            region: region.into(),
            names,
            tags,
            clients,
        }
    }

    /// The resolved name of a resource. Every id with a name is filled in by
    /// [`crate::naming::resolve_names`], so a missing one is a programming error.
    pub fn name(&self, id: &str) -> &str {
        self.names
            .get(id)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no name resolved for {id}"))
    }

    /// The AWS partition of the stack's region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// True when `tags` carry this stack's ownership tags.
    pub fn tagged_ours<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let (mut stack, mut managed) = (false, false);
        for (key, value) in tags {
            stack |= key == TAG_STACK && value == self.stack;
            managed |= key == TAG_MANAGED_BY && value == "cattube";
        }
        stack && managed
    }
}

pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}
