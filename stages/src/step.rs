//! The contract every resource module implements.

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use crate::aws::Service;
use crate::context::DRIFT_TAGS;
pub use crate::drift::Drift;
use crate::naming::{NameKind, ResourceId};
use crate::original::Originals;
pub use crate::recorded::{Ownership, Recorded};
use crate::{StackContext, StepError};

/// How a resource is named: the kind of name AWS validates, and the default, with
/// `{stack}`, `{account}` and `{region}` filled in (so a stack is found again without state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameRule {
    pub kind: NameKind,
    pub default: &'static str,
}

/// Everything the CLI and the tests derive from one resource: its registry entry. Each
/// resource module declares one `SPEC` and [`crate::Registry::standard`] lists the modules.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The resource id used in the state file, `cattube.toml` `[names]`, and the output.
    pub id: ResourceId,
    /// The tutorial's stage: "1" … "9", "4a".
    pub stage: &'static str,
    /// Ids of the resources that must **exist** before this one's writes: AWS checks them
    /// when this one is written (a role Lambda must assume, a principal of a bucket policy),
    /// or this one needs a fact only their creation tells (an id in an ARN). The walk waits
    /// for them (and `down` deletes this one first). Say why in a comment beside each.
    pub depends_on: &'static [ResourceId],
    /// Ids of the resources this one only **names**: their names or name-derived ARNs
    /// ([`crate::arn`]) go into its settings or policies, and AWS accepts them before they
    /// exist (an IAM inline policy's `Resource`, an environment variable). Not waited for:
    /// the walk runs this one beside them. Checked to be registered ids.
    pub names: &'static [ResourceId],
    /// Ids among `depends_on` whose `restore` must run before this one's when `down` puts
    /// both back on adopted resources (AWS checks this one's restored setting against what
    /// theirs restores: a function's asynchronous destination against the function's own
    /// role). Deletes keep the reverse order.
    pub restore_after: &'static [ResourceId],
    /// `None` for a resource without a name of its own (a bucket policy, a distribution).
    pub name: Option<NameRule>,
    /// The keys of the JSON document's `outputs` this resource fills in.
    pub outputs: &'static [&'static str],
    pub service: Service,
    /// The IAM actions its `observe`, `apply` and `destroy` call, and on what
    /// (`cattube permissions`).
    pub permissions: &'static [crate::grant::Grant],
}

impl Spec {
    /// A registry entry's defaults: a new module's `SPEC` sets what it needs and ends with
    /// `..Spec::DEFAULT` (no dependencies, no name, no outputs, no permissions).
    pub const DEFAULT: Spec = Spec {
        id: ResourceId::new(""),
        stage: "",
        depends_on: &[],
        names: &[],
        restore_after: &[],
        name: None,
        outputs: &[],
        service: Service::S3,
        permissions: &[],
    };
}

/// One live instance of a resource kind that carries this stack's tags or name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// What a person reads: the resource's name or id.
    pub name: String,
    pub arn: String,
}

/// A resource that exists.
#[derive(Clone, Debug, Default)]
pub struct Present {
    pub name: String,
    pub arn: String,
    /// The resource carries this stack's tags: it was created by this stack even if the
    /// state file has been lost.
    pub tagged_ours: bool,
    pub drift: Vec<Drift>,
    /// Still settling (a CloudFront distribution `InProgress`): reported as `pending`.
    pub pending: Option<String>,
    /// Values later steps and the summary need (`source_bucket`, `distribution_domain`…).
    pub outputs: BTreeMap<&'static str, String>,
}

impl Present {
    /// A live resource read with its `tags`: whether they make it the stack's, and, when it
    /// is the stack's (so tagged, or recorded as ours), `drift` and how its tags differ from
    /// the stack's. An adopted resource keeps its owner's tags.
    pub fn tagged(
        ctx: &StackContext,
        name: impl Into<String>,
        arn: impl Into<String>,
        tags: &BTreeMap<String, String>,
        recorded: Option<&Recorded>,
        mut drift: Vec<Drift>,
    ) -> Present {
        let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let tagged_ours = ctx.tagged_ours(pairs());
        if tagged_ours || recorded.is_some_and(|r| r.ownership.is_ours()) {
            drift.extend(ctx.tag_drift(pairs()));
        }
        Present {
            name: name.into(),
            arn: arn.into(),
            tagged_ours,
            drift,
            ..Present::default()
        }
    }

