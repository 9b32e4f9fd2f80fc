//! `cattube status`: the live state of every resource, ok | missing | drifted | pending.

use crate::commands::{failed_report, observed_report, Access, Session};
use crate::config::Config;
use crate::error::{exit, Shared};
use crate::printer::{header, resource_lines, Printer, Report, Status};

pub async fn run(config: &Config, printer: &Printer, report: &mut Report) -> anyhow::Result<u8> {
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    let lines = session.lines(printer);
    let (observations, confirmed) =
        tokio::join!(session.observe_all(&lines), identity.confirm(&session));
    confirmed?;
    let mut first_error = None;
    for (i, observation) in observations.iter().enumerate() {
        match observation {
            Ok(observation) => {
                if let Some(present) = observation.present() {
                    for (key, value) in &present.outputs {
                        report.set_output(key, value.clone());
                    }
                }
                report
                    .resources
                    .push(observed_report(&session, i, observation));
            }
            Err(error) => {
                report.resources.push(failed_report(&session, i, error));
                first_error.get_or_insert_with(|| error.clone());
            }
        }
    }
    if let Some(error) = first_error {
        return Err(Shared::error(&error));
    }
    // Pending (CloudFront still deploying) is not a fault: 3 means missing or drifted.
    let converged = report
        .resources
        .iter()
        .all(|r| matches!(r.status, Status::Ok | Status::Pending));
    Ok(if converged {
        exit::OK
    } else {
        exit::NOT_CONVERGED
    })
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
