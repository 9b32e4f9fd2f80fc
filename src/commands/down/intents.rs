//! What `down` means to do with each resource, decided before anything is deleted, and
//! the question that shows it.

use cattube_stages::original::Originals;
use cattube_stages::step::DestroyOptions;
use cattube_stages::{Observation, Ownership};

use crate::commands::{Observations, Session};
use crate::error::{ExitStatus, Shared, UsageError};
use crate::printer::Printer;

/// What `down` means to do with one resource, decided before anything is deleted.
#[derive(Clone, Debug)]
pub(super) enum Intent {
    Delete,
    /// Adopted, and changed by `up`: kept, with what `up` changed put back.
    Restore,
    Keep(String),
    Gone,
}

/// What `down` means to do with each resource as observed.
pub(super) fn intents(
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

/// Shows, in columns, what will be deleted and what is kept, and asks for the stack name,
/// as the console asks for the bucket name before deleting a bucket.
pub(super) fn confirm(
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
