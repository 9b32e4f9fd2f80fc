//! `cattube plan`: what `up` would do, resource by resource, with the reasons.

use crate::commands::{add_estimate, observe_and_report, Access, Outputs, Session};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{cost_lines, header, resource_lines, Action, Printer, Report};

pub async fn run(
    config: &Config,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<ExitStatus> {
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    add_estimate(config, &session.ctx.region, report, true);
    observe_and_report(&session, identity, printer, report, Outputs::Omitted).await?;
    let changes = report.resources.iter().any(|r| r.action != Action::None);
    Ok(ExitStatus::drift_if(changes))
}

pub fn text(report: &Report) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| {
        format!("{:?}", r.action).to_lowercase()
    }));
    let count = |a: Action| report.resources.iter().filter(|r| r.action == a).count();
    if report.error.is_none() {
        out.push_str(&format!(
            "plan: {} to create, {} to update, {} unchanged\n",
            count(Action::Create),
            count(Action::Update),
            count(Action::None)
        ));
        out.push_str(&cost_lines(report));
    }
    out
}
