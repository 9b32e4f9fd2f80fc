//! The result of a command: what every JSON document holds, and the resources, errors
//! and keys it reports.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    None,
    Delete,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Missing,
    Drifted,
    Pending,
}

/// One resource in the result.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    pub id: &'static str,
    pub stage: &'static str,
    pub name: String,
    pub arn: String,
    pub action: Action,
    pub status: Status,
    pub drift: Vec<String>,
    /// What happened, for the text summary ("created", "kept: adopted", the error…).
    #[serde(skip)]
    pub note: String,
    /// An optional resource these settings do not want, and absent (the notification topic
    /// without `[notify] email`): `off` in every text summary, not counted as unchanged.
    #[serde(skip)]
    pub off: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    pub message: String,
    pub causes: Vec<String>,
}

impl ErrorReport {
    pub fn from_error(err: &anyhow::Error) -> ErrorReport {
        ErrorReport {
            message: err.to_string(),
            causes: err.chain().skip(1).map(|c| c.to_string()).collect(),
        }
    }
}

/// The part of the JSON document every command has; each command's own fields (its
/// `Fields`, [`crate::commands::Verb`]) stand between `outputs` and `warnings`.
#[derive(Debug, Clone)]
pub struct Report {
    pub command: String,
    pub stack: Option<String>,
    pub region: Option<String>,
    pub account: Option<String>,
    pub resources: Vec<ResourceReport>,
    /// Every key the registry declares ([`cattube_stages::Registry::output_keys`]), always present
    /// (null until known).
    pub outputs: BTreeMap<&'static str, Option<String>>,
    /// Things worth knowing that are not errors (a costly job template).
    pub warnings: Vec<String>,
    pub error: Option<ErrorReport>,
    /// The local emulator the commands talk to, if they do (its URL): what the text
    /// summaries say may happen next differs from AWS; not in the JSON document.
    pub emulator: Option<String>,
}

/// The JSON document of the CLI contract: the common part in its order, the command's own
/// fields after `outputs`, then `warnings` and `error`.
#[derive(Serialize)]
pub(super) struct Document<'a, F> {
    command: &'a str,
    stack: &'a Option<String>,
    region: &'a Option<String>,
    account: &'a Option<String>,
    resources: &'a [ResourceReport],
    outputs: &'a BTreeMap<&'static str, Option<String>>,
    #[serde(flatten)]
    fields: &'a F,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    error: &'a Option<ErrorReport>,
}

impl<'a, F> Document<'a, F> {
    pub(super) fn new(report: &'a Report, fields: &'a F) -> Self {
        Document {
            command: &report.command,
            stack: &report.stack,
            region: &report.region,
            account: &report.account,
            resources: &report.resources,
            outputs: &report.outputs,
            fields,
            warnings: &report.warnings,
            error: &report.error,
        }
    }
}

/// A command that adds nothing of its own to the JSON document.
#[derive(Debug, Default, Serialize)]
pub struct NoFields {}

impl Report {
    pub fn new(command: impl Into<String>) -> Report {
        Report {
            command: command.into(),
            stack: None,
            region: None,
            account: None,
            resources: Vec::new(),
            outputs: cattube_stages::Registry::standard()
                .output_keys()
                .into_iter()
                .map(|k| (k, None))
                .collect(),
            warnings: Vec::new(),
            error: None,
            emulator: None,
        }
    }

    /// How many resources have `action`.
    pub fn with_action(&self, action: Action) -> usize {
        self.count(|r| r.action == action)
    }

    /// How many resources have `status`.
    pub fn with_status(&self, status: Status) -> usize {
        self.count(|r| r.status == status)
    }

    /// How many resources are as wanted: no action, and not [`ResourceReport::off`].
    pub fn unchanged(&self) -> usize {
        self.with_action(Action::None) - self.count(|r| r.off)
    }

    pub fn count(&self, which: impl Fn(&ResourceReport) -> bool) -> usize {
        self.resources.iter().filter(|r| which(r)).count()
    }

    /// Where the stack serves its videos: its own domain once attached, else CloudFront's.
    pub fn serving_domain(&self) -> Option<String> {
        ["custom_domain", "distribution_domain"]
            .iter()
            .find_map(|key| self.outputs.get(*key).cloned().flatten())
    }

    pub fn set_output(&mut self, key: &'static str, value: String) {
        if let Some(slot) = self.outputs.get_mut(key) {
            *slot = Some(value);
        }
    }
}

/// One signing key of a private stack (`status`, `keys rotate`).
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub name: String,
    /// CloudFront's public key id (the `Key-Pair-Id` of what it signed).
    pub id: Option<String>,
    /// RFC 3339, UTC.
    pub created: String,
    pub age_s: u64,
    /// URLs and cookies are signed with it.
    pub signing: bool,
    /// When it stops verifying (superseded keys only), RFC 3339.
    pub retires: Option<String>,
}
