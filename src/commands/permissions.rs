//! `cattube permissions`: the least-privilege IAM policy a CI role needs to run cattube's
//! commands for this stack, generated from what each resource declares it calls
//! (`cattube_stages::permissions`), scoped to the stack's names.

use cattube_stages::permissions::{self, Command};
use cattube_stages::{naming, Registry, StackContext};

use crate::cli::PermissionsArgs;
use crate::commands::{connect_as, identity_failure, names, Invocation, Verb};
use crate::config::{Config, StateLocation};
use crate::error::{ExitStatus, UsageError};
use crate::printer::Report;

/// The fields `permissions` adds to the JSON document.
#[derive(Debug, Default, serde::Serialize)]
pub struct PermissionsFields {
    /// The IAM policy document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Value>,
}

impl Verb for PermissionsArgs {
    type Fields = PermissionsFields;

    async fn run(&self, at: &mut Invocation<'_, PermissionsFields>) -> anyhow::Result<ExitStatus> {
        run(at.config, self, at.report, at.fields).await
    }

    fn text(&self, _: &Report, fields: &PermissionsFields) -> String {
        text(fields)
    }
}

async fn run(
    config: &Config,
    args: &PermissionsArgs,
    report: &mut Report,
    fields: &mut PermissionsFields,
) -> anyhow::Result<ExitStatus> {
    if let Some(account) = &args.account {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(UsageError::new(format!(
                "--account '{account}' must be a 12-digit AWS account id"
            ))
            .into());
        }
    }
    let stack = match &args.stacks {
        Some(pattern) => {
            // The pattern is a stack name in which '*' stands for any run of its characters.
            naming::validate_stack(&pattern.replace('*', "x")).map_err(|e| {
                UsageError::new(format!(
                    "--stacks '{pattern}': with each '*' read as one letter, it {e}"
                ))
            })?;
            pattern.clone()
        }
        None => config.stack.clone(),
    };
    report.stack = Some(stack.clone());
    // Connecting makes no call; only STS is asked, and only without --account.
    let (region, clients) = connect_as(config, report, args.account.is_none()).await?;
    let account = match &args.account {
        Some(account) => account.clone(),
        None => clients.account_id().await.map_err(identity_failure)?,
    };
    report.account = Some(account.clone());
    // Every name must be valid for some stack the pattern stands for.
    let registry = Registry::standard();
    names(
        &registry,
        &Config {
            stack: stack.replace('*', "x"),
            ..config.clone()
        },
        &account,
        &region,
    )?;
    let context = |stack: &str, overrides| {
        StackContext::new(
            stack,
            &account,
            &region,
            registry.resolve_names(stack, &account, &region, overrides),
            &config.tags,
            config.settings.clone(),
            clients.clone(),
        )
    };
    let ctx = context(&stack, &config.names);
    let commands = args.r#for.each();
    // The shared state's bucket, when the state is remote; the default key names the stack
    // (or the pattern), as each stack's runs will.
    let state = match &config.state {
        StateLocation::S3 { bucket, key } => Some(permissions::RemoteState {
            bucket: bucket.clone(),
            key: StateLocation::s3_key(key, &stack, &region),
        }),
        StateLocation::Local(_) => None,
    };
    let mut parts = vec![permissions::Part {
        ctx: &ctx,
        commands: &commands,
        state: state.as_ref(),
    }];
    // gc deletes other stacks too, found by their tags, with default names and a scratch
    // local state (commands::gc): `down` for every stack of the pattern, `*` without one.
    let others = context(args.stacks.as_deref().unwrap_or("*"), &Default::default());
    if commands.contains(&Command::Gc) {
        parts.push(permissions::Part {
            ctx: &others,
            commands: &[Command::Gc],
            state: None,
        });
    }
    fields.policy = Some(permissions::policy(&registry, &parts));
    Ok(ExitStatus::Success)
}

/// The policy document alone, ready for `aws iam put-role-policy --policy-document`.
fn text(fields: &PermissionsFields) -> String {
    match &fields.policy {
        Some(policy) => format!(
            "{}\n",
            serde_json::to_string_pretty(policy).expect("the policy serialises")
        ),
        None => String::new(),
    }
}
