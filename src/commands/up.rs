//! `cattube up`: create the stack or converge it. Observes everything at once, then walks
//! the graph: a missing resource is created (its intent recorded first), a drifted one is
//! repaired, a converged one costs no write at all.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use cattube_stages::{Observation, Ownership, Recorded};

use crate::cli::UpArgs;
use crate::commands::{
    add_estimate, failed_report, learn, observed_report, step_failure, Access, IdentityCheck,
    Session,
};
use crate::config::Config;
use crate::error::{ExitStatus, Interrupted, Shared};
use crate::plan::{walk, Cancel, Direction, NodeResult, INTERRUPTED};
use crate::printer::{
    cost_lines, header, resource_lines, Action, Printer, ProgressLine, Report, ResourceReport,
    Status,
};

pub async fn run(
    config: &Config,
    args: &UpArgs,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    let mut config = config.clone();
    config.settings.wait_for_deploy = args.wait;
    let (session, identity) = Session::start(&config, Access::Write, report).await?;
    let session = Arc::new(session);
    let outcome = converge_stack(&config, &session, identity, printer, report, cancel).await;
    let released = session.state.release().await;
    let status = outcome?;
    released?;
    Ok(status)
}

/// Observes every resource, then creates what is missing and repairs what drifted.
async fn converge_stack(
    config: &Config,
    session: &Arc<Session>,
    identity: IdentityCheck,
    printer: &Printer,
    report: &mut Report,
    cancel: &Cancel,
) -> anyhow::Result<ExitStatus> {
    add_estimate(config, &session.ctx.region, report, true);
    let lines = Arc::new(session.lines(printer));
    session.show_progress(lines.clone(), printer);
    // The reads overlap STS; nothing is written before the account is confirmed.
    let observations = session.observe_confirmed(identity, &lines).await?;
    let observations = Arc::new(observations);
    let changed = Arc::new(Mutex::new(vec![false; session.graph.steps().len()]));
    let finished = Arc::new(Mutex::new(vec![false; session.graph.steps().len()]));
    show_waits(session, &lines, &finished.lock().expect("finished lock"));

    cancel.arm()?;
    let results = walk(&session.graph, Direction::Forward, cancel, |i| {
        let (session, observations, changed, lines, finished) = (
            session.clone(),
            observations.clone(),
            changed.clone(),
            lines.clone(),
            finished.clone(),
        );
        async move {
            let outcome = converge(&session, i, &observations[i], &changed, &lines[i]).await;
            if let Err(err) = &outcome {
                lines[i].done("✗", &format!("failed: {}", err.root_cause()));
            }
            let mut finished = finished.lock().expect("finished lock");
            finished[i] = true;
            show_waits(&session, &lines, &finished);
            outcome
        }
    })
    .await;

    let mut failures = Vec::new();
    let mut interrupted = false;
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
                failures.push(err);
            }
            NodeResult::Skipped { root } => {
                let mut line = match &observations[i] {
                    Ok(observation) => observed_report(session, i, observation),
                    Err(err) => failed_report(session, i, err),
                };
                line.action = Action::Skip;
                line.note = if root == INTERRUPTED {
                    interrupted = true;
                    "skipped: interrupted".to_string()
                } else {
                    format!("skipped: {root} failed")
                };
                lines[i].done("-", &line.note);
                report.resources.push(line);
            }
        }
    }
    if let Some(first) = failures.into_iter().next() {
        return Err(first);
    }
    if interrupted {
        return Err(Interrupted.into());
    }
    Ok(ExitStatus::Success)
}

/// A step not started yet says what it waits for ("waiting for converter-role"), rather
/// than what its first look found: "missing" next to a spinner reads like an error.
fn show_waits(session: &Session, lines: &[ProgressLine], finished: &[bool]) {
    for (j, line) in lines.iter().enumerate() {
        let waiting: Vec<&str> = session
            .graph
            .deps(j)
            .iter()
            .filter(|&&d| !finished[d])
            .map(|&d| session.graph.steps()[d].id())
            .collect();
        if !finished[j] && !waiting.is_empty() {
            line.idle(&format!("waiting for {}", waiting.join(", ")));
        }
    }
}

