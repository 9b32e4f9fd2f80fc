//! The IAM permissions cattube's own calls need, declared beside the code that makes them:
//! each resource's [`crate::Spec::permissions`] says which actions its `observe`, `apply` and
//! `destroy` use and on what, and [`COMMAND_CALLS`] the calls the commands make themselves.
//! [`policy`] turns them into the least-privilege identity policy of a CI role
//! (`cattube permissions`); tests/permissions.rs checks it against the calls really made.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::grant::{Grant, Phase, Target};
use crate::{Registry, StackContext};

/// A grant resolved for one stack: the ARN it is on, its condition, its action.
type Resolved = (String, Option<(&'static str, &'static str)>, String);

/// The commands a policy allows, as `cattube permissions --for` names them: with the `clap`
/// feature (the binary's) clap parses them, and each variant's doc comment is its help. A
/// new command's policy is added here alone: its variant, its phases and its calls below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Command {
    Up,
    Down,
    // Deleting the roles a takeover's function ran as: known only from the function, so on
    // any role of the account.
    /// down --including-adopted: down, and deleting the roles a taken-over function ran as
    DownIncludingAdopted,
    // The tutorial's resources found, every step observed as `up` would, the takeover
    // recorded in the state.
    /// adopt --from-tutorial: finding the tutorial's stack, observing it, recording it
    Adopt,
    Status,
    Upload,
    // A grant is signed with the caller's credentials, so S3 checks the caller's
    // s3:PutObject when the grant is used: this is all a role that only mints grants needs,
    // besides the check that the stack is up.
    /// upload-url: minting upload grants (s3:PutObject on the source bucket's objects, which
    /// S3 checks when a grant is used, and the check that the stack is up)
    UploadUrl,
    Stacks,
    // gc runs `down` on every expired stack: on this stack (with its state) as `down` does,
    // and on any other with a scratch local state and default names, so its policy is
    // `down`'s twice: for this stack and for the pattern of the stacks it may delete (the
    // caller gives both, see [`policy`]).
    /// gc: `down` for this stack, and for every stack of --stacks (default: any stack) with
    /// default names, as gc deletes them
    Gc,
    /// state pull, push and unlock
    State,
    // Stands for every other ([`Command::each`]).
    /// All of them
    All,
}

impl Command {
    /// Every command (what `all` stands for).
    pub const ALL: [Command; 10] = [
        Command::Up,
        Command::Down,
        Command::DownIncludingAdopted,
        Command::Adopt,
        Command::Status,
        Command::Upload,
        Command::UploadUrl,
        Command::Stacks,
        Command::Gc,
        Command::State,
    ];

    /// The commands a policy for `self` allows: `all` is every one; any other, itself.
    pub fn each(self) -> Vec<Command> {
        match self {
            Command::All => Command::ALL.to_vec(),
            one => vec![one],
        }
    }

    /// The phases of every step the command runs (`up` observes then applies…).
    fn phases(self) -> &'static [Phase] {
        match self {
            Command::Up => &[Phase::Observe, Phase::Apply],
            Command::Down | Command::DownIncludingAdopted | Command::Gc => {
                &[Phase::Observe, Phase::Destroy]
            }
            Command::Status | Command::Adopt => &[Phase::Observe],
            Command::Upload
            | Command::UploadUrl
            | Command::Stacks
            | Command::State
            | Command::All => &[],
        }
    }
}

/// Calls the commands make themselves, outside any step: (commands, grant).
pub const COMMAND_CALLS: &[(&[Command], Grant)] = &[
    // Every command confirms the account before it reads or writes (commands::Session).
    (
        &Command::ALL,
        Grant::observe(&["sts:GetCallerIdentity"], Target::Any),
    ),
    (&[Command::Upload], crate::videos::UPLOAD_BUCKET),
    (&[Command::Upload], crate::videos::UPLOAD_OBJECTS),
    (&[Command::Upload], crate::videos::UPLOAD_DISTRIBUTION),
    (&[Command::Upload], crate::videos::UPLOAD_JOB_TEMPLATE),
    (&[Command::UploadUrl], crate::videos::UPLOAD_BUCKET),
    (&[Command::UploadUrl], crate::upload_grant::GRANT_OBJECTS),
    (&[Command::Stacks, Command::Gc], crate::stacks::LIST),
    // `keys rotate` (a private stack): whoever deploys rotates; the public keys and the key
    // group are written with their `up` grants.
    (&[Command::Up], crate::signing_secret::WRITE),
    (
        &[Command::DownIncludingAdopted],
        crate::resources::iam_role::DELETE_OTHER,
    ),
];

