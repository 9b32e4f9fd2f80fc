//! `cattube plan`: what `up` would do, resource by resource, with the reasons.

use crate::commands::{observe_and_report, EstimateFields, Invocation, Verb, View};
use crate::error::ExitStatus;
use crate::printer::{header, off_count, resource_lines, Action, Report};

/// `cattube plan` (it takes no arguments).
pub struct PlanArgs;

impl Verb for PlanArgs {
    type Fields = EstimateFields;

    async fn run(&self, at: &mut Invocation<'_, EstimateFields>) -> anyhow::Result<ExitStatus> {
        observe_and_report(
            at.config,
            at.printer,
            at.report,
            View::Plan,
            &mut at.fields.cost,
        )
        .await?;
        at.fields.price_limits(at.config);
        Ok(ExitStatus::drift_if(
            at.report.count(|r| r.action != Action::None) > 0,
        ))
    }

    fn text(&self, report: &Report, fields: &EstimateFields) -> String {
        text(report, fields)
    }
}

fn text(report: &Report, fields: &EstimateFields) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| {
        format!("{:?}", r.action).to_lowercase()
    }));
    if report.error.is_none() {
        let create = report.with_action(Action::Create);
        let update = report.with_action(Action::Update);
        let (unchanged, off) = (report.unchanged(), off_count(report));
        out.push_str(&format!(
            "plan: {create} to create, {update} to update, {unchanged} unchanged{off}\n"
        ));
        out.push_str(&fields.lines(report));
    }
    out
}
