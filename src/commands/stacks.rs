//! `cattube stacks`: every cattube stack in the account and region, found by the tags its
//! resources carry (the Resource Groups Tagging API), not by the local state. Never writes.

use std::time::SystemTime;

use cattube_stages::stacks::{self, StackSummary};

use crate::commands::{connect, identity_failure, Invocation, Verb};
use crate::config::{Config, StateLocation};
use crate::error::ExitStatus;
use crate::printer::Report;

/// `cattube stacks` (it takes no arguments).
pub struct StacksArgs;

/// The fields `stacks` and `gc` add to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct StacksFields {
    /// Every cattube stack of the account and region, found by its tags.
    pub stacks: Vec<StackReport>,
}

/// One stack found by its tags (`stacks`, `gc`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackReport {
    pub stack: String,
    /// How many resources the tagging API reported with the stack's tags.
    pub resources: usize,
    /// Their ARNs.
    pub arns: Vec<String>,
    /// Not recorded in the tags: null.
    pub created_at: Option<String>,
    /// Its `cattube:expires-at` (RFC 3339 UTC), null for a stack that never expires.
    pub expires_at: Option<String>,
    pub expired: bool,
    /// Where its state is, when it is this configuration's stack and its state file exists.
    pub state: Option<String>,
    /// `gc`: what was done with it (`deleted`, `pending`, `would delete`, `kept`, `failed: …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gc: Option<String>,
}

impl Verb for StacksArgs {
    type Fields = StacksFields;

    async fn run(&self, at: &mut Invocation<'_, StacksFields>) -> anyhow::Result<ExitStatus> {
        let found = list(at.config, at.report).await?;
        let region = at.report.region.clone().unwrap_or_default();
        let now = SystemTime::now();
        at.fields.stacks = found
            .iter()
            .map(|s| stack_report(at.config, &region, s, now))
            .collect();
        Ok(ExitStatus::Success)
    }

    fn text(&self, report: &Report, fields: &StacksFields) -> String {
        text(report, fields)
    }
}

/// Every stack the tags of the configuration's account and region describe. No state file
/// is read: the stacks are found by their tags alone.
pub async fn list(config: &Config, report: &mut Report) -> anyhow::Result<Vec<StackSummary>> {
    let (region, clients) = connect(config, report).await?;
    let account = clients.account_id().await.map_err(identity_failure)?;
    report.account = Some(account);
    Ok(stacks::list(&clients, &region).await?)
}

/// Where this configuration keeps its stack's state: the local file when it exists, or the
/// S3 object (not read: `stacks` sends no state request).
fn state_location(config: &Config, region: &str) -> Option<String> {
    match &config.state {
        StateLocation::Local(path) => path.exists().then(|| path.display().to_string()),
        StateLocation::S3 { bucket, key } => Some(format!(
            "s3://{bucket}/{}",
            StateLocation::s3_key(key, &config.stack, region)
        )),
    }
}

pub fn stack_report(
    config: &Config,
    region: &str,
    summary: &StackSummary,
    now: SystemTime,
) -> StackReport {
    StackReport {
        stack: summary.stack.clone(),
        resources: summary.resources.len(),
        arns: summary.resources.clone(),
        created_at: None,
        expires_at: summary.expires_at.map(stacks::format_time),
        expired: summary.expired(now),
        state: (summary.stack == config.stack)
            .then(|| state_location(config, region))
            .flatten(),
        gc: None,
    }
}

fn text(report: &Report, fields: &StacksFields) -> String {
    let mut out = match (&report.region, &report.account) {
        (Some(region), Some(account)) => {
            format!("cattube stacks in {region} (account {account})\n")
        }
        _ => String::new(),
    };
    let stacks = &fields.stacks;
    if report.error.is_some() {
        return out;
    }
    if stacks.is_empty() {
        out.push_str("no cattube stack found in this account and region\n");
        return out;
    }
    let width = stacks
        .iter()
        .map(|s| s.stack.len())
        .max()
        .unwrap_or(0)
        .max(5);
    out.push_str(&format!(
        "{:<width$}  {:>9}  {:<28}  STATE\n",
        "STACK", "TAGGED", "EXPIRES AT"
    ));
    for s in stacks {
        let expires = match (&s.expires_at, s.expired) {
            (Some(at), true) => format!("{at} (expired)"),
            (Some(at), false) => at.clone(),
            (None, _) => "never".to_string(),
        };
        let line = format!(
            "{:<width$}  {:>9}  {:<28}  {}",
            s.stack,
            s.resources,
            expires,
            s.state.as_deref().unwrap_or("-")
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    // The count is the tagging API's, not the stack's size: say so where it is shown.
    out.push_str(
        "TAGGED: the resources the tagging API reports (never the IAM roles; an emulator may report fewer)\n",
    );
    out
}
