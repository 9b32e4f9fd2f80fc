//! `cattube stacks`: every cattube stack in the account and region, found by the tags its
//! resources carry (the Resource Groups Tagging API), not by the local state. Never writes.

use std::time::SystemTime;

use cattube_stages::stacks::{self, StackSummary};

use crate::commands::{connect, identity_failure};
use crate::config::{Config, StateLocation};
use crate::error::ExitStatus;
use crate::printer::{Report, StackReport};

pub async fn run(config: &Config, report: &mut Report) -> anyhow::Result<ExitStatus> {
    let found = list(config, report).await?;
    let region = report.region.clone().unwrap_or_default();
    let now = SystemTime::now();
    report.stacks = Some(
        found
            .iter()
            .map(|s| stack_report(config, &region, s, now))
            .collect(),
    );
    Ok(ExitStatus::Success)
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

pub fn text(report: &Report) -> String {
    let mut out = match (&report.region, &report.account) {
        (Some(region), Some(account)) => {
            format!("cattube stacks in {region} (account {account})\n")
        }
        _ => String::new(),
    };
    let stacks = report.stacks.as_deref().unwrap_or_default();
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
