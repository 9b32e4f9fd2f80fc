//! `cattube down`: stage 9. Deletes what this stack created, dependents first, and keeps
//! what it adopted. It deletes videos, so it asks first.

use std::sync::{Arc, Mutex};

use cattube_stages::step::DestroyOptions;
use cattube_stages::{Destroyed, Observation, Ownership, Recorded};

use crate::cli::DownArgs;
use crate::commands::{failed_report, step_failure, Access, IdentityCheck, Session};
use crate::config::Config;
use crate::error::{ExitStatus, Interrupted, Shared, UsageError};
use crate::plan::{walk, Cancel, Direction, NodeResult, INTERRUPTED};
use crate::printer::{header, resource_lines, Action, Printer, Report, ResourceReport, Status};

/// What `down` means to do with one resource, decided before anything is deleted.
#[derive(Clone, Debug)]
enum Intent {
    Delete,
    Keep(String),
    Gone,
}

pub async fn run(
    config: &Config,
    args: &DownArgs,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    if !args.yes && !printer.interactive() {
        return Err(UsageError::new(
            "down deletes the stack and the videos in its buckets: pass --yes to confirm when there is no terminal to ask on",
        )
        .into());
    }
    let (session, identity) = Session::start(config, Access::Write, report).await?;
    let session = Arc::new(session);
    let outcome = destroy_stack(config, args, &session, identity, printer, report, cancel).await;
    let released = session.state.release().await;
    let status = outcome?;
    released?;
    Ok(status)
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
    };
    let lines = Arc::new(session.lines(printer));
    session.show_progress(lines.clone(), printer);
    // The reads overlap STS; nothing is deleted before the account is confirmed.
    let observations = session.observe_confirmed(identity, &lines).await?;

    let mut intents = Vec::new();
    for (i, observation) in observations.iter().enumerate() {
        let id = session.graph.steps()[i].id();
        let recorded = session.state.get(id);
        intents.push(match observation {
            Err(err) => return Err(Shared::error(err)),
            // A record with unfinished business (a distribution being disabled) resumes.
            Ok(Observation::Missing) if recorded.as_ref().is_some_and(|r| !r.extra.is_empty()) => {
                Intent::Delete
            }
            Ok(Observation::Missing) => Intent::Gone,
            Ok(Observation::Present(p)) => match session.ownership(id, p.tagged_ours) {
                Ownership::Adopted => Intent::Keep("adopted: not created by this stack".into()),
                _ => match session.graph.steps()[i].kept_by(&options) {
                    Some(reason) => Intent::Keep(reason),
                    None => Intent::Delete,
                },
            },
        });
    }

    // Nothing to delete: nothing to ask. The walk below still tidies the state file.
    let deletes = intents.iter().any(|i| matches!(i, Intent::Delete));
    if !args.yes && deletes {
        cancel.prompt(|| confirm(session, printer, &intents, &config.stack))?;
    }

    let intents = Arc::new(intents);
    // Which resources are left pending (a distribution still being disabled): what they
    // use must stay until they are gone, so it is left pending too.
    let pending = Arc::new(Mutex::new(vec![false; session.graph.steps().len()]));
    cancel.arm()?;
    let results = walk(&session.graph, Direction::Reverse, cancel, |i| {
        let (session, intents, lines, options, pending) = (
            session.clone(),
            intents.clone(),
            lines.clone(),
            options.clone(),
            pending.clone(),
        );
        async move {
            let step = session.graph.steps()[i].clone();
            let id = step.id();
            let recorded = session.state.get(id);
            let waits_for = (0..session.graph.steps().len())
                .find(|&j| {
                    session.graph.deps(j).contains(&i) && pending.lock().expect("pending lock")[j]
                })
                .map(|j| session.graph.steps()[j].id());
            let destroyed = match (&intents[i], waits_for) {
                (Intent::Gone, _) => Destroyed::AlreadyGone,
                (Intent::Keep(reason), _) => Destroyed::Kept(reason.clone()),
                (Intent::Delete, Some(user)) => Destroyed::Pending {
                    reason: format!("still used by {user}: the next `cattube down` deletes it"),
                    extra: recorded
                        .as_ref()
                        .map(|r| r.extra.clone())
                        .unwrap_or_default(),
                },
                (Intent::Delete, None) => {
                    lines[i].working("deleting");
                    match step
                        .destroy(&session.ctx, recorded.as_ref(), &options)
                        .await
                    {
                        Ok(destroyed) => destroyed,
                        Err(err) => {
                            let err = step_failure(id, err);
                            lines[i].done("✗", &format!("failed: {}", err.root_cause()));
                            return Err(err);
                        }
                    }
                }
            };
            let state = &session.state;
            match &destroyed {
                Destroyed::Deleted | Destroyed::DeletedAfter(_) | Destroyed::AlreadyGone => {
                    state.set(id, None).await?
                }
                // An adopted resource leaves the stack; a kept one of ours stays recorded.
                Destroyed::Kept(_)
                    if recorded
                        .as_ref()
                        .is_some_and(|r| r.ownership == Ownership::Adopted) =>
                {
                    state.set(id, None).await?
                }
                Destroyed::Kept(_) => {}
                Destroyed::Pending { extra, .. } => {
                    pending.lock().expect("pending lock")[i] = true;
                    // Found by its tags with no record (a lost state): record it now, so
                    // that the next `down` resumes even if the tags cannot be read.
                    let mut record = recorded.clone().unwrap_or_else(|| Recorded {
                        name: session.ctx.names.get(id).cloned().unwrap_or_default(),
                        arn: String::new(),
                        ownership: Ownership::Created,
                        extra: Default::default(),
                    });
                    if !extra.is_empty() || recorded.is_some() {
                        record.extra = extra.clone();
                        state.set(id, Some(record)).await?;
                    }
                }
            }
            let word = match &destroyed {
                Destroyed::Deleted => "deleted".to_string(),
                Destroyed::DeletedAfter(note) => format!("deleted: {note}"),
                Destroyed::AlreadyGone => "gone".to_string(),
                Destroyed::Kept(reason) => format!("kept: {reason}"),
                Destroyed::Pending { reason, .. } => format!("pending: {reason}"),
            };
            lines[i].done(
                if matches!(destroyed, Destroyed::Kept(_)) {
                    "·"
                } else {
                    "✓"
                },
                &word,
            );
            Ok((destroyed, recorded))
        }
    })
    .await;

    let mut failures = Vec::new();
    let mut interrupted = false;
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
        };
        report.resources.push(match result {
            NodeResult::Done((destroyed, recorded)) => {
                let (name, arn) = recorded
                    .map(|r| {
                        (
                            if r.name.is_empty() {
                                name.clone()
                            } else {
                                r.name
                            },
                            r.arn,
                        )
                    })
                    .unwrap_or((name, String::new()));
                match destroyed {
                    Destroyed::Deleted => {
                        line(Action::Delete, Status::Missing, String::new(), name, arn)
                    }
                    Destroyed::DeletedAfter(note) => {
                        line(Action::Delete, Status::Missing, note, name, arn)
                    }
                    Destroyed::AlreadyGone => {
                        line(Action::None, Status::Missing, String::new(), name, arn)
                    }
                    Destroyed::Kept(reason) => line(Action::Skip, Status::Ok, reason, name, arn),
                    Destroyed::Pending { reason, .. } => {
                        line(Action::Delete, Status::Pending, reason, name, arn)
                    }
                }
            }
            NodeResult::Failed(err) => {
                let line = failed_report(session, i, &err);
                failures.push(err);
                line
            }
            NodeResult::Skipped { root } => line(
                Action::Skip,
                Status::Ok,
                if root == INTERRUPTED {
                    interrupted = true;
                    "skipped: interrupted".to_string()
                } else {
                    format!("skipped: {root} failed")
                },
                name,
                String::new(),
            ),
        });
    }
    if let Some(first) = failures.into_iter().next() {
        return Err(first);
    }
    if interrupted {
        return Err(Interrupted.into());
    }
    if session.state.resources().is_empty() {
        session.state.remove().await?;
    }
    Ok(ExitStatus::Success)
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
        .filter(|&i| matches!(intents[i], Intent::Keep(_)))
        .collect();
    if !kept.is_empty() {
        out.push_str("and keep:\n");
        for i in kept {
            if let Intent::Keep(reason) = &intents[i] {
                out.push_str(&row(i, reason));
            }
        }
    }
    // The resources `--keep-buckets` would keep are the ones that hold the videos.
    let holds_videos = |i: usize| {
        session.graph.steps()[i]
            .kept_by(&DestroyOptions {
                keep_buckets: true,
                no_wait: false,
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
        .any(|&i| holds_videos(i) && matches!(intents[i], Intent::Keep(_)))
    {
        out.push_str("The buckets and every object in them stay.\n");
    }
    out.push_str(&format!("Type the stack name ({stack}) to confirm: "));
    out
}

pub fn text(report: &Report) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| match r.action {
        Action::Delete if r.status == Status::Pending => "pending".into(),
        Action::Delete => "deleted".into(),
        Action::Skip => "kept".into(),
        _ => "gone".into(),
    }));
    let count = |a: Action| report.resources.iter().filter(|r| r.action == a).count();
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
        let pending = report
            .resources
            .iter()
            .filter(|r| r.status == Status::Pending)
            .count();
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
