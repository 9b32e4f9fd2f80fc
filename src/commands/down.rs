//! `cattube down`: stage 9. Deletes what this stack created, dependents first, and keeps
//! what it adopted. It deletes videos, so it asks first.

use std::sync::{Arc, Mutex};

use cattube_stages::original::Originals;
use cattube_stages::step::DestroyOptions;
use cattube_stages::{Destroyed, Observation, Ownership, Recorded};

use crate::cli::DownArgs;
use crate::commands::{
    failed_report, step_failure, Access, IdentityCheck, Invocation, Observations, Session, Verb,
    WalkOutcome,
};
use crate::config::Config;
use crate::error::{ExitStatus, Shared, UsageError};
use crate::plan::{walk, Cancel, Direction, NodeResult};
use crate::printer::{
    header, resource_lines, Action, NoFields, Printer, ProgressLine, Report, ResourceReport, Status,
};

impl Verb for DownArgs {
    type Fields = NoFields;

    async fn run(
        &self,
        at: &Invocation<'_>,
        report: &mut Report,
        _: &mut NoFields,
    ) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, report, at.cancel).await
    }

    fn text(&self, report: &Report, _: &NoFields) -> String {
        text(report)
    }
}

/// What `down` means to do with one resource, decided before anything is deleted.
#[derive(Clone, Debug)]
enum Intent {
    Delete,
    /// Adopted, and changed by `up`: kept, with what `up` changed put back.
    Restore,
    Keep(String),
    Gone,
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

/// What `down` means to do with each resource as observed.
fn intents(
    session: &Session,
    observations: &Observations,
    options: &DestroyOptions,
) -> anyhow::Result<Vec<Intent>> {
    let mut intents = Vec::new();
    for (i, observation) in observations.iter().enumerate() {
        let step = &session.graph.steps()[i];
        let recorded = session.state.get(step.id());
        intents.push(match observation {
            // What `up` refuses to write over (someone else's object where the stack's goes)
            // is no reason not to remove the stack's own: its `destroy` deletes only that.
            Err(err) if ExitStatus::of_error(err) == ExitStatus::Usage => {
                match recorded.as_ref().map(|r| r.ownership) {
                    Some(ownership) if ownership.is_ours() => Intent::Delete,
                    _ => Intent::Keep("not created by this stack".into()),
                }
            }
            Err(err) => return Err(Shared::error(err)),
            // A record with unfinished business (a distribution being disabled) resumes.
            Ok(Observation::Missing) if recorded.as_ref().is_some_and(|r| !r.extra.is_empty()) => {
                Intent::Delete
            }
            Ok(Observation::Missing) => Intent::Gone,
            Ok(Observation::Present(p)) => match session.ownership(step.id(), p.tagged_ours) {
                Ownership::Adopted
                    if options.including_adopted && serves_takeover(session, step.id()) =>
                {
                    Intent::Delete
                }
                Ownership::Adopted if recorded.as_ref().is_some_and(Originals::recorded_in) => {
                    Intent::Restore
                }
                Ownership::Adopted => Intent::Keep("adopted: not created by this stack".into()),
                _ => match step.kept_by(options) {
                    Some(reason) => Intent::Keep(reason),
                    None => Intent::Delete,
                },
            },
        });
    }
    Ok(intents)
}

/// Whether `id` is what a takeover (`adopt --from-tutorial`) adopted only to serve the
/// tutorial's pipeline: its function and the event entry that invokes it, which `down
/// --including-adopted` deletes (the function's record lists the roles it replaced).
fn serves_takeover(session: &Session, id: &str) -> bool {
    use cattube_stages::{converter_function, source_notification};
    let took_over = session
        .state
        .get(converter_function::ID.as_str())
        .is_some_and(|r| {
            Originals::of(&r)
                .get(converter_function::REPLACED)
                .is_some()
        });
    took_over && (id == converter_function::ID.as_str() || id == source_notification::ID.as_str())
}

/// What the reverse walk's steps share.
struct Teardown {
    session: Arc<Session>,
    intents: Vec<Intent>,
    lines: Arc<Vec<ProgressLine>>,
    options: DestroyOptions,
    /// Which resources are left pending (a distribution still being disabled): what they
    /// use must stay until they are gone, so it is left pending too.
    pending: Mutex<Vec<bool>>,
}

impl Teardown {
    /// Carries out one resource's intent, records the outcome, and shows it on its line.
    async fn delete(&self, i: usize) -> anyhow::Result<(Destroyed, Option<Recorded>)> {
        let step = self.session.graph.steps()[i].clone();
        let id = step.id();
        let recorded = self.session.state.get(id);
        let destroyed = match (&self.intents[i], self.pending_user(i)) {
            (Intent::Gone, _) => Destroyed::AlreadyGone,
            (Intent::Keep(reason), _) => Destroyed::Kept(reason.clone()),
            (Intent::Restore, _) => {
                self.lines[i].working("restoring");
                let recorded = recorded.as_ref().expect("a restore has its record");
                match step.restore(&self.session.ctx, recorded).await {
                    Ok(restored) => Destroyed::Kept(format!(
                        "adopted: not created by this stack; restored {}",
                        if restored.is_empty() {
                            "nothing (already as it was)".to_string()
                        } else {
                            restored.join(", ")
                        }
                    )),
                    Err(err) => {
                        let err = step_failure(id, err);
                        self.lines[i].done("✗", &format!("failed: {}", err.root_cause()));
                        return Err(err);
                    }
                }
            }
            (Intent::Delete, Some(user)) => Destroyed::Pending {
                reason: format!("still used by {user}: the next `cattube down` deletes it"),
                extra: recorded
                    .as_ref()
                    .map(|r| r.extra.clone())
                    .unwrap_or_default(),
            },
            (Intent::Delete, None) => {
                self.lines[i].working("deleting");
                match step
                    .destroy(&self.session.ctx, recorded.as_ref(), &self.options)
                    .await
                {
                    Ok(destroyed) => destroyed,
                    Err(err) => {
                        let err = step_failure(id, err);
                        self.lines[i].done("✗", &format!("failed: {}", err.root_cause()));
                        return Err(err);
                    }
                }
            }
        };
        self.record(i, &destroyed, recorded.as_ref()).await?;
        let symbol = if matches!(destroyed, Destroyed::Kept(_) | Destroyed::Released(_)) {
            "·"
        } else {
            "✓"
        };
        let word = if matches!(destroyed, Destroyed::AlreadyGone)
            && !step.wanted(&self.session.ctx.settings)
        {
            crate::printer::OFF.to_string()
        } else {
            progress_word(&destroyed)
        };
        self.lines[i].done(symbol, &word);
        Ok((destroyed, recorded))
    }

