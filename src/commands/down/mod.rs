//! `cattube down`: stage 9. Deletes what this stack created, dependents first, and keeps
//! what it adopted. It deletes videos, so it asks first.

mod intents;
mod teardown;

use std::sync::{Arc, Mutex};

use cattube_stages::step::DestroyOptions;
use cattube_stages::{Destroyed, Recorded};

use crate::cli::DownArgs;
use crate::commands::{
    failed_report, Access, IdentityCheck, Invocation, Session, Verb, WalkOutcome,
};
use crate::config::Config;
use crate::error::{ExitStatus, UsageError};
use crate::plan::{walk, Cancel, Direction, NodeResult};
use crate::printer::{
    header, resource_lines, Action, NoFields, Printer, Report, ResourceReport, Status,
};
use intents::{confirm, intents, Intent};
use teardown::Teardown;

impl Verb for DownArgs {
    type Fields = NoFields;

    async fn run(&self, at: &mut Invocation<'_, NoFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.cancel).await
    }

    fn text(&self, report: &Report, _: &NoFields) -> String {
        text(report)
    }
}

async fn run(
    config: &Config,
    args: &DownArgs,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    if !args.yes && !printer.interactive() && records_resources(config).await? {
        return Err(no_terminal_to_ask().into());
    }
    let (session, identity) = Session::start(config, Access::Write, report).await?;
    let session = Arc::new(session);
    let outcome = destroy_stack(config, args, &session, identity, printer, report, cancel).await;
    session.release(outcome).await
}

fn no_terminal_to_ask() -> UsageError {
    UsageError::new(
        "down deletes the stack and the videos in its buckets: pass --yes to confirm when there is no terminal to ask on",
    )
}

/// Whether the local state file records a resource: then `down` has something to delete,
/// and without a terminal or --yes it is refused before any request. (Without records it
/// looks first: a stack that never came up has nothing to delete and needs no --yes.)
async fn records_resources(config: &Config) -> anyhow::Result<bool> {
    let crate::config::StateLocation::Local(path) = &config.state else {
        return Ok(false);
    };
    let store = Arc::new(crate::state::LocalFile::new(path));
    let state = crate::state::State::load(store, &config.stack).await?;
    Ok(!state.resources().is_empty())
}

/// `down --yes --no-wait` of `config`'s stack for `gc`: what it created is deleted, the
/// distribution disabled and left for a later run to delete; adopted resources are kept.
pub async fn collect(
    config: &Config,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    let args = DownArgs {
        yes: true,
        keep_buckets: false,
        no_wait: true,
        including_adopted: false,
    };
    run(config, &args, printer, report, cancel).await
}

/// Observes every resource, asks, then deletes what this stack created, dependents first.
async fn destroy_stack(
    config: &Config,
    args: &DownArgs,
    session: &Arc<Session>,
    identity: IdentityCheck,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    let options = DestroyOptions {
        keep_buckets: args.keep_buckets,
        no_wait: args.no_wait,
        including_adopted: args.including_adopted,
    };
    // The reads overlap STS; nothing is deleted before the account is confirmed.
    let (lines, observations) = session.observe_with_progress(identity, printer).await?;
    let intents = intents(session, &observations, &options)?;
    // Nothing to delete: nothing to ask, terminal or not (a CI cleanup of a stack that
    // never came up succeeds). The walk below still tidies the state file.
    let deletes = intents.iter().any(|i| matches!(i, Intent::Delete));
    if !args.yes && deletes && !printer.interactive() {
        return Err(no_terminal_to_ask().into());
    }
    if !args.yes && deletes {
        cancel.prompt(|| confirm(session, printer, &intents, &config.stack))?;
    }
    let restoring: Vec<bool> = intents
        .iter()
        .map(|i| matches!(i, Intent::Restore))
        .collect();
    let teardown = Arc::new(Teardown {
        session: session.clone(),
        pending: Mutex::new(vec![false; intents.len()]),
        intents,
        lines,
        options,
    });
    cancel.arm()?;
    let results = walk(
        &session.graph,
        Direction::Reverse {
            restoring: &restoring,
        },
        cancel,
        |i| {
            let teardown = teardown.clone();
            async move { teardown.delete(i).await }
        },
    )
    .await;
    report_results(session, results, report)?;
    if session.state.resources().is_empty() {
        session.state.remove().await?;
    }
    Ok(ExitStatus::Success)
}

/// One report line per resource; the walk's first failure, or its interruption, is the
/// command's error.
fn report_results(
    session: &Session,
    results: Vec<NodeResult<(Destroyed, Option<Recorded>)>>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut outcome = WalkOutcome::default();
    for (i, result) in results.into_iter().enumerate() {
        let step = &session.graph.steps()[i];
        let name = step.shown_name(&session.ctx);
        let line = |action, status, note: String, name: String, arn: String| ResourceReport {
            id: step.id(),
            stage: step.stage(),
            name,
            arn,
            action,
            status,
            drift: Vec::new(),
            note,
            off: false,
        };
        report.resources.push(match result {
            NodeResult::Done((destroyed, recorded)) => {
                let (name, arn) = match recorded {
                    Some(r) if r.name.is_empty() => (name, r.arn),
                    Some(r) => (r.name, r.arn),
                    None => (name, String::new()),
                };
                let off = matches!(destroyed, Destroyed::AlreadyGone)
                    && !step.wanted(&session.ctx.settings);
                let (action, status, note) = match destroyed {
                    Destroyed::Deleted => (Action::Delete, Status::Missing, String::new()),
                    Destroyed::DeletedAfter(note) => (Action::Delete, Status::Missing, note),
                    Destroyed::AlreadyGone => (Action::None, Status::Missing, String::new()),
                    Destroyed::Kept(reason) | Destroyed::Released(reason) => {
                        (Action::Skip, Status::Ok, reason)
                    }
                    Destroyed::Pending { reason, .. } => (Action::Delete, Status::Pending, reason),
                };
                let note = if off {
                    step.unwanted_reason().to_string()
                } else {
                    note
                };
                ResourceReport {
                    off,
                    ..line(action, status, note, name, arn)
                }
            }
            NodeResult::Failed(err) => {
                let line = failed_report(session, i, &err);
                outcome.failed(err);
                line
            }
            NodeResult::Skipped { root } => line(
                Action::Skip,
                Status::Ok,
                outcome.skipped(&root),
                name,
                String::new(),
            ),
        });
    }
    outcome.into_result()
}

fn text(report: &Report) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| match r.action {
        Action::Delete if r.status == Status::Pending => "pending".into(),
        Action::Delete => "deleted".into(),
        Action::Skip => "kept".into(),
        _ => "gone".into(),
    }));
    let count = |action| report.with_action(action);
    if report.error.is_none() && count(Action::Delete) == 0 {
        out.push_str(&format!(
            "down: nothing to delete{}\n",
            match count(Action::Skip) {
                0 => String::new(),
                n => format!(" ({n} kept)"),
            }
        ));
        return out;
    }
    if report.error.is_none() {
        let pending = report.with_status(Status::Pending);
        out.push_str(&format!(
            "down: {} deleted, {} kept\n",
            count(Action::Delete) - pending,
            count(Action::Skip)
        ));
        if pending > 0 {
            out.push_str(&format!(
                "{pending} pending: CloudFront is deploying the disabled distribution (5-20 min); run `cattube down` again to finish\n"
            ));
        }
    }
    out
}
