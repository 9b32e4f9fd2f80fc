//! The session every command that reads the stack opens: configuration → state → AWS
//! identity → resource names, and the clients and state store it works with.

use std::sync::{Arc, Mutex};

use cattube_stages::aws::{self, Connection};
use cattube_stages::remote_state::RemoteObject;
use cattube_stages::{naming, regions};
use cattube_stages::{
    Clients, Observation, ObserveContext, Ownership, Registry, StackContext, StepError,
};
use tokio::task::JoinSet;

use crate::config::{Config, StateLocation};
use crate::error::{ExitStatus, UsageError};
use crate::plan::Graph;
use crate::printer::{Printer, ProgressLine, Report};
use crate::state::{LocalFile, S3Object, State};

use super::{identity_failure, learn, step_failure};

/// Everything a command works with once configuration, state and AWS identity are known.
pub struct Session {
    pub ctx: Arc<StackContext>,
    pub state: Arc<State>,
    /// The registry's resources in dependency order (the names above are its too).
    pub graph: Graph,
}

/// Each resource's first look, indexed as the graph's steps; a failed one is shared by its
/// report line and the command's error.
pub type Observations = Vec<Result<Observation, Arc<anyhow::Error>>>;

/// Whether the command writes: writers hold the state lock for the whole run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The stack's region: the configuration's, else the AWS SDK's; one cattube supports.
pub async fn region(config: &Config) -> anyhow::Result<String> {
    let region = match &config.region {
        Some(region) => region.clone(),
        None => {
            let region = aws::default_region(config.profile.as_deref())
                .await
                .ok_or_else(|| {
                    UsageError::new(
                    "no AWS region: pass --region, set CATTUBE_REGION or `region` in cattube.toml, \
                     or configure the AWS SDK's (AWS_REGION or the profile's region)",
                )
                })?;
            naming::validate_region(&region)
                .map_err(|e| UsageError::new(format!("the AWS SDK's region '{region}' {e}")))?;
            region
        }
    };
    if let Some(why) = regions::unsupported(&region) {
        return Err(UsageError::new(format!(
            "{why} (--region, CATTUBE_REGION or `region` in cattube.toml)"
        ))
        .into());
    }
    Ok(region)
}

/// Every resource's name for this account and region, each valid for its kind.
pub fn names(
    registry: &Registry,
    config: &Config,
    account: &str,
    region: &str,
) -> anyhow::Result<std::collections::BTreeMap<&'static str, String>> {
    let names = registry.resolve_names(&config.stack, account, region, &config.names);
    for (id, kind, _) in registry.named() {
        naming::validate_name(kind, &names[id]).map_err(|e| {
            UsageError::new(format!(
                "the {id} name '{}' {e}: set a shorter stack name or `{id}` under [names] in cattube.toml",
                names[id]
            ))
        })?;
    }
    Ok(names)
}

/// The configuration with, for each resource the stack adopted under a name of its own
/// (`adopt --from-tutorial`: the tutorial's buckets, its OAC's and event entry's names), that
/// name, unless `[names]` names the resource.
fn adopted_names(config: &Config, state: &State) -> Config {
    let registry = Registry::standard();
    let mut config = config.clone();
    for (id, record) in state.resources() {
        if record.ownership == Ownership::Adopted
            && !record.name.is_empty()
            && registry.kind_of(&id).is_some()
        {
            config.names.entry(id).or_insert(record.name);
        }
    }
    config
}

/// The account check of a session started with [`Session::start`]: STS GetCallerIdentity,
/// in flight while the session already reads. It must be confirmed before anything is
/// written or reported.
#[must_use = "the account must be confirmed before the session writes or reports"]
pub struct IdentityCheck(Option<tokio::task::JoinHandle<Result<String, StepError>>>);

impl IdentityCheck {
    /// Waits for STS and refuses a state file of another account, exactly as
    /// [`Session::open`] does before its first read.
    pub async fn confirm(self, session: &Session) -> anyhow::Result<()> {
        let Some(sts) = self.0 else { return Ok(()) };
        let account = sts
            .await
            .expect("the sts:GetCallerIdentity task")
            .map_err(identity_failure)?;
        session
            .state
            .check_identity(&account, &session.ctx.region)?;
        Ok(())
    }
}

impl Session {
    /// Opens a session: its account is confirmed with STS before it returns. The simple
    /// form, for a command with no reads of its own to overlap STS with (`upload`, `jobs`,
    /// `url`).
    pub async fn open(
        config: &Config,
        access: Access,
        report: &mut Report,
    ) -> anyhow::Result<Session> {
        let (session, identity) = Session::start(config, access, report).await?;
        identity.confirm(&session).await?;
        Ok(session)
    }

