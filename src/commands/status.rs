//! `cattube status`: the live state of every resource, ok | missing | drifted | pending.

use crate::commands::{observe_and_report, Access, Invocation, Session, Verb, View};
use crate::error::ExitStatus;
use crate::printer::{
    cost_lines, header, off_count, resource_lines, KeyReport, Report, ResourceReport, Status,
};

/// The fields `status` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct StatusFields {
    /// A private stack's signing keys, oldest first, with their age.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyReport>>,
}

/// `cattube status` (it takes no arguments).
pub struct StatusArgs;

impl Verb for StatusArgs {
    type Fields = StatusFields;

    async fn run(&self, at: &mut Invocation<'_, StatusFields>) -> anyhow::Result<ExitStatus> {
        observe_and_report(at.config, at.printer, at.report, View::Status, &mut None).await?;
        if at.config.settings.private {
            // The keys and their age; a stack not up yet has none (its secret is missing).
            let session = Session::open(at.config, Access::Read, at.report).await?;
            if let Ok(keys) = cattube_stages::signed::keys(&session.ctx).await {
                at.fields.keys = Some(crate::commands::keys::reports(
                    &keys,
                    cattube_stages::signed::GRACE_SECS,
                ));
            }
        }
        Ok(ExitStatus::drift_if(at.report.count(not_ok) > 0))
    }

    fn text(&self, report: &Report, fields: &StatusFields) -> String {
        text(report, fields)
    }
}

/// Missing or drifted: pending (CloudFront still deploying) is not a fault.
fn not_ok(r: &ResourceReport) -> bool {
    !matches!(r.status, Status::Ok | Status::Pending)
}

fn text(report: &Report, fields: &StatusFields) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| {
        format!("{:?}", r.status).to_lowercase()
    }));
    let bad = report.count(not_ok);
    if report.error.is_none() {
        let pending = report.with_status(Status::Pending);
        out.push_str(&match bad {
            0 if pending > 0 => format!(
                "all resources ok, {pending} pending (CloudFront is deploying: usually 5-20 min)\n"
            ),
            0 => format!("all resources ok{}\n", off_count(report)),
            n => format!(
                "{n} of {} resources not ok: run `cattube up` to converge\n",
                report.resources.len()
            ),
        });
    }
    if let Some(keys) = fields.keys.as_ref().filter(|k| !k.is_empty()) {
        out.push_str("signing keys, oldest first:\n");
        out.push_str(&crate::commands::keys::key_lines(keys));
    }
    // `status` has no estimate: these are its warnings (an unversioned state bucket).
    out.push_str(&cost_lines(report, None, None));
    out
}
