//! `cattube gc`: deletes every stack of the account and region whose `cattube:expires-at`
//! has passed, as `down --yes --no-wait` would. The stacks are found by their tags
//! (`stacks`), each one's resources by their own lookups with no state file (the path a
//! lost state takes), so it needs no state of theirs; what carries no stack tags
//! (an adopted bucket) is never deleted, and a stack without the expiry tag is never touched.
//! CloudFront's distribution is disabled and left: the next `gc` finds it by its tags and
//! deletes it once CloudFront has deployed the change.

use std::time::SystemTime;

use crate::cli::GcArgs;
use crate::commands::stacks::{list, stack_report, StacksFields};
use crate::commands::{Invocation, Verb};
use crate::config::{Config, StateLocation};
use crate::error::{ExitStatus, UsageError};
use crate::plan::Cancel;
use crate::printer::{Action, Printer, Report, Status};

impl Verb for GcArgs {
    type Fields = StacksFields;

    async fn run(&self, at: &mut Invocation<'_, StacksFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields, at.cancel).await
    }

    fn text(&self, report: &Report, fields: &StacksFields) -> String {
        text(report, fields)
    }
}

async fn run(
    config: &Config,
    args: &GcArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut StacksFields,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    if !args.yes && !args.dry_run && !printer.interactive() {
        return Err(UsageError::new(
            "gc deletes every expired stack and the videos in its buckets: pass --yes to confirm when there is no terminal to ask on (or --dry-run to see them)",
        )
        .into());
    }
    let found = list(config, report).await?;
    let region = report.region.clone().unwrap_or_default();
    let now = SystemTime::now();
    let mut stacks: Vec<_> = found
        .iter()
        .map(|s| stack_report(config, &region, s, now))
        .collect();
    for stack in stacks.iter_mut().filter(|s| !s.expired) {
        stack.gc = Some(match &stack.expires_at {
            Some(at) => format!("kept: expires at {at}"),
            None => "kept: no cattube:expires-at tag".into(),
        });
    }
    let expired: Vec<String> = stacks
        .iter()
        .filter(|s| s.expired)
        .map(|s| s.stack.clone())
        .collect();
    if args.dry_run || expired.is_empty() {
        for stack in stacks.iter_mut().filter(|s| s.expired) {
            stack.gc = Some("would delete".into());
        }
        fields.stacks = stacks;
        return Ok(ExitStatus::Success);
    }
    if !args.yes {
        let question = format!(
            "cattube gc will delete the expired stacks {} and every object in their buckets.\n\
             Type 'delete' to confirm: ",
            expired.join(", ")
        );
        let answer = cancel.prompt(|| printer.ask(&question))?;
        if answer.trim() != "delete" {
            return Err(UsageError::new(
                "confirmation did not match 'delete'; nothing was deleted",
            )
            .into());
        }
    }
    // A scratch state for each stack: gc has none of theirs, and `down` with an empty state
    // finds the stack by its tags and names.
    let scratch = tempfile::tempdir()?;
    let mut failed = None;
    for stack in stacks.iter_mut().filter(|s| s.expired) {
        let mut own = config.clone();
        let mut how = String::new();
        if stack.stack != config.stack {
            own.stack = stack.stack.clone();
            // The defaults: another stack's `[names]` are not this configuration's.
            own.names.clear();
            own.state =
                StateLocation::Local(scratch.path().join(format!("{}.state.json", stack.stack)));
            how = " (its state is not known here: found by its tags and default names)".into();
        }
        printer.note(format!("gc: deleting expired stack {}{how}", stack.stack));
        let mut down = Report::new("down");
        let outcome = super::down::collect(&own, printer, &mut down, cancel).await;
        stack.gc = Some(match &outcome {
            Err(err) => format!("failed: {}", err.root_cause()),
            Ok(_) if down.with_status(Status::Pending) > 0 => {
                "pending: CloudFront is deploying the disabled distribution; the next gc deletes it"
                    .into()
            }
            Ok(_) => format!("deleted ({} resources)", down.with_action(Action::Delete)),
        });
        if let Err(err) = outcome {
            failed.get_or_insert(err.context(format!("gc of stack {} failed", stack.stack)));
        }
    }
    fields.stacks = stacks;
    match failed {
        Some(err) => Err(err),
        None => Ok(ExitStatus::Success),
    }
}

fn text(report: &Report, fields: &StacksFields) -> String {
    let mut out = String::new();
    for stack in &fields.stacks {
        out.push_str(&format!(
            "{}: {}\n",
            stack.stack,
            stack.gc.as_deref().unwrap_or("-")
        ));
    }
    if report.error.is_none() && out.is_empty() {
        out.push_str("gc: no cattube stack found in this account and region\n");
    }
    out
}