    /// A resource left pending that uses this one (it must stay until that one is gone).
    fn pending_user(&self, i: usize) -> Option<&'static str> {
        let graph = &self.session.graph;
        let pending = self.pending.lock().expect("pending lock");
        (0..graph.steps().len())
            .find(|&j| graph.deps(j).contains(&i) && pending[j])
            .map(|j| graph.steps()[j].id())
    }

    /// Brings the state in line with what happened to one resource.
    async fn record(
        &self,
        i: usize,
        destroyed: &Destroyed,
        recorded: Option<&Recorded>,
    ) -> anyhow::Result<()> {
        let (state, id) = (&self.session.state, self.session.graph.steps()[i].id());
        match destroyed {
            Destroyed::Deleted
            | Destroyed::DeletedAfter(_)
            | Destroyed::AlreadyGone
            | Destroyed::Released(_) => state.set(id, None).await,
            // An adopted resource leaves the stack; a kept one of ours stays recorded.
            Destroyed::Kept(_) if recorded.is_some_and(|r| r.ownership == Ownership::Adopted) => {
                state.set(id, None).await
            }
            Destroyed::Kept(_) => Ok(()),
            Destroyed::Pending { extra, .. } => {
                self.pending.lock().expect("pending lock")[i] = true;
                // Found by its tags with no record (a lost state): record it now, so that
                // the next `down` resumes even if the tags cannot be read.
                let mut record = recorded.cloned().unwrap_or_else(|| Recorded {
                    name: self.session.ctx.names.get(id).cloned().unwrap_or_default(),
                    arn: String::new(),
                    ownership: Ownership::Created,
                    extra: Default::default(),
                });
                if !extra.is_empty() || recorded.is_some() {
                    record.extra = extra.clone();
                    state.set(id, Some(record)).await?;
                }
                Ok(())
            }
        }
    }
}