/// Every grant the commands need, for the stack of `ctx`.
fn grants(registry: &Registry, ctx: &StackContext, commands: &[Command]) -> BTreeSet<Resolved> {
    let mut all = BTreeSet::new();
    let mut add = |grant: &Grant| {
        let on = grant.on.arn(ctx);
        all.extend(
            grant
                .actions
                .iter()
                .map(|a| (on.clone(), grant.only_if, a.to_string())),
        );
    };
    for command in commands {
        let phases = command.phases();
        for step in registry.steps() {
            for grant in step.spec().permissions {
                if phases.contains(&grant.phase) {
                    add(grant);
                }
            }
        }
        for (users, grant) in COMMAND_CALLS {
            if users.contains(command) {
                add(grant);
            }
        }
        if *command == Command::Adopt {
            crate::operations::tutorial::DISCOVER
                .iter()
                .for_each(&mut add);
        }
    }
    all
}

/// Where a remote state lives, for its grants: the bucket and the state object's key.
#[derive(Clone, Debug)]
pub struct RemoteState {
    pub bucket: String,
    pub key: String,
}

/// The grants of the state bucket's calls ([`crate::remote_state::grants`]): on the bucket,
/// on the state object and on its lock object.
fn state_grants(
    ctx: &StackContext,
    state: &RemoteState,
    commands: &[Command],
) -> BTreeSet<Resolved> {
    use crate::remote_state::grants::*;
    let bucket = format!("arn:{}:s3:::{}", ctx.partition(), state.bucket);
    let object = format!("{bucket}/{}", state.key);
    let lock = format!("{bucket}/{}.lock", state.key);
    let mut all = BTreeSet::new();
    for command in commands {
        // What it does on the bucket, on the state object and on its lock object.
        let calls: &[(&[&str], &[&str], &[&str])] = match command {
            // adopt records the takeover, often as a stack's first command (the state
            // bucket made as `up` makes it).
            Command::Up | Command::Adopt => &[(WRITE_BUCKET, WRITE_OBJECTS, WRITE_OBJECTS)],
            // gc deletes this stack as `down` does when it has expired.
            Command::Down | Command::DownIncludingAdopted | Command::Gc => {
                &[(DOWN_BUCKET, WRITE_OBJECTS, WRITE_OBJECTS)]
            }
            Command::Status => &[(STATUS_BUCKET, READ_OBJECTS, READ_OBJECTS)],
            Command::Upload | Command::UploadUrl => &[(READ_BUCKET, READ_OBJECTS, READ_OBJECTS)],
            // `stacks` names the state's location without reading it.
            Command::Stacks | Command::All => &[],
            Command::State => &[
                // pull
                (READ_BUCKET, READ_OBJECTS, &[]),
                // push takes the lock, which creates the bucket when it is missing.
                (WRITE_BUCKET, WRITE_OBJECTS, WRITE_OBJECTS),
                // unlock
                (READ_BUCKET, &[], UNLOCK_OBJECT),
            ],
        };
        for (on_bucket, on_state, on_lock) in calls {
            for (on, actions) in [(&bucket, on_bucket), (&object, on_state), (&lock, on_lock)] {
                all.extend(actions.iter().map(|a| (on.clone(), None, a.to_string())));
            }
        }
    }
    all
}

/// The commands a policy allows on one stack (or pattern of stacks): its context, and its
/// remote state if any.
pub struct Part<'a> {
    pub ctx: &'a StackContext,
    /// Each one command: `all` expanded ([`Command::each`]).
    pub commands: &'a [Command],
    pub state: Option<&'a RemoteState>,
}

/// The identity policy of every part: one statement per resource (and condition), its
/// actions sorted. With a remote state, its bucket's calls are in it too.
pub fn policy(registry: &Registry, parts: &[Part]) -> Value {
    let mut by_resource: BTreeMap<_, BTreeSet<String>> = BTreeMap::new();
    let mut resolved = BTreeSet::new();
    for part in parts {
        resolved.extend(grants(registry, part.ctx, part.commands));
        if let Some(state) = part.state {
            resolved.extend(state_grants(part.ctx, state, part.commands));
        }
    }
    for (on, only_if, action) in resolved {
        by_resource.entry((on, only_if)).or_default().insert(action);
    }
    let statements: Vec<Value> = by_resource
        .into_iter()
        .map(|((resource, only_if), actions)| {
            let mut statement = json!({
                "Effect": "Allow",
                "Action": actions.into_iter().collect::<Vec<_>>(),
                "Resource": resource,
            });
            if let Some((key, value)) = only_if {
                statement["Condition"] = json!({ "StringEquals": { key: value } });
            }
            statement
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements })
}
