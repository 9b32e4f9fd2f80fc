//! `cattube adopt --from-tutorial`: takes over the console tutorial's hand-built stack. The
//! tutorial's resources are found (`cattube_stages::tutorial`), every resource of the stack
//! is observed as if they were adopted, and the plan says per resource what is **kept**,
//! **changed** (with the reasons `up` will act on) and **replaced** (cattube's own
//! least-privilege roles in place of the console's, which stay untouched). Confirmed, the
//! found resources are recorded in the state as adopted, nothing else is written: `up` then
//! converges, and `down` restores what `up` changed on them.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use cattube_stages::tutorial::{self, Takeover};
use cattube_stages::{Observation, ObserveContext, Ownership, Present, StackContext};
use serde::Serialize;

use crate::cli::AdoptArgs;
use crate::commands::{
    failed_report, first_refusal, step_failure, Access, Invocation, Observations, Session, Verb,
};
use crate::config::Config;
use crate::error::{ExitStatus, Shared, UsageError};
use crate::printer::{header, resource_lines, Action, Printer, Report, ResourceReport, Status};

/// The tutorial's names: `examples/tutorial.toml`, the example that reproduces them.
const TUTORIAL_TOML: &str = include_str!("../../examples/tutorial.toml");

/// One resource of the takeover, as `--output json` lists it under `takeover`.
#[derive(Clone, Debug, Serialize)]
pub struct TakeoverReport {
    /// The stack's resource id (for a replaced one: the id of cattube's own that replaces it).
    pub id: &'static str,
    pub name: String,
    /// `kept` | `changed` | `replaced` | `created`.
    pub verdict: &'static str,
    pub reasons: Vec<String>,
}

/// The fields `adopt` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct AdoptFields {
    /// Each resource of the takeover, kept, changed, replaced or created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub takeover: Option<Vec<TakeoverReport>>,
    /// Whether the takeover was recorded in the state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopted: Option<bool>,
}

impl Verb for AdoptArgs {
    type Fields = AdoptFields;

    async fn run(&self, at: &mut Invocation<'_, AdoptFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, report: &Report, fields: &AdoptFields) -> String {
        text(report, fields)
    }
}

async fn run(
    config: &Config,
    args: &AdoptArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut AdoptFields,
) -> anyhow::Result<ExitStatus> {
    let config = with_tutorial_names(config, args)?;
    let (session, identity) = Session::start(&config, Access::Write, report).await?;
    let outcome = async {
        identity.confirm(&session).await?;
        take_over(&config, args, &session, printer, report, fields).await
    }
    .await;
    session.release(outcome).await
}

/// The configuration with the tutorial's names where neither `[names]` nor a flag names
/// the resource.
fn with_tutorial_names(config: &Config, args: &AdoptArgs) -> anyhow::Result<Config> {
    #[derive(serde::Deserialize)]
    struct Example {
        names: BTreeMap<String, String>,
    }
    let example: Example = toml::from_str(TUTORIAL_TOML).expect("examples/tutorial.toml");
    let mut config = config.clone();
    for (id, name) in example.names {
        config.names.entry(id).or_insert(name);
    }
    for (id, flag) in [
        (cattube_stages::source_bucket::ID, &args.source),
        (cattube_stages::destination_bucket::ID, &args.destination),
        (cattube_stages::queue::ID, &args.queue),
        (cattube_stages::converter_function::ID, &args.function),
    ] {
        if let Some(name) = flag {
            config.names.insert(id.as_str().to_string(), name.clone());
        }
    }
    Ok(config)
}

