//! `cattube output [NAME]`: the stack's outputs for scripts. Read live, as `status` reads
//! them (the state file records no outputs, and a live read cannot go stale): one value
//! raw, or every known one as `KEY=value` lines for `>> "$GITHUB_OUTPUT"`. Never writes.

use cattube_stages::Observation;

use crate::cli::OutputArgs;
use crate::commands::{Access, Invocation, Session, Verb};
use crate::config::Config;
use crate::error::{ExitStatus, Shared, UsageError};
use crate::printer::{NoFields, Printer, Report};

impl Verb for OutputArgs {
    type Fields = NoFields;

    async fn run(&self, at: &mut Invocation<'_, NoFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report).await
    }

    fn text(&self, report: &Report, _: &NoFields) -> String {
        text(report, self)
    }
}

async fn run(
    config: &Config,
    args: &OutputArgs,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<ExitStatus> {
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    let lines = session.lines(printer);
    for observation in session.observe_confirmed(identity, &lines).await? {
        if let Observation::Present(present) = observation.map_err(|e| Shared::error(&e))? {
            for (key, value) in present.outputs {
                report.set_output(key, value);
            }
        }
    }
    crate::commands::set_player_url(&session.ctx, report);
    let known = |name: &str| report.outputs.get(name).is_some_and(Option::is_some);
    let missing = match &args.name {
        Some(name) => (!known(name)).then(|| format!("output {name} is")),
        None => (!report.outputs.keys().any(|k| known(k))).then(|| "no output is".to_string()),
    };
    if let Some(what) = missing {
        return Err(UsageError::new(format!(
            "{what} known: the stack is not up (run `cattube up`)"
        ))
        .into());
    }
    Ok(ExitStatus::Success)
}

/// One raw value with NAME, else `KEY=value` per known output (unknown ones are left out,
/// so that a script's `${KEY}` stays unset rather than empty).
fn text(report: &Report, args: &OutputArgs) -> String {
    if report.error.is_some() {
        return String::new();
    }
    match &args.name {
        Some(name) => match report.outputs.get(name.as_str()) {
            Some(Some(value)) => format!("{value}\n"),
            _ => String::new(),
        },
        None => report
            .outputs
            .iter()
            .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}\n")))
            .collect(),
    }
}
