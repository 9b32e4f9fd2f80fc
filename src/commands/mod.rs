//! One file per command, each whole in it: what it does ([`Verb::run`]), the fields it adds
//! to the JSON document ([`Verb::Fields`]) and its text summary ([`Verb::text`]). This module
//! holds what they share: opening a session (config → state → AWS identity → resource
//! names) and observing every resource at once.

pub mod adopt;
pub mod cost;
pub mod down;
pub mod gc;
pub mod jobs;
pub mod keys;
pub mod open;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod stacks;
pub mod state;
pub mod status;
pub mod up;
pub mod upload;
pub mod upload_url;
pub mod url;
pub mod videos;

mod session;
pub use session::{
    connect, connect_as, names, remote_store, Access, IdentityCheck, Observations, Session,
};

use cattube_stages::{Observation, Ownership, StackContext, StepError};

use crate::config::Config;
use crate::error::{ExitStatus, Interrupted, Shared, UsageError};
use crate::plan::{Cancel, INTERRUPTED};
use crate::pricing::Estimate;
use crate::printer::{Action, Printer, Report, ResourceReport, Status};

/// What every command runs with, and what it fills in: the JSON document's common part
/// and the command's own fields (`F`, its [`Verb::Fields`]).
pub struct Invocation<'a, F> {
    pub config: &'a Config,
    pub printer: &'a Printer,
    pub cancel: &'a Cancel,
    pub report: &'a mut Report,
    pub fields: &'a mut F,
}

/// One command of the command line, implemented on its parsed arguments (`cli/args.rs`), so that
/// `main.rs` only maps each subcommand to its arguments.
pub trait Verb {
    /// The command's own fields of the JSON document, between `outputs` and `warnings`.
    type Fields: serde::Serialize + Default;

    async fn run(&self, at: &mut Invocation<'_, Self::Fields>) -> anyhow::Result<ExitStatus>;

    /// The text summary on stdout (without `--output json`).
    fn text(&self, report: &Report, fields: &Self::Fields) -> String;
}

/// Which of the two reports of what is there: `plan` adds the cost estimate and reports
/// what would change (its outputs stay null); `status` reports the outputs found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    Plan,
    Status,
}

/// What `plan` and `status` share: observe every resource (the reads overlap STS) and report
/// each as found. The first failed check is the command's error, once every resource has
/// its line. `plan` prices a minute of video in `cost`.
pub async fn observe_and_report(
    config: &Config,
    printer: &Printer,
    report: &mut Report,
    view: View,
    cost: &mut Option<Estimate>,
) -> anyhow::Result<()> {
    let (session, identity) = Session::start(config, Access::Read, report).await?;
    if view == View::Plan {
        add_estimate(config, &session.ctx.region, report, cost, true);
    }
    let lines = session.lines(printer);
    let observations = session.observe_confirmed(identity, &lines).await?;
    if view == View::Status {
        warn_unversioned(config, &session, report).await;
        warn_failed_deliveries(&session, report).await;
    }
    let mut first_error = None;
    for (i, observation) in observations.iter().enumerate() {
        match observation {
            Ok(observation) => {
                if let (View::Status, Some(present)) = (view, observation.present()) {
                    for (key, value) in &present.outputs {
                        report.set_output(key, value.clone());
                    }
                }
                report
                    .resources
                    .push(observed_report(&session, i, observation));
            }
            Err(error) => {
                report.resources.push(failed_report(&session, i, error));
                first_error.get_or_insert_with(|| error.clone());
            }
        }
    }
    if view == View::Status {
        set_player_url(&session.ctx, report);
    }
    match first_error {
        Some(error) => Err(Shared::error(&error)),
        None => Ok(()),
    }
}

/// `player_url`: the distribution's root, which serves the player page (its default root
/// object), when the player is on.
pub fn set_player_url(ctx: &cattube_stages::StackContext, report: &mut Report) {
    if !ctx.settings.player_enabled {
        return;
    }
    if let Some(domain) = report.serving_domain() {
        report.set_output(
            "player_url",
            cattube_stages::catalog::player_url(&domain, None),
        );
    }
}