    /// Opens a session without waiting for STS when the state file already names the
    /// account: the names derive from it, so the first reads need not wait a round trip for
    /// GetCallerIdentity. The caller confirms the [`IdentityCheck`] before it writes or
    /// reports anything; without a state file it is confirmed already.
    pub async fn start(
        config: &Config,
        access: Access,
        report: &mut Report,
    ) -> anyhow::Result<(Session, IdentityCheck)> {
        report.stack = Some(config.stack.clone());
        report.emulator = aws::local_emulator();
        // Local checks first: a bad state file, no region or no credentials, then a held
        // lock, fail before any AWS call; the lock file is made only once the inputs are good.
        let local = match &config.state {
            StateLocation::Local(path) => {
                Some(State::load(Arc::new(LocalFile::new(path)), &config.stack).await?)
            }
            StateLocation::S3 { .. } => None,
        };
        let (region, clients) = connect(config, report).await?;
        if let (Some(state), Access::Write) = (&local, access) {
            state.lock().await?;
        }
        let state = match local {
            Some(state) => state,
            // The shared state is read, and locked, once AWS can be reached.
            None => {
                let store = remote_store(config, &region, &clients).expect("an S3 state location");
                let state = State::load(store, &config.stack).await?;
                if access == Access::Write {
                    state.lock().await?;
                }
                state
            }
        };
        let (account, identity) = match state.recorded_account(&region) {
            Some(account) => {
                let clients = clients.clone();
                let sts = tokio::spawn(async move { clients.account_id().await });
                (account, IdentityCheck(Some(sts)))
            }
            None => {
                let account = clients.account_id().await.map_err(identity_failure)?;
                (account, IdentityCheck(None))
            }
        };
        report.account = Some(account.clone());
        state.check_identity(&account, &region)?;

        let registry = Registry::standard();
        let names = names(&registry, &adopted_names(config, &state), &account, &region)?;
        let ctx = StackContext::new(
            &config.stack,
            &account,
            &region,
            names,
            &config.tags,
            config.settings.clone(),
            clients,
        );
        // What earlier runs recorded spares this run the lookups.
        for (id, record) in state.resources() {
            ctx.learn_recorded(&id, &record);
        }
        let session = Session {
            ctx: Arc::new(ctx),
            state: Arc::new(state),
            graph: Graph::for_settings(&registry, &config.settings)
                .map_err(|e| anyhow::anyhow!("cattube's resource registry is invalid: {e}"))?,
        };
        Ok((session, identity))
    }

    /// One progress line per resource, indexed as the graph's steps, drawn by stage.
    pub fn lines(&self, printer: &Printer) -> Vec<ProgressLine> {
        let mut lines: Vec<Option<ProgressLine>> = vec![None; self.graph.steps().len()];
        for i in self.graph.display_order() {
            let step = &self.graph.steps()[i];
            lines[i] = Some(printer.line(step.stage(), step.id()));
        }
        lines
            .into_iter()
            .map(|l| l.expect("every step has a line"))
            .collect()
    }

