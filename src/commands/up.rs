//! `cattube up`: create the stack or converge it. Observes everything at once, then walks
//! the graph: a missing resource is created (its intent recorded first), a drifted one is
//! repaired, a converged one costs no write at all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use cattube_stages::original::Originals;
use cattube_stages::{Applied, Observation, Ownership, Present, Recorded};

use crate::cli::UpArgs;
use crate::commands::{
    add_estimate, failed_report, first_refusal, learn, observed_report, step_failure, Access,
    EstimateFields, IdentityCheck, Invocation, Observations, Session, Verb, WalkOutcome,
};
use crate::config::Config;
use crate::error::{ExitStatus, Shared};
use crate::plan::{walk, Cancel, Direction, NodeResult};
use crate::pricing::Estimate;
use crate::printer::{
    cost_lines, header, off_count, resource_lines, Action, Printer, ProgressLine, Report,
    ResourceReport, Status,
};

impl Verb for UpArgs {
    type Fields = EstimateFields;

    async fn run(
        &self,
        at: &Invocation<'_>,
        report: &mut Report,
        fields: &mut EstimateFields,
    ) -> anyhow::Result<ExitStatus> {
        run(
            at.config,
            self,
            at.printer,
            report,
            &mut fields.cost,
            at.cancel,
        )
        .await
    }

    fn text(&self, report: &Report, fields: &EstimateFields) -> String {
        text(report, fields)
    }
}

async fn run(
    config: &Config,
    args: &UpArgs,
    printer: &Printer,
    report: &mut Report,
    cost: &mut Option<Estimate>,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    let mut config = config.clone();
    config.settings.wait_for_deploy = args.wait;
    let (session, identity) = Session::start(&config, Access::Write, report).await?;
    if let Some(ttl) = args.ttl {
        let at = std::time::SystemTime::now() + std::time::Duration::from_secs(ttl);
        session
            .ctx
            .set_expiry(cattube_stages::stacks::format_time(at));
    }
    let session = Arc::new(session);
    add_estimate(&config, &session.ctx.region, report, cost, true);
    let outcome = converge_stack(&session, identity, printer, report, cancel).await;
    session.release(outcome).await
}

/// Observes every resource, then creates what is missing and repairs what drifted.
async fn converge_stack(
    session: &Arc<Session>,
    identity: IdentityCheck,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    // The reads overlap STS; nothing is written before the account is confirmed.
    let (lines, observations) = session.observe_with_progress(identity, printer).await?;
    // Something of someone else's in the way: nothing is written.
    if let Some(refusal) = first_refusal(&observations) {
        return Err(refusal);
    }
    let steps = session.graph.steps().len();
    let convergence = Arc::new(Convergence {
        session: session.clone(),
        observations,
        lines,
        changed: Mutex::new(vec![false; steps]),
        finished: Mutex::new(vec![false; steps]),
    });
    convergence.show_waits(&convergence.finished.lock().expect("finished lock"));
    cancel.arm()?;
    let results = walk(&session.graph, Direction::Forward, cancel, |i| {
        let convergence = convergence.clone();
        async move { convergence.step(i).await }
    })
    .await;
    report_results(&convergence, results, printer, report)?;
    Ok(ExitStatus::Success)
}

type Converged = (ResourceReport, Vec<(&'static str, String)>, Vec<String>);

/// What the forward walk's steps share.
struct Convergence {
    session: Arc<Session>,
    /// Each resource's first look.
    observations: Observations,
    lines: Arc<Vec<ProgressLine>>,
    /// Which steps wrote: their dependents look again.
    changed: Mutex<Vec<bool>>,
    finished: Mutex<Vec<bool>>,
}

impl Convergence {
    /// Converges one resource and shows the outcome, on its line and on those that wait.
    async fn step(&self, i: usize) -> anyhow::Result<Converged> {
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
    fn show_waits(&self, finished: &[bool]) {
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
            step.destroy(ctx, recorded.as_ref(), &options)
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
        step.observe(&self.session.ctx, recorded)
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
                    .apply(ctx, observation, None)
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
                    .apply(ctx, observation, Some(ownership))
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

/// One report line per resource and the outputs; the walk's first failure, or its
/// interruption, is the command's error.
fn report_results(
    convergence: &Convergence,
    results: Vec<NodeResult<Converged>>,
    printer: &Printer,
    report: &mut Report,
) -> anyhow::Result<()> {
    let session = &*convergence.session;
    let mut outcome = WalkOutcome::default();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            NodeResult::Done((line, outputs, changes)) => {
                for change in changes {
                    printer.verbose(format!("{}: {change}", line.id));
                }
                for (key, value) in outputs {
                    report.set_output(key, value);
                }
                report.resources.push(line);
            }
            NodeResult::Failed(err) => {
                report.resources.push(failed_report(session, i, &err));
                outcome.failed(err);
            }
            NodeResult::Skipped { root } => {
                let mut line = match &convergence.observations[i] {
                    Ok(observation) => observed_report(session, i, observation),
                    Err(err) => failed_report(session, i, err),
                };
                line.action = Action::Skip;
                line.note = outcome.skipped(&root);
                convergence.lines[i].done("-", &line.note);
                report.resources.push(line);
            }
        }
    }
    crate::commands::set_player_url(&session.ctx, report);
    outcome.into_result()
}

/// Where the player is, and plainly what it makes public.
fn player_lines(report: &Report) -> String {
    match (
        report.outputs.get("player_url"),
        report.outputs.get("distribution_domain"),
    ) {
        (Some(Some(url)), _) => format!(
            "player: {url}\n  the player is on: its catalog.json lists every video to anyone with \
             the URL (player.enabled = false in cattube.toml turns it off)\n"
        ),
        (_, Some(Some(_))) => "player: off (player.enabled = false): no page, and CloudFront \
             does not serve catalog.json\n"
            .to_string(),
        _ => String::new(),
    }
}

fn word(r: &ResourceReport) -> String {
    match (r.action, r.status) {
        (Action::Create, _) => "created".into(),
        (Action::Update, _) => "updated".into(),
        (Action::Skip, _) => "skipped".into(),
        (Action::Delete, _) => "deleted".into(),
        (_, Status::Pending) => "pending".into(),
        _ => "ok".into(),
    }
}

fn text(report: &Report, fields: &EstimateFields) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, word));
    let count = |action| report.with_action(action);
    if report.error.is_none() {
        // Deleted only when the settings dropped an optional resource.
        let deleted = match count(Action::Delete) {
            0 => String::new(),
            n => format!(", {n} deleted"),
        };
        out.push_str(&format!(
            "up: {} created, {} updated, {} unchanged{deleted}{}\n",
            count(Action::Create),
            count(Action::Update),
            count(Action::None) - report.count(|r| r.off),
            off_count(report)
        ));
        // Before the outputs: the text summary ends with where videos play.
        out.push_str(&cost_lines(report, fields.cost.as_ref()));
        for (key, value) in &report.outputs {
            if let Some(value) = value {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
        out.push_str(&player_lines(report));
        let serving = ["custom_domain", "distribution_domain"]
            .iter()
            .find_map(|key| report.outputs.get(*key).cloned().flatten());
        if let Some(domain) = serving {
            // Which outputs a video gets depends on `[job] profile` (or a template), so the
            // line names the command that knows them rather than one profile's file names.
            out.push_str(&format!(
                "playback URLs: {}/<output> (`cattube url <key>` names them)\n",
                cattube_stages::videos::cdn_origin(&domain)
            ));
        }
    }
    out
}