    /// A live resource of a kind that carries no tags (a policy statement, an entry, a
    /// key), found by a name or id in cattube's own namespace: the stack's.
    pub fn ours(name: impl Into<String>, arn: impl Into<String>, drift: Vec<Drift>) -> Present {
        Present {
            name: name.into(),
            arn: arn.into(),
            tagged_ours: true,
            drift,
            ..Present::default()
        }
    }

    pub fn has_drift(&self, key: &str) -> bool {
        self.drift.iter().any(|d| d.key == key)
    }

    /// Whether `apply` writes the stack's tags on it: they drifted, and it is the stack's
    /// (`ownership` unknown or ours: an adopted resource keeps its owner's tags).
    pub fn retags(&self, ownership: Option<Ownership>) -> bool {
        self.has_drift(DRIFT_TAGS) && ownership.is_none_or(Ownership::is_ours)
    }

    /// What repairing every drift would change, as it is now ([`Drift::was`]).
    pub fn originals(&self) -> Originals {
        let mut all = Originals::default();
        for drift in &self.drift {
            all.extend(&drift.originals);
        }
        all
    }
}

#[derive(Clone, Debug)]
pub enum Observation {
    Missing,
    Present(Present),
}

impl Observation {
    pub fn present(&self) -> Option<&Present> {
        match self {
            Observation::Present(p) => Some(p),
            Observation::Missing => None,
        }
    }
}

/// The result of a successful `apply`.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    pub arn: String,
    /// `Some(Adopted)` when the create call found the resource already ours to use
    /// (`BucketAlreadyOwnedByYou`).
    pub adopted: bool,
    /// One line per write made, for `-v` and the summary.
    pub changes: Vec<String>,
    pub outputs: BTreeMap<&'static str, String>,
    pub extra: BTreeMap<String, String>,
    /// What the user must do before the resource is complete (DNS records to create at a
    /// provider outside Route 53): the resource is reported `pending`, with this note.
    pub notice: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destroyed {
    Deleted,
    /// Deleted, after something worth saying (a queue's unfinished jobs were cancelled).
    DeletedAfter(String),
    AlreadyGone,
    /// Left in place on purpose (adopted, not ours, `--keep-buckets`): the reason.
    Kept(String),
    /// Left in place for its other users (the shared OAC) and dropped from the stack's
    /// state: the reason.
    Released(String),
    /// Started but not finished (`--no-wait`): the state keeps the record with `extra`.
    Pending {
        reason: String,
        extra: BTreeMap<String, String>,
    },
}

impl Service {
    /// What a delete call's answer means for `destroy`: "not found" is success too.
    pub fn deleted<O, E>(
        self,
        answer: Result<
            O,
            aws_smithy_runtime_api::client::result::SdkError<
                E,
                aws_smithy_runtime_api::http::Response,
            >,
        >,
        doing: impl FnOnce() -> String,
    ) -> Result<Destroyed, StepError>
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        use crate::error::AwsFound;
        Ok(match answer.found(self, doing)? {
            Some(_) => Destroyed::Deleted,
            None => Destroyed::AlreadyGone,
        })
    }
}

/// Options of `down` that steps need to know.
#[derive(Clone, Debug, Default)]
pub struct DestroyOptions {
    pub keep_buckets: bool,
    pub no_wait: bool,
    /// `down --including-adopted`: what a takeover adopted only to serve the tutorial's
    /// pipeline (its function and event entry) is deleted too, with the roles it replaced.
    pub including_adopted: bool,
}

/// What a step's call returns: the value, or why the call failed.
pub type StepResult<T> = Result<T, StepError>;

/// What `observe` works with: the stack's context (it derefs to it) and the resource's
/// record in the state file, if any. One value per phase, as Terraform's plugin framework
/// hands each call one request: a step reads what it needs and names nothing it ignores.
#[derive(Clone, Copy)]
pub struct ObserveContext<'a> {
    context: &'a StackContext,
    /// `None` before the first `up`, when the state file is lost, and for `find_owned`.
    pub recorded: Option<&'a Recorded>,
}

/// What `apply` works with: the stack's context (it derefs to it) and what the walk
/// decided from the observation.
#[derive(Clone, Copy)]
pub struct ApplyContext<'a> {
    context: &'a StackContext,
    /// `Missing`: create the resource; `Present`: repair exactly the drift it shows.
    pub observation: &'a Observation,
    /// Whose the live resource is (`None` when unknown: a create, a test): an adopted one
    /// keeps its owner's tags ([`Present::retags`]).
    pub ownership: Option<Ownership>,
}

