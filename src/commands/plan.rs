//! `cattube plan`: what `up` would do, resource by resource, with the reasons.

use crate::commands::{add_estimate, failed_report, observed_report, Access, Session};
use crate::config::Config;
use crate::error::{exit, Shared};
use crate::printer::{cost_lines, header, resource_lines, Action, Printer, Report};

pub async fn run(config: &Config, printer: &Printer, report: &mut Report) -> anyhow::Result<u8> {
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    add_estimate(config, &session.ctx.region, report, true);
    let lines = session.lines(printer);
    let (observations, confirmed) =
        tokio::join!(session.observe_all(&lines), identity.confirm(&session));
    confirmed?;
    let mut first_error = None;
    for (i, observation) in observations.iter().enumerate() {
        match observation {
            Ok(observation) => report
                .resources
                .push(observed_report(&session, i, observation)),
            Err(error) => {
                report.resources.push(failed_report(&session, i, error));
                first_error.get_or_insert_with(|| error.clone());
            }
        }
    }
    if let Some(error) = first_error {
        return Err(Shared::error(&error));
    }
    let changes = report.resources.iter().any(|r| r.action != Action::None);
    Ok(if changes {
        exit::NOT_CONVERGED
    } else {
        exit::OK
    })
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