async fn take_over(
    config: &Config,
    args: &AdoptArgs,
    session: &Session,
    printer: &Printer,
    report: &mut Report,
    fields: &mut AdoptFields,
) -> anyhow::Result<ExitStatus> {
    if let Some((id, _)) = session
        .state
        .resources()
        .into_iter()
        .find(|(_, r)| r.ownership.is_ours())
    {
        return Err(UsageError::new(format!(
            "adopt --from-tutorial: the state already records stack {}'s own resources ({id}…): \
             adopt into a new stack (--stack NAME) or remove this one with `cattube down` first",
            config.stack
        ))
        .into());
    }
    printer.note("looking for the tutorial's resources");
    let takeover = tutorial::discover(&session.ctx)
        .await
        .map_err(|e| step_failure("adopt", e))?;
    let ctx = Arc::new(adopting_context(&session.ctx, &takeover));
    let observations = observe(session, &ctx, &takeover).await;
    let takeovers = plan(session, &ctx, &takeover, &observations, report);
    fields.takeover = Some(takeovers);
    if let Some(refusal) = first_refusal(&observations) {
        return Err(refusal);
    }
    if let Some(Err(err)) = observations.iter().find(|o| o.is_err()) {
        return Err(Shared::error(err));
    }
    if !args.yes {
        if !printer.interactive() {
            printer.note("nothing recorded: pass --yes to adopt these resources");
            return Ok(ExitStatus::drift_if(true));
        }
        let question = format!(
            "{}Adopt these into stack {}? Type the stack name to confirm: ",
            text(report, fields),
            config.stack
        );
        if printer.ask(&question)?.trim() != config.stack {
            return Err(UsageError::new(
                "confirmation did not match the stack name; nothing was recorded",
            )
            .into());
        }
    }
    for (id, record) in &takeover.adopted {
        let mut record = record.clone();
        if *id == cattube_stages::converter_function::ID && !takeover.replaced.is_empty() {
            // What the stack replaced is kept with the function it served: `down` lists it.
            let replaced: Vec<serde_json::Value> = takeover
                .replaced
                .iter()
                .map(|r| serde_json::json!({"kind": r.kind, "name": r.name, "arn": r.arn}))
                .collect();
            record.extra.insert(
                format!(
                    "{}{}",
                    cattube_stages::original::PREFIX,
                    cattube_stages::converter_function::REPLACED
                ),
                serde_json::Value::Array(replaced).to_string(),
            );
        }
        session
            .state
            .set(id.as_str(), Some(record))
            .await
            .context("recording the adopted resources")?;
    }
    fields.adopted = Some(true);
    Ok(ExitStatus::Success)
}

/// The session's context with the adopted resources' live names (the OAC's, the event
/// entry's) and ids, as a session opened after the adoption has them.
fn adopting_context(ctx: &StackContext, takeover: &Takeover) -> StackContext {
    let mut names = ctx.names.clone();
    for (id, record) in &takeover.adopted {
        if let Some(name) = names.get_mut(id.as_str()) {
            *name = record.name.clone();
        }
    }
    let adopting = StackContext::new(
        &ctx.stack,
        &ctx.account,
        &ctx.region,
        names,
        &ctx.tags,
        ctx.settings.clone(),
        ctx.clients.clone(),
    );
    for (id, record) in &takeover.adopted {
        adopting.learn_recorded(id.as_str(), record);
    }
    adopting
}

/// Every resource observed as `up` would see it once the takeover is recorded.
async fn observe(session: &Session, ctx: &Arc<StackContext>, takeover: &Takeover) -> Observations {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, step) in session.graph.steps().iter().enumerate() {
        let recorded = takeover
            .record(step.spec().id)
            .cloned()
            .or_else(|| session.state.get(step.id()));
        let (step, ctx) = (step.clone(), ctx.clone());
        tasks.spawn(async move {
            let observed = step
                .observe(&ObserveContext::new(&ctx, recorded.as_ref()))
                .await;
            if let Ok(Observation::Present(present)) = &observed {
                ctx.learn_found(step.id(), &present.arn, &present.outputs);
            }
            (i, observed)
        });
    }
    let mut observations: Vec<Option<Result<Observation, Arc<anyhow::Error>>>> =
        (0..session.graph.steps().len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, observed) = joined.expect("observe task");
        let id = session.graph.steps()[i].id();
        observations[i] = Some(observed.map_err(|e| Arc::new(step_failure(id, e))));
    }
    observations
        .into_iter()
        .map(|o| o.expect("every step observed"))
        .collect()
}