    /// Shows what a step reports while it waits (CloudFront deploying) on its progress line,
    /// or, without a terminal, as a plain stderr line at most every 30 s.
    pub fn show_progress(&self, lines: Arc<Vec<ProgressLine>>, printer: &Printer) {
        let ids: Vec<&'static str> = self.graph.steps().iter().map(|s| s.id()).collect();
        let plain = printer.plain_progress().then(|| printer.clone());
        let last = Mutex::new(None::<std::time::Instant>);
        self.ctx.set_progress(Arc::new(move |id, message| {
            if let Some(i) = ids.iter().position(|x| *x == id) {
                lines[i].working(message);
            }
            if let Some(printer) = &plain {
                let mut last = last.lock().expect("progress lock");
                if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(30)) {
                    printer.note(format!("{id}: {message}"));
                    *last = Some(std::time::Instant::now());
                }
            }
        }));
    }

    /// Ends a writing command: releases the state lock whatever its outcome, whose error
    /// comes first.
    pub async fn release(&self, outcome: anyhow::Result<ExitStatus>) -> anyhow::Result<ExitStatus> {
        let released = self.state.release().await;
        let status = outcome?;
        released?;
        Ok(status)
    }

    /// What `up` and `down` start with: the progress lines, showing what the steps report
    /// while they wait, and every resource observed while STS confirms the account.
    pub async fn observe_with_progress(
        &self,
        identity: IdentityCheck,
        printer: &Printer,
    ) -> anyhow::Result<(Arc<Vec<ProgressLine>>, Observations)> {
        let lines = Arc::new(self.lines(printer));
        self.show_progress(lines.clone(), printer);
        let observations = self.observe_confirmed(identity, &lines).await?;
        Ok((lines, observations))
    }

    /// Observes every resource while STS confirms the account ([`Session::start`]): the
    /// observations once it is confirmed.
    pub async fn observe_confirmed(
        &self,
        identity: IdentityCheck,
        lines: &[ProgressLine],
    ) -> anyhow::Result<Observations> {
        let (observations, confirmed) =
            tokio::join!(self.observe_all(lines), identity.confirm(self));
        confirmed?;
        Ok(observations)
    }

    /// Observes every resource in parallel: reads only, one round trip deep.
    pub async fn observe_all(&self, lines: &[ProgressLine]) -> Observations {
        let mut tasks = JoinSet::new();
        for (i, step) in self.graph.steps().iter().enumerate() {
            let (step, ctx) = (step.clone(), self.ctx.clone());
            let recorded = self.state.get(step.id());
            lines[i].working("checking");
            let line = lines[i].clone();
            tasks.spawn(async move {
                let observed = step
                    .observe(&ObserveContext::new(&ctx, recorded.as_ref()))
                    .await;
                if let Ok(Observation::Present(present)) = &observed {
                    learn(&ctx, step.id(), &present.arn, &present.outputs);
                }
                line.idle(match &observed {
                    Ok(Observation::Missing) => "missing",
                    Ok(Observation::Present(p)) if !p.drift.is_empty() => "drifted",
                    Ok(Observation::Present(_)) => "found",
                    Err(_) => "check failed",
                });
                (i, observed)
            });
        }
        let mut observations: Vec<Option<Result<Observation, Arc<anyhow::Error>>>> =
            (0..self.graph.steps().len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (i, observed) = joined.expect("observe task");
            observations[i] =
                Some(observed.map_err(|e| Arc::new(step_failure(self.graph.steps()[i].id(), e))));
        }
        observations
            .into_iter()
            .map(|o| o.expect("every step observed"))
            .collect()
    }

    /// Who owns an existing resource: the state's record if there is one, otherwise its
    /// tags (a stack whose state file was lost still recognises what it created).
    pub fn ownership(&self, id: &str, tagged_ours: bool) -> Ownership {
        match self.state.get(id).map(|r| r.ownership) {
            Some(Ownership::Creating) | Some(Ownership::Created) => Ownership::Created,
            Some(Ownership::Adopted) if !tagged_ours => Ownership::Adopted,
            _ if tagged_ours => Ownership::Created,
            _ => Ownership::Adopted,
        }
    }
}

/// The region (checked) and the clients of a command: `--profile` and the region are
/// bad input (exit 2) before any call.
pub async fn connect(config: &Config, report: &mut Report) -> anyhow::Result<(String, Clients)> {
    connect_as(config, report, true).await
}

/// [`connect`] for a command that may need no credentials at all (`permissions --account`):
/// with `credentials_needed` false, none is said only when a call needs them.
pub async fn connect_as(
    config: &Config,
    report: &mut Report,
    credentials_needed: bool,
) -> anyhow::Result<(String, Clients)> {
    // A profile no file defines is bad input, said before the SDK stumbles over it.
    aws::check_profile(config.profile.as_deref())
        .await
        .map_err(|e| UsageError::new(e.to_string()))?;
    let region = region(config).await?;
    report.region = Some(region.clone());
    let clients = aws::connect(&Connection {
        region: Some(region.clone()),
        profile: config.profile.clone(),
        check_credentials: credentials_needed,
    })
    .await
    .map_err(|e| UsageError::new(e.to_string()))?;
    Ok((region, clients))
}

/// The S3 store of an S3 state location (`None` for the local file), its key resolved for
/// `region`.
pub fn remote_store(config: &Config, region: &str, clients: &Clients) -> Option<Arc<S3Object>> {
    let StateLocation::S3 { bucket, key } = &config.state else {
        return None;
    };
    let key = StateLocation::s3_key(key, &config.stack, region);
    // The key names the stack's region; the bucket may live in another (`[state] region`).
    let bucket_region = config.state_region.as_deref().unwrap_or(region);
    let s3 = cattube_stages::remote_state::client_in(&clients.s3, bucket_region);
    let command: Vec<String> = std::env::args()
        .enumerate()
        .map(|(i, arg)| if i == 0 { "cattube".into() } else { arg })
        .collect();
    Some(Arc::new(S3Object::new(
        RemoteObject::new(s3, bucket, &key),
        bucket_region,
        &command.join(" "),
    )))
}