/// The converter function's failed deliveries, kept in the failures bucket: a warning with
/// what to do, since each is an upload (or a job event) nothing converted or recorded.
async fn warn_failed_deliveries(session: &Session, report: &mut Report) {
    match cattube_stages::failures::record_keys(&session.ctx).await {
        Ok(Some(keys)) if !keys.is_empty() => report.warnings.push(format!(
            "{} failed deliveries: the converter function failed on them after Lambda's \
             retries (`cattube jobs` lists them, `cattube jobs --retry-failed` replays them)",
            keys.len()
        )),
        Ok(_) => {}
        Err(err) => report
            .warnings
            .push(format!("could not count the failed deliveries: {err}")),
    }
}

/// A shared state in a bucket that keeps no versions: one bad write and it is gone.
async fn warn_unversioned(config: &Config, session: &Session, report: &mut Report) {
    let Some(store) = remote_store(config, &session.ctx.region, &session.ctx.clients) else {
        return;
    };
    let object = store.object();
    match object.versioned().await {
        Ok(true) => {}
        Ok(false) => report.warnings.push(format!(
            "the state bucket {} does not keep versions: turn on versioning, so that an \
             overwritten or deleted state can be restored",
            object.bucket
        )),
        Err(err) => report.warnings.push(format!(
            "could not read whether the state bucket {} keeps versions ({}): without \
             versioning an overwritten or deleted state cannot be restored",
            object.bucket,
            cattube_stages::error::chain(&err)
        )),
    }
}

/// How a walk ended, gathered from its steps' results: the first failure, else an
/// interruption if a step was skipped for it.
#[derive(Default)]
pub struct WalkOutcome {
    failures: Vec<anyhow::Error>,
    interrupted: bool,
}

impl WalkOutcome {
    pub fn failed(&mut self, err: anyhow::Error) {
        self.failures.push(err);
    }

    /// The note of a step skipped because `root` failed (or the walk was interrupted).
    pub fn skipped(&mut self, root: &str) -> String {
        if root == INTERRUPTED {
            self.interrupted = true;
            "skipped: interrupted".to_string()
        } else {
            format!("skipped: {root} failed")
        }
    }

    pub fn into_result(self) -> anyhow::Result<()> {
        if let Some(first) = self.failures.into_iter().next() {
            return Err(first);
        }
        if self.interrupted {
            return Err(Interrupted.into());
        }
        Ok(())
    }
}

/// STS could not say who the credentials are: no credentials at all is bad setup (exit 2,
/// one line with the remedy); anything else a failed call, with AWS's words as its cause.
pub(crate) fn identity_failure(err: StepError) -> anyhow::Error {
    match err.setup_problem() {
        Some(problem) => UsageError::new(problem.to_string()).into(),
        None => anyhow::Error::new(err).context("cannot reach AWS with these credentials"),
    }
}

/// The report line of a resource as observed.
pub fn observed_report(session: &Session, i: usize, observation: &Observation) -> ResourceReport {
    let step = &session.graph.steps()[i];
    let fallback_name = step.shown_name(&session.ctx);
    if !step.wanted(&session.ctx.settings) {
        return unwanted_report(session, i, observation);
    }
    match observation {
        Observation::Missing => ResourceReport {
            id: step.id(),
            stage: step.stage(),
            name: fallback_name,
            arn: String::new(),
            action: Action::Create,
            status: Status::Missing,
            drift: vec!["does not exist".into()],
            note: String::new(),
            off: false,
        },
        Observation::Present(p) => {
            let status = if !p.drift.is_empty() {
                Status::Drifted
            } else if p.pending.is_some() {
                Status::Pending
            } else {
                Status::Ok
            };
            let mut drift: Vec<String> = p.drift.iter().map(|d| d.detail.clone()).collect();
            if let Some(pending) = &p.pending {
                drift.push(pending.clone());
            }
            let adopted = session.ownership(step.id(), p.tagged_ours) == Ownership::Adopted;
            ResourceReport {
                id: step.id(),
                stage: step.stage(),
                name: if p.name.is_empty() {
                    fallback_name
                } else {
                    p.name.clone()
                },
                arn: p.arn.clone(),
                action: if p.drift.is_empty() {
                    Action::None
                } else {
                    Action::Update
                },
                status,
                drift,
                note: if adopted && !p.originals().is_empty() {
                    format!("adopted: {}", cattube_stages::original::NOTE)
                } else if adopted {
                    "adopted".into()
                } else {
                    String::new()
                },
                off: false,
            }
        }
    }
}

