//! `cattube up`: create the stack or converge it. Observes everything at once, then walks
//! the graph: a missing resource is created (its intent recorded first), a drifted one is
//! repaired, a converged one costs no write at all.

mod convergence;

use std::sync::{Arc, Mutex};

use crate::cli::UpArgs;
use crate::commands::{
    add_estimate, failed_report, first_refusal, observed_report, Access, EstimateFields,
    IdentityCheck, Invocation, Session, Verb, WalkOutcome,
};
use crate::config::Config;
use crate::error::ExitStatus;
use crate::plan::{walk, Cancel, Direction, NodeResult};
use crate::pricing::Estimate;
use crate::printer::{
    header, off_count, resource_lines, Action, Printer, Report, ResourceReport, Status,
};
use convergence::{Converged, Convergence};

impl Verb for UpArgs {
    type Fields = EstimateFields;

    async fn run(&self, at: &mut Invocation<'_, EstimateFields>) -> anyhow::Result<ExitStatus> {
        let outcome = run(
            at.config,
            self,
            at.printer,
            at.report,
            &mut at.fields.cost,
            at.cancel,
        )
        .await;
        at.fields.price_limits(at.config);
        outcome
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
    if report.error.is_none() {
        let create = report.with_action(Action::Create);
        let update = report.with_action(Action::Update);
        let (unchanged, off) = (report.unchanged(), off_count(report));
        // Deleted only when the settings dropped an optional resource.
        let deleted = match report.with_action(Action::Delete) {
            0 => String::new(),
            n => format!(", {n} deleted"),
        };
        out.push_str(&format!(
            "up: {create} created, {update} updated, {unchanged} unchanged{deleted}{off}\n"
        ));
        // Before the outputs: the text summary ends with where videos play.
        out.push_str(&fields.lines(report));
        for (key, value) in &report.outputs {
            if let Some(value) = value {
                out.push_str(&format!("  {key}: {value}\n"));
            }
        }
        out.push_str(&player_lines(report));
        if let Some(domain) = report.serving_domain() {
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
