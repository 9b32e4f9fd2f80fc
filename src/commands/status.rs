//! `cattube status`: the live state of every resource, ok | missing | drifted | pending.

use crate::commands::{observe_and_report, Access, Outputs, Session};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{header, resource_lines, Printer, Report, Status};

pub async fn run(
    config: &Config,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<ExitStatus> {
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    observe_and_report(&session, identity, printer, report, Outputs::Reported).await?;
    // Pending (CloudFront still deploying) is not a fault: 3 means missing or drifted.
    let converged = report
        .resources
        .iter()
        .all(|r| matches!(r.status, Status::Ok | Status::Pending));
    Ok(ExitStatus::drift_if(!converged))
}

pub fn text(report: &Report) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| {
        format!("{:?}", r.status).to_lowercase()
    }));
    let bad = report
        .resources
        .iter()
        .filter(|r| !matches!(r.status, Status::Ok | Status::Pending))
        .count();
    if report.error.is_none() {
        let pending = report
            .resources
            .iter()
            .filter(|r| r.status == Status::Pending)
            .count();
        out.push_str(&match bad {
            0 if pending > 0 => format!(
                "all resources ok, {pending} pending (CloudFront is deploying: usually 5-20 min)\n"
            ),
            0 => "all resources ok\n".to_string(),
            n => format!(
                "{n} of {} resources not ok: run `cattube up` to converge\n",
                report.resources.len()
            ),
        });
    }
    out
}
