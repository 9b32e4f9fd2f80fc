//! The reverse walk's work on one resource: its intent carried out, recorded, and shown.

use std::sync::{Arc, Mutex};

use cattube_stages::step::DestroyOptions;
use cattube_stages::{DestroyContext, Destroyed, Ownership, Recorded};

use super::intents::Intent;
use crate::commands::{step_failure, Session};
use crate::printer::ProgressLine;

/// What the reverse walk's steps share.
pub(super) struct Teardown {
    pub(super) session: Arc<Session>,
    pub(super) intents: Vec<Intent>,
    pub(super) lines: Arc<Vec<ProgressLine>>,
    pub(super) options: DestroyOptions,
    /// Which resources are left pending (a distribution still being disabled): what they
    /// use must stay until they are gone, so it is left pending too.
    pub(super) pending: Mutex<Vec<bool>>,
}

impl Teardown {
    /// Carries out one resource's intent, records the outcome, and shows it on its line.
    pub(super) async fn delete(&self, i: usize) -> anyhow::Result<(Destroyed, Option<Recorded>)> {
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
                    .destroy(&DestroyContext::new(
                        &self.session.ctx,
                        recorded.as_ref(),
                        &self.options,
                    ))
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
