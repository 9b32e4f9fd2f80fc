//! One resource converged: looked at again when a dependency changed, created (its intent
//! recorded first) or repaired, recorded, and shown on its line.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use cattube_stages::original::Originals;
use cattube_stages::{
    Applied, ApplyContext, DestroyContext, Observation, ObserveContext, Ownership, Present,
    Recorded,
};

use super::word;
use crate::commands::{learn, observed_report, step_failure, Observations, Session};
use crate::error::Shared;
use crate::printer::{Action, ProgressLine, ResourceReport, Status};

pub(super) type Converged = (ResourceReport, Vec<(&'static str, String)>, Vec<String>);

/// What the forward walk's steps share.
pub(super) struct Convergence {
    pub(super) session: Arc<Session>,
    /// Each resource's first look.
    pub(super) observations: Observations,
    pub(super) lines: Arc<Vec<ProgressLine>>,
    /// Which steps wrote: their dependents look again.
    pub(super) changed: Mutex<Vec<bool>>,
    pub(super) finished: Mutex<Vec<bool>>,
}

impl Convergence {
    /// Converges one resource and shows the outcome, on its line and on those that wait.
    pub(super) async fn step(&self, i: usize) -> anyhow::Result<Converged> {
        let outcome = self.converge(i).await;
        if let Err(err) = &outcome {
            self.lines[i].done("✗", &format!("failed: {}", err.root_cause()));
        }
        let mut finished = self.finished.lock().expect("finished lock");
        finished[i] = true;
        self.show_waits(&finished);
        outcome
    }

    /// A step not started yet says what it waits for ("waiting for converter-role"), rather
    /// than what its first look found: "missing" next to a spinner reads like an error.
    pub(super) fn show_waits(&self, finished: &[bool]) {
        let graph = &self.session.graph;
        for (j, line) in self.lines.iter().enumerate() {
            let waiting: Vec<&str> = graph
                .deps(j)
                .iter()
                .filter(|&&d| !finished[d])
                .map(|&d| graph.steps()[d].id())
                .collect();
            if !finished[j] && !waiting.is_empty() {
                line.idle(&format!("waiting for {}", waiting.join(", ")));
            }
        }
    }

    /// Creates, repairs or keeps one resource, records it, and reports it.
    async fn converge(&self, i: usize) -> anyhow::Result<Converged> {
        let session = &*self.session;
        let step = session.graph.steps()[i].clone();
        let (id, ctx) = (step.id(), &*session.ctx);
        let recorded = session.state.get(id);
        let observation = self.look(i, recorded.as_ref()).await?;
        let mut report = observed_report(session, i, &observation);
        if !step.wanted(&ctx.settings) {
            return self.remove_unwanted(i, &observation, report).await;
        }
        let extra = recorded
            .as_ref()
            .map(|r| r.extra.clone())
            .unwrap_or_default();
        let (ownership, applied) = self.apply(i, &observation, &mut report, &extra).await?;
        // With what was recorded before the write (an adopted resource's settings).
        let extra = session.state.get(id).map(|r| r.extra).unwrap_or(extra);

        let mut outputs: Vec<(&'static str, String)> = observation
            .present()
            .map(|p| p.outputs.clone().into_iter().collect())
            .unwrap_or_default();
        let changes = applied
            .as_ref()
            .map(|a| a.changes.clone())
            .unwrap_or_default();
        if let Some(applied) = &applied {
            learn(ctx, id, &applied.arn, &applied.outputs);
            if ownership == Ownership::Created && matches!(observation, Observation::Missing) {
                ctx.learn(step.spec().id, cattube_stages::Fact::CreatedNow, "");
            }
        }
        if matches!(observation, Observation::Missing) {
            // Known only now for some (a distribution's domain).
            report.name = step.shown_name(ctx);
        }
        let record = record_after(&observation, applied.as_ref(), &report, ownership, extra);
        if let Some(applied) = &applied {
            outputs.extend(applied.outputs.clone());
            self.changed.lock().expect("changed lock")[i] = true;
            report.status = Status::Ok;
            report.drift.clear();
            if let Some(notice) = &applied.notice {
                report.status = Status::Pending;
                report.note = notice.clone();
            }
        }
        report.arn = record.arn.clone();
        if ownership == Ownership::Adopted && report.note.is_empty() {
            report.note = "adopted".into();
        }
        session
            .state
            .set(id, Some(record))
            .await
            .context("saving the state file")?;
        let symbol = if report.status == Status::Pending {
            "…"
        } else {
            "✓"
        };
        self.lines[i].done(symbol, &word(&report));
        Ok((report, outputs, changes))
    }

    /// A resource the settings no longer want (`Step::wanted`): the one the stack owns is
    /// deleted and forgotten, as Terraform does with a resource removed from its
    /// configuration; an adopted one is left alone.
    async fn remove_unwanted(
        &self,
        i: usize,
        observation: &Observation,
        mut report: ResourceReport,
    ) -> anyhow::Result<Converged> {
        let session = &*self.session;
        let step = session.graph.steps()[i].clone();
        let (id, ctx) = (step.id(), &*session.ctx);
        let mut changes = Vec::new();
        if report.action == Action::Delete {
            self.lines[i].working("deleting");
            let recorded = session.state.get(id);
            let options = cattube_stages::step::DestroyOptions::default();
            step.destroy(&DestroyContext::new(ctx, recorded.as_ref(), &options))
                .await
                .map_err(|e| step_failure(id, e))?;
            self.changed.lock().expect("changed lock")[i] = true;
            changes.push(format!("deleted: {}", step.unwanted_reason()));
            report.status = Status::Missing;
            report.drift.clear();
            report.note = format!("deleted: {}", step.unwanted_reason());
        }
        // Deleted or absent: forgotten; an adopted one left in place keeps its record.
        let forget = report.action != Action::None || matches!(observation, Observation::Missing);
        if forget && session.state.get(id).is_some() {
            session
                .state
                .set(id, None)
                .await
                .context("saving the state file")?;
        }
        let word = if report.action == Action::Delete {
            "deleted"
        } else {
            crate::printer::OFF
        };
        self.lines[i].done("✓", word);
        Ok((report, Vec::new(), changes))
    }

    /// The observation to act on. What a dependency changed may change what this step
    /// wants: look again. Otherwise the first look stands, and a converged stack is one
    /// round of reads. A resource found missing stays missing (nothing but this run creates
    /// it, and a create that meets it already there adopts it): looking again would only
    /// cost a round trip on the critical path of every first `up`.
    async fn look(&self, i: usize, recorded: Option<&Recorded>) -> anyhow::Result<Observation> {
        let initial = &self.observations[i];
        let deps_changed = self
            .session
            .graph
            .deps(i)
            .iter()
            .any(|&j| self.changed.lock().expect("changed lock")[j])
            && !matches!(initial, Ok(Observation::Missing));
        if !deps_changed {
            return Ok(initial.as_ref().map_err(Shared::error)?.clone());
        }
        let step = &self.session.graph.steps()[i];
        self.lines[i].working("checking");
        step.observe(&ObserveContext::new(&self.session.ctx, recorded))
            .await
            .map_err(|e| step_failure(step.id(), e))
    }

    /// Creates a missing resource (its intent recorded first) or repairs a drifted one;
    /// a converged one costs no write. Says what it did on the report line.
    async fn apply(
        &self,
        i: usize,
        observation: &Observation,
        report: &mut ResourceReport,
        extra: &BTreeMap<String, String>,
    ) -> anyhow::Result<(Ownership, Option<Applied>)> {
        let session = &*self.session;
        let step = &session.graph.steps()[i];
        let (id, ctx, line) = (step.id(), &*session.ctx, &self.lines[i]);
        match observation {
            Observation::Missing => {
                let intent = Recorded {
                    name: ctx.names.get(id).cloned().unwrap_or_default(),
                    arn: String::new(),
                    ownership: Ownership::Creating,
                    extra: extra.clone(),
                };
                session
                    .state
                    .set(id, Some(intent))
                    .await
                    .context("recording the intent to create")?;
                line.working("creating");
                let applied = step
                    .apply(&ApplyContext::new(ctx, observation, None))
                    .await
                    .map_err(|e| step_failure(id, e))?;
                report.action = Action::Create;
                let ownership = if applied.adopted {
                    report.note = "adopted: it already existed".into();
                    Ownership::Adopted
                } else {
                    report.note = String::new();
                    Ownership::Created
                };
                Ok((ownership, Some(applied)))
            }
            Observation::Present(present) if !present.drift.is_empty() => {
                let ownership = session.ownership(id, present.tagged_ours);
                if ownership == Ownership::Adopted {
                    self.record_originals(i, present).await?;
                }
                line.working("updating");
                let applied = step
                    .apply(&ApplyContext::new(ctx, observation, Some(ownership)))
                    .await
                    .map_err(|e| step_failure(id, e))?;
                report.action = Action::Update;
                report.note = format!("repaired: {}", report.drift.join("; "));
                Ok((ownership, Some(applied)))
            }
            Observation::Present(present) => Ok((session.ownership(id, present.tagged_ours), None)),
        }
    }
}

impl Convergence {
    /// Records, before `apply` changes them, the settings of an adopted resource as they
    /// are (the first recording of each stands): `down` puts them back.
    async fn record_originals(&self, i: usize, present: &Present) -> anyhow::Result<()> {
        let session = &*self.session;
        let id = session.graph.steps()[i].id();
        let mut record = session.state.get(id).unwrap_or_else(|| Recorded {
            name: present.name.clone(),
            arn: present.arn.clone(),
            ownership: Ownership::Adopted,
            extra: BTreeMap::new(),
        });
        if present.originals().record_into(&mut record.extra) {
            session
                .state
                .set(id, Some(record))
                .await
                .context("recording the adopted resource's settings before changing them")?;
        }
        Ok(())
    }
}

/// The state's record of a resource once converged: what was found, overlaid with what the
/// write returned.
fn record_after(
    observation: &Observation,
    applied: Option<&Applied>,
    report: &ResourceReport,
    ownership: Ownership,
    extra: BTreeMap<String, String>,
) -> Recorded {
    Recorded {
        name: observation
            .present()
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| report.name.clone()),
        arn: applied
            .map(|a| a.arn.clone())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| report.arn.clone()),
        ownership,
        extra: match applied.map(|a| a.extra.clone()).filter(|e| !e.is_empty()) {
            // What `down` restores outlives the step's own facts.
            Some(mut fresh) => {
                Originals::carry(&extra, &mut fresh);
                fresh
            }
            None => extra,
        },
    }
}