/// What `destroy` works with: the stack's context (it derefs to it), the resource's record
/// in the state file, if any, and `down`'s options.
#[derive(Clone, Copy)]
pub struct DestroyContext<'a> {
    context: &'a StackContext,
    pub recorded: Option<&'a Recorded>,
    pub options: &'a DestroyOptions,
}

impl<'a> ObserveContext<'a> {
    pub fn new(context: &'a StackContext, recorded: Option<&'a Recorded>) -> Self {
        ObserveContext { context, recorded }
    }
}

impl<'a> ApplyContext<'a> {
    pub fn new(
        context: &'a StackContext,
        observation: &'a Observation,
        ownership: Option<Ownership>,
    ) -> Self {
        ApplyContext {
            context,
            observation,
            ownership,
        }
    }
}

impl<'a> DestroyContext<'a> {
    pub fn new(
        context: &'a StackContext,
        recorded: Option<&'a Recorded>,
        options: &'a DestroyOptions,
    ) -> Self {
        DestroyContext {
            context,
            recorded,
            options,
        }
    }
}

macro_rules! deref_to_stack_context {
    ($($phase:ident),*) => {$(
        impl std::ops::Deref for $phase<'_> {
            type Target = StackContext;
            fn deref(&self) -> &StackContext {
                self.context
            }
        }
    )*};
}
deref_to_stack_context!(ObserveContext, ApplyContext, DestroyContext);

/// One resource of the stack. Implementations live one per module, named after the
/// tutorial's stage they automate, and read top to bottom as observe → apply → destroy.
#[async_trait]
pub trait Step: Send + Sync {
    /// The resource's registry entry.
    fn spec(&self) -> &'static Spec;

    fn id(&self) -> &'static str {
        self.spec().id.as_str()
    }
    fn stage(&self) -> &'static str {
        self.spec().stage
    }
    fn depends_on(&self) -> &'static [ResourceId] {
        self.spec().depends_on
    }
    fn names(&self) -> &'static [ResourceId] {
        self.spec().names
    }
    /// What the walk waits for with these settings: `depends_on`, less a dependency only an
    /// optional feature needs when that feature is off (the converter function needs the
    /// distribution's domain only for `[notify]`'s playback URLs).
    fn waits_for(&self, _settings: &crate::Settings) -> Vec<ResourceId> {
        self.depends_on().to_vec()
    }

    /// The name shown for the resource when no live one says it (before it exists, after it
    /// is gone): by default its resolved name.
    fn shown_name(&self, ctx: &StackContext) -> String {
        ctx.names.get(self.id()).cloned().unwrap_or_default()
    }

    /// Why `down` with these options leaves this resource in place although the stack owns
    /// it (`--keep-buckets`), decided before anything is deleted so that the prompt can say.
    fn kept_by(&self, _options: &DestroyOptions) -> Option<String> {
        None
    }

    /// Whether the stack wants this resource with these settings. An optional resource (the
    /// notification topic without `[notify] email`) says `false`: `up` then deletes the one
    /// the stack owns, as Terraform does when a resource leaves the configuration, and
    /// `plan`/`status` show it as not configured. `down` removes it either way.
    fn wanted(&self, _settings: &crate::Settings) -> bool {
        true
    }

    /// Why it is not wanted, in words for `plan` and `status` (only asked when it is not).
    fn unwanted_reason(&self) -> &'static str {
        "not configured"
    }

    /// Reads the live resource. Never writes.
    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation>;

    /// Creates the resource (`observation` is `Missing`) or repairs exactly the drift
    /// `observe` found. Makes no write when there is nothing to do.
    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied>;

    /// Finds the stack's live instances of this kind without the state file: by its tags, or
    /// by its name where the kind carries no tags. Never writes. The default observes the
    /// resource by its resolved name and reports it when it carries the stack's tags.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(match self.observe(&ObserveContext::new(ctx, None)).await? {
            Observation::Present(p) if p.tagged_ours => vec![Found {
                name: p.name,
                arn: p.arn,
            }],
            _ => Vec::new(),
        })
    }

    /// Puts back, on an adopted resource `down` keeps, every setting recorded before `up`
    /// changed it ([`crate::original`]). What it wrote, one line each; safe to repeat. The
    /// default: a kind whose adopted resources cattube never changes.
    async fn restore(
        &self,
        _ctx: &StackContext,
        _recorded: &Recorded,
    ) -> Result<Vec<String>, StepError> {
        Ok(Vec::new())
    }

    /// Deletes a resource this stack owns. The engine never calls it for adopted ones.
    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed>;
}