/// The report line of a resource these settings do not want (`Step::wanted`): nothing to
/// do when it is missing; one the stack owns is what `up` deletes.
fn unwanted_report(session: &Session, i: usize, observation: &Observation) -> ResourceReport {
    let step = &session.graph.steps()[i];
    let reason = step.unwanted_reason();
    let mut report = ResourceReport {
        id: step.id(),
        stage: step.stage(),
        name: step.shown_name(&session.ctx),
        arn: String::new(),
        action: Action::None,
        status: Status::Ok,
        drift: Vec::new(),
        note: reason.to_string(),
        off: matches!(observation, Observation::Missing),
    };
    if let Observation::Present(p) = observation {
        report.arn = p.arn.clone();
        if session.ownership(step.id(), p.tagged_ours) == Ownership::Adopted {
            report.note = format!("adopted, {reason}: left in place");
        } else {
            report.action = Action::Delete;
            report.status = Status::Drifted;
            report.drift = vec![format!("{reason}: `up` deletes it")];
            report.note = String::new();
        }
    }
    report
}

/// The report line of a resource whose check failed.
pub fn failed_report(session: &Session, i: usize, error: &anyhow::Error) -> ResourceReport {
    let step = &session.graph.steps()[i];
    ResourceReport {
        id: step.id(),
        stage: step.stage(),
        name: step.shown_name(&session.ctx),
        arn: String::new(),
        action: Action::Skip,
        status: Status::Missing,
        drift: Vec::new(),
        note: format!("failed: {}", error.root_cause()),
        off: false,
    }
}

/// A stage-8 command's error: "the stack is not up" is bad usage (exit 2: nothing was
/// changed, `cattube up` is the remedy), anything else a failed operation.
pub fn video_failure(err: cattube_stages::videos::VideoError) -> anyhow::Error {
    match err {
        cattube_stages::videos::VideoError::NotUp(message) => UsageError::new(message).into(),
        cattube_stages::videos::VideoError::Aws(err) => err.into(),
    }
}

/// The estimate of what each minute of uploaded video costs, from the job template `up`
/// registers (`[job] template` or the built-in job.json) and the price table; `warn` adds
/// the guard's warnings (Professional tier, more than two outputs).
pub fn add_estimate(
    config: &Config,
    region: &str,
    report: &mut Report,
    cost: &mut Option<Estimate>,
    warn: bool,
) {
    let estimate = crate::pricing::estimate(&config.settings.job.document, region, &config.prices);
    if warn {
        report.warnings.extend(estimate.warnings());
    }
    *cost = Some(estimate);
}

impl EstimateFields {
    /// The `[job]` limits priced with the estimate just made.
    pub fn price_limits(&mut self, config: &Config) {
        self.limits = self
            .cost
            .as_ref()
            .and_then(|estimate| crate::limits::Limits::of(&config.settings, estimate));
    }

    /// The estimate, the limits and the warnings, as the text summary shows them.
    pub fn lines(&self, report: &Report) -> String {
        crate::printer::cost_lines(report, self.cost.as_ref(), self.limits.as_ref())
    }
}

/// The fields of a command that prices a minute of video (`plan`, `up`).
#[derive(Debug, Default, serde::Serialize)]
pub struct EstimateFields {
    /// What each minute of uploaded video costs (an estimate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Estimate>,
    /// The `[job]` limits and what the daily cap costs at most (only when a limit is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::limits::Limits>,
}

/// A step's error, headed by the resource it failed on.
pub fn step_failure(id: &str, err: StepError) -> anyhow::Error {
    if err.is_refusal() {
        return anyhow::Error::new(UsageError::new(err.to_string()))
            .context(format!("{id} refused"));
    }
    anyhow::Error::new(err).context(format!("{id} failed"))
}

/// The first refusal among the observations ([`StepError::refused`]): a command that would
/// write stops on it before its first write.
pub fn first_refusal(observations: &Observations) -> Option<anyhow::Error> {
    observations.iter().find_map(|o| match o {
        Err(err) if ExitStatus::of_error(err) == ExitStatus::Usage => Some(Shared::error(err)),
        _ => None,
    })
}

/// Tells later steps what a step found or made: its ARN and its outputs.
pub fn learn(
    ctx: &StackContext,
    id: &str,
    arn: &str,
    outputs: &std::collections::BTreeMap<&'static str, String>,
) {
    ctx.learn_found(id, arn, outputs);
}
