//! `cattube state unlock | pull | push FILE`: the shared state (an S3 object, `[state]
//! backend = "s3"` or `--state s3://…`) by hand: clear a lock a killed run left, print the
//! document, move a local state file into the shared store.

use std::sync::Arc;

use crate::cli::{StateArgs, StateCommand};
use crate::commands::{connect, remote_store, Invocation, Verb};
use crate::config::{Config, StateLocation};
use crate::error::{ExitStatus, UsageError};
use crate::printer::{Printer, Report};
use crate::state::{LocalFile, State, StateStore};

/// The fields `state` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct StateFields {
    /// `state pull`: the state document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
}

impl Verb for StateArgs {
    type Fields = StateFields;

    async fn run(&self, at: &mut Invocation<'_, StateFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.printer, at.report, at.fields).await
    }

    fn text(&self, _: &Report, fields: &StateFields) -> String {
        text(fields)
    }
}

async fn run(
    config: &Config,
    args: &StateArgs,
    printer: &Printer,
    report: &mut Report,
    fields: &mut StateFields,
) -> anyhow::Result<ExitStatus> {
    report.stack = Some(config.stack.clone());
    if let (StateCommand::Unlock { yes: false }, false) = (&args.command, printer.interactive()) {
        return Err(UsageError::new(
            "state unlock removes another run's lock: pass --yes to confirm when there is no terminal to ask on",
        )
        .into());
    }
    if let (StateLocation::Local(path), StateCommand::Pull) = (&config.state, &args.command) {
        let store: Arc<dyn StateStore> = Arc::new(LocalFile::new(path));
        fields.state = pulled(store.as_ref()).await?;
        return Ok(ExitStatus::Success);
    }
    if let StateLocation::Local(path) = &config.state {
        return Err(UsageError::new(format!(
            "the state is the local file {}: `state unlock` and `state push` work on a shared \
             state; choose one with --state s3://BUCKET/KEY, CATTUBE_STATE or [state] in cattube.toml",
            path.display()
        ))
        .into());
    }
    let (region, clients) = connect(config, report).await?;
    let store = remote_store(config, &region, &clients).expect("an S3 state location");
    match &args.command {
        StateCommand::Pull => fields.state = pulled(store.as_ref()).await?,
        StateCommand::Unlock { yes } => {
            let Some(holder) = store.holder().await? else {
                printer.note(format!("{} is not locked", store.describe()));
                return Ok(ExitStatus::Success);
            };
            if !yes {
                let answer = printer.ask(&format!(
                    "{} is locked by {holder}.\nRemove the lock only if that run is gone. Type 'unlock' to remove it: ",
                    store.describe()
                ))?;
                if answer.trim() != "unlock" {
                    return Err(UsageError::new(
                        "the answer was not 'unlock'; the lock was left in place",
                    )
                    .into());
                }
            }
            store.break_lock().await?;
            printer.note(format!("removed the lock held by {holder}"));
        }
        StateCommand::Push { file } => {
            let local = State::load(Arc::new(LocalFile::new(file)), &config.stack).await?;
            let account = clients.account_id().await?;
            report.account = Some(account.clone());
            // Another stack is refused by the load, another account or region here.
            local
                .check_identity(&account, &region)
                .map_err(|e| UsageError::new(format!("{e} (state push {})", file.display())))?;
            let remote = State::load(store.clone(), &config.stack).await?;
            remote.lock().await?;
            let pushed = push(&store, &remote, &local).await;
            remote.release().await?;
            pushed?;
            printer.note(format!(
                "pushed {} ({} resources) to {}; the local file can be deleted",
                file.display(),
                local.resources().len(),
                store.describe()
            ));
        }
    }
    Ok(ExitStatus::Success)
}

/// The stored document, parsed (`null` when there is none).
async fn pulled(store: &dyn StateStore) -> anyhow::Result<Option<serde_json::Value>> {
    let Some(stored) = store.load().await? else {
        return Err(UsageError::new(format!("{} does not exist yet", store.describe())).into());
    };
    let doc = serde_json::from_str(&stored.text)
        .map_err(|e| UsageError::new(format!("{} is not valid JSON ({e})", store.describe())))?;
    Ok(Some(doc))
}

/// Writes the local state as the first version of the remote one: a remote state that
/// exists already is never replaced.
async fn push(
    store: &Arc<crate::state::S3Object>,
    remote: &State,
    local: &State,
) -> anyhow::Result<()> {
    if !remote.resources().is_empty() || store.load().await?.is_some() {
        return Err(UsageError::new(format!(
            "{} exists already: it was not replaced (`cattube state pull` shows it)",
            store.describe()
        ))
        .into());
    }
    local.copy_into(remote).await
}

fn text(fields: &StateFields) -> String {
    match &fields.state {
        Some(doc) => serde_json::to_string_pretty(doc).expect("the state serialises") + "\n",
        None => String::new(),
    }
}