/// One report line per resource, and the takeover's verdicts.
fn plan(
    session: &Session,
    ctx: &StackContext,
    takeover: &Takeover,
    observations: &Observations,
    report: &mut Report,
) -> Vec<TakeoverReport> {
    let mut verdicts = Vec::new();
    for (i, observation) in observations.iter().enumerate() {
        let step = &session.graph.steps()[i];
        let observation = match observation {
            Ok(observation) => observation,
            Err(err) => {
                report.resources.push(failed_report(session, i, err));
                continue;
            }
        };
        let adopted = takeover.record(step.spec().id).is_some()
            || session
                .state
                .get(step.id())
                .is_some_and(|r| r.ownership == Ownership::Adopted);
        let mut line = ResourceReport {
            id: step.id(),
            stage: step.stage(),
            name: step.shown_name(ctx),
            arn: String::new(),
            action: Action::None,
            status: Status::Ok,
            drift: Vec::new(),
            note: String::new(),
            off: false,
        };
        let wanted = step.wanted(&ctx.settings);
        let (verdict, reasons) = match observation {
            Observation::Present(p) => present(&mut line, p, adopted),
            Observation::Missing if !wanted => {
                line.off = true;
                line.note = step.unwanted_reason().into();
                report.resources.push(line);
                continue;
            }
            Observation::Missing => {
                line.action = Action::Create;
                line.status = Status::Missing;
                let replaced: Vec<String> = takeover
                    .replaced
                    .iter()
                    .filter(|r| r.by == step.spec().id)
                    .map(|r| format!("replaces {} {} (left in place)", r.kind, r.name))
                    .collect();
                line.note = if replaced.is_empty() {
                    "created by cattube".into()
                } else {
                    "created by cattube, replacing the tutorial's".into()
                };
                line.drift = replaced.clone();
                ("created", replaced)
            }
        };
        verdicts.push(TakeoverReport {
            id: step.id(),
            name: line.name.clone(),
            verdict,
            reasons,
        });
        report.resources.push(line);
    }
    for replaced in &takeover.replaced {
        verdicts.push(TakeoverReport {
            id: replaced.by.as_str(),
            name: replaced.name.clone(),
            verdict: "replaced",
            reasons: vec![replaced.reason.clone()],
        });
    }
    verdicts
}

/// A resource the takeover found: its line, and its verdict with the reasons.
fn present(line: &mut ResourceReport, p: &Present, adopted: bool) -> (&'static str, Vec<String>) {
    if !p.name.is_empty() {
        line.name = p.name.clone();
    }
    line.arn = p.arn.clone();
    line.drift = p.drift.iter().map(|d| d.detail.clone()).collect();
    if !p.drift.is_empty() {
        line.action = Action::Update;
        line.status = Status::Drifted;
    }
    match (adopted, p.drift.is_empty()) {
        (true, true) => {
            line.note = "kept: adopted as it is".into();
            ("kept", Vec::new())
        }
        (true, false) => {
            line.note = "changed: adopted, restored by `down`".into();
            ("changed", line.drift.clone())
        }
        (false, _) => {
            line.note = "exists: the stack's own".into();
            ("kept", line.drift.clone())
        }
    }
}

fn text(report: &Report, fields: &AdoptFields) -> String {
    let mut out = header(report);
    out.push_str(&resource_lines(report, |r| match r.action {
        Action::Create => "create".into(),
        Action::Update => "change".into(),
        Action::Skip => "skip".into(),
        _ => "keep".into(),
    }));
    if let Some(takeover) = &fields.takeover {
        let replaced: Vec<&TakeoverReport> = takeover
            .iter()
            .filter(|t| t.verdict == "replaced")
            .collect();
        if !replaced.is_empty() {
            out.push_str("replaced (left in place, never changed or deleted by cattube):\n");
            for t in replaced {
                out.push_str(&format!(
                    "  {} (by {}): {}\n",
                    t.name,
                    t.id,
                    t.reasons.join("; ")
                ));
            }
        }
        let count = |verdict| takeover.iter().filter(|t| t.verdict == verdict).count();
        if report.error.is_none() {
            out.push_str(&format!(
                "adopt: {} kept, {} changed, {} replaced, {} created by cattube\n",
                count("kept"),
                count("changed"),
                count("replaced"),
                count("created")
            ));
            out.push_str(
                "The buckets and every object in them, the distribution and its domain, and the \
                 queue and its jobs stay as they are.\n",
            );
            if fields.adopted == Some(true) {
                out.push_str(
                    "Recorded as adopted. Next: `cattube up` converges them; `cattube down` \
                     later removes only what cattube created and puts back what it changed.\n",
                );
            }
        }
    }
    out
}