/// What a resource's progress line says once `down` is done with it.
fn progress_word(destroyed: &Destroyed) -> String {
    match destroyed {
        Destroyed::Deleted => "deleted".to_string(),
        Destroyed::DeletedAfter(note) => format!("deleted: {note}"),
        Destroyed::AlreadyGone => "gone".to_string(),
        Destroyed::Kept(reason) | Destroyed::Released(reason) => format!("kept: {reason}"),
        Destroyed::Pending { reason, .. } => format!("pending: {reason}"),
    }
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

/// Shows, in columns, what will be deleted and what is kept, and asks for the stack name,
/// as the console asks for the bucket name before deleting a bucket.
fn confirm(
    session: &Session,
    printer: &Printer,
    intents: &[Intent],
    stack: &str,
) -> anyhow::Result<()> {
    let answer = printer.ask(&prompt(session, intents, stack))?;
    if answer.trim() != stack {
        return Err(UsageError::new(
            "confirmation did not match the stack name; nothing was deleted",
        )
        .into());
    }
    Ok(())
}

/// The confirmation prompt: the resources to delete, those kept and why, what happens to the
/// videos, and the question.
fn prompt(session: &Session, intents: &[Intent], stack: &str) -> String {
    let order = session.graph.display_order();
    let name = |i: usize| {
        let step = &session.graph.steps()[i];
        session
            .state
            .get(step.id())
            .map(|r| r.name)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| step.shown_name(&session.ctx))
    };
    let width = order
        .iter()
        .map(|&i| name(i).chars().count())
        .max()
        .unwrap_or(0);
    let row = |i: usize, note: &str| {
        let step = &session.graph.steps()[i];
        let line = format!(
            "  [{:>2}] {:<26} {:<width$}  {note}",
            step.stage(),
            step.id(),
            name(i)
        );
        format!("{}\n", line.trim_end())
    };
    let mut out = format!("cattube down will delete from stack {stack}:\n");
    for &i in &order {
        if matches!(intents[i], Intent::Delete) {
            out.push_str(&row(i, ""));
        }
    }
    let kept: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| matches!(intents[i], Intent::Keep(_) | Intent::Restore))
        .collect();
    if !kept.is_empty() {
        out.push_str("and keep:\n");
        for i in kept {
            match &intents[i] {
                Intent::Keep(reason) => out.push_str(&row(i, reason)),
                _ => out.push_str(&row(i, "adopted: what `up` changed on it is restored")),
            }
        }
    }
    // The resources `--keep-buckets` would keep are the ones that hold the videos.
    let holds_videos = |i: usize| {
        session.graph.steps()[i]
            .kept_by(&DestroyOptions {
                keep_buckets: true,
                ..Default::default()
            })
            .is_some()
    };
    let emptied: Vec<String> = order
        .iter()
        .copied()
        .filter(|&i| holds_videos(i) && matches!(intents[i], Intent::Delete))
        .map(name)
        .collect();
    if !emptied.is_empty() {
        out.push_str(&format!(
            "Every object in {} (the videos and their outputs) is deleted with it.\n",
            emptied.join(" and ")
        ));
    } else if order
        .iter()
        .any(|&i| holds_videos(i) && matches!(intents[i], Intent::Keep(_) | Intent::Restore))
    {
        out.push_str("The buckets and every object in them stay.\n");
    }
    out.push_str(&format!("Type the stack name ({stack}) to confirm: "));
    out
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
