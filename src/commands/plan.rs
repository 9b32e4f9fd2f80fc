//! `cattube plan`: what `up` would do, resource by resource, with the reasons.

use crate::commands::{observe_and_report, EstimateFields, Invocation, Verb, View};
use crate::error::ExitStatus;
use crate::printer::{cost_lines, header, off_count, resource_lines, Action, Report};

/// `cattube plan` (it takes no arguments).
pub struct PlanArgs;

impl Verb for PlanArgs {
    type Fields = EstimateFields;

    async fn run(
        &self,
        at: &Invocation<'_>,
        report: &mut Report,
        fields: &mut EstimateFields,
    ) -> anyhow::Result<ExitStatus> {
        observe_and_report(at.config, at.printer, report, View::Plan, &mut fields.cost).await?;
        Ok(ExitStatus::drift_if(
            report.count(|r| r.action != Action::None) > 0,
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
    let count = |action| report.with_action(action);
    if report.error.is_none() {
        out.push_str(&format!(
            "plan: {} to create, {} to update, {} unchanged{}\n",
            count(Action::Create),
            count(Action::Update),
            count(Action::None) - report.count(|r| r.off),
            off_count(report)
        ));
        out.push_str(&cost_lines(report, fields.cost.as_ref()));
    }
    out
}
