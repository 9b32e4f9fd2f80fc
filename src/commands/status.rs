//! `cattube status`: the live state of every resource, ok | missing | drifted | pending.

use crate::commands::{observe_and_report, View};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{
    cost_lines, header, off_count, resource_lines, Printer, Report, ResourceReport, Status,
};

pub async fn run(
    config: &Config,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<ExitStatus> {
    observe_and_report(config, printer, report, View::Status).await?;
    Ok(ExitStatus::drift_if(report.count(not_ok) > 0))
}

/// Missing or drifted: pending (CloudFront still deploying) is not a fault.
fn not_ok(r: &ResourceReport) -> bool {
    !matches!(r.status, Status::Ok | Status::Pending)
}

pub fn text(report: &Report) -> String {
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
    if let Some(keys) = report.keys.as_ref().filter(|k| !k.is_empty()) {
        out.push_str("signing keys, oldest first:\n");
        out.push_str(&crate::commands::keys::key_lines(keys));
    }
    // `status` has no estimate: these are its warnings (an unversioned state bucket).
    out.push_str(&cost_lines(report));
    out
}
