//! `cattube plan`: what `up` would do, resource by resource, with the reasons.

use crate::commands::{observe_and_report, View};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::printer::{cost_lines, header, off_count, resource_lines, Action, Printer, Report};

pub async fn run(
    config: &Config,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<ExitStatus> {
    observe_and_report(config, printer, report, View::Plan).await?;
    Ok(ExitStatus::drift_if(
        report.count(|r| r.action != Action::None) > 0,
    ))
}

pub fn text(report: &Report) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| {
        format!("{:?}", r.action).to_lowercase()
    }));
    let count = |action| report.with_action(action);
    if report.error.is_none() {
        out.push_str(&format!(
            "plan: {} to create, {} to update, {} unchanged{}\n",
            count(Action::Create),
            count(Action::Update),
            count(Action::None) - report.count(|r| r.off),
            off_count(report)
        ));
        out.push_str(&cost_lines(report));
    }
    out
}