type Converged = (ResourceReport, Vec<(&'static str, String)>, Vec<String>);

async fn converge(
    session: &Session,
    i: usize,
    initial: &Result<Observation, Arc<anyhow::Error>>,
    changed: &Mutex<Vec<bool>>,
    line: &ProgressLine,
) -> anyhow::Result<Converged> {
    let step = session.graph.steps()[i].clone();
    let (id, ctx) = (step.id(), &*session.ctx);
    let recorded = session.state.get(id);

    // What a dependency changed may change what this step wants: look again. Otherwise the
    // first look stands, and a converged stack is one round of reads. A resource found
    // missing stays missing (nothing but this run creates it, and a create that meets it
    // already there adopts it): looking again would only cost a round trip on the
    // critical path of every first `up`.
    let deps_changed = session
        .graph
        .deps(i)
        .iter()
        .any(|&j| changed.lock().expect("changed lock")[j])
        && !matches!(initial, Ok(Observation::Missing));
    let observation = if deps_changed {
        line.working("checking");
        step.observe(ctx, recorded.as_ref())
            .await
            .map_err(|e| step_failure(id, e))?
    } else {
        initial.as_ref().map_err(Shared::error)?.clone()
    };

    let mut report = observed_report(session, i, &observation);
    let save = |record: Recorded| session.state.set(id, Some(record));
    let extra = recorded
        .as_ref()
        .map(|r| r.extra.clone())
        .unwrap_or_default();

    let (ownership, applied) = match &observation {
        Observation::Missing => {
            let name = ctx.names.get(id).cloned().unwrap_or_default();
            save(Recorded {
                name,
                arn: String::new(),
                ownership: Ownership::Creating,
                extra: extra.clone(),
            })
            .await
            .context("recording the intent to create")?;
            line.working("creating");
            let applied = step
                .apply(ctx, &observation, None)
                .await
                .map_err(|e| step_failure(id, e))?;
            let ownership = if applied.adopted {
                Ownership::Adopted
            } else {
                Ownership::Created
            };
            report.action = Action::Create;
            report.note = if applied.adopted {
                "adopted: it already existed".into()
            } else {
                String::new()
            };
            (ownership, Some(applied))
        }
        Observation::Present(present) if !present.drift.is_empty() => {
            let ownership = session.ownership(id, present.tagged_ours);
            line.working("updating");
            let applied = step
                .apply(ctx, &observation, Some(ownership))
                .await
                .map_err(|e| step_failure(id, e))?;
            report.action = Action::Update;
            report.note = format!("repaired: {}", report.drift.join("; "));
            (ownership, Some(applied))
        }
        Observation::Present(present) => (session.ownership(id, present.tagged_ours), None),
    };

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
    }
    if matches!(observation, Observation::Missing) {
        // Known only now for some (a distribution's domain).
        report.name = step.shown_name(ctx);
    }
    let present = observation.present();
    let record = Recorded {
        name: present
            .map(|p| p.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| report.name.clone()),
        arn: applied
            .as_ref()
            .map(|a| a.arn.clone())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| report.arn.clone()),
        ownership,
        extra: applied
            .as_ref()
            .map(|a| a.extra.clone())
            .filter(|e| !e.is_empty())
            .unwrap_or(extra),
    };
    if let Some(applied) = &applied {
        outputs.extend(applied.outputs.clone());
        changed.lock().expect("changed lock")[i] = true;
        report.status = Status::Ok;
        report.drift.clear();
    }
    report.arn = record.arn.clone();
    if ownership == Ownership::Adopted && report.note.is_empty() {
        report.note = "adopted".into();
    }
    save(record).await.context("saving the state file")?;
    let symbol = if report.status == Status::Pending {
        "…"
    } else {
        "✓"
    };
    line.done(symbol, &word(&report));
    Ok((report, outputs, changes))
}

fn word(r: &ResourceReport) -> String {
    match (r.action, r.status) {
        (Action::Create, _) => "created".into(),
        (Action::Update, _) => "updated".into(),
        (Action::Skip, _) => "skipped".into(),
        (_, Status::Pending) => "pending".into(),
        _ => "ok".into(),
    }
}

pub fn text(report: &Report) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, word));
    let count = |a: Action| report.resources.iter().filter(|r| r.action == a).count();
    if report.error.is_none() {
        out.push_str(&format!(
            "up: {} created, {} updated, {} unchanged\n",
            count(Action::Create),
            count(Action::Update),
            count(Action::None)
        ));
        // Before the outputs: the text summary ends with the playback URL.
        out.push_str(&cost_lines(report));
        for (key, value) in &report.outputs {
            if let Some(value) = value {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
        if let Some(Some(domain)) = report.outputs.get("distribution_domain") {
            out.push_str(&format!(
                "playback URL: https://{domain}/<key without extension>-hd.mp4\n"
            ));
        }
    }
    out
}
