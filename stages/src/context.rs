//! What every step needs: who and where the stack is, its resource names and tags, the
//! settings of each stage, and the AWS clients.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

pub use crate::aws::Clients;
use crate::naming::ResourceId;
use crate::StepError;

/// The converter function's runtime settings (`[function]`).
#[derive(Clone, Debug)]
pub struct FunctionSettings {
    pub runtime: String,
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_s: i32,
    /// `[function] log-retention-days`: how long its log group keeps its logs.
    pub log_retention_days: i32,
}

/// The default job settings: the tutorial's job.json, shipped in `lambda-artifact/`.
pub const DEFAULT_JOB_JSON: &str = include_str!("../../lambda-artifact/job.json");

/// `[job] template`: job settings in the tutorial's `job.json` format, parsed and checked by
/// the CLI before any AWS call.
#[derive(Clone, Debug)]
pub struct JobFile {
    /// Where it came from, for messages: the user's path, or the built-in default.
    pub source: String,
    /// The document as written (the `job-template` step applies the job → template rule).
    pub document: serde_json::Value,
}

/// `[job] profile`: the built-in job settings by name, `tutorial` (the default) first.
/// `tutorial`: the tutorial's HEVC (tagged `hvc1`) and AV1 MP4s; `web`: H.264/AAC MP4s at
/// 1080p and 720p plus the 144p AV1, playable in every browser; `hls`: an H.264 QVBR ladder
/// (1080p, 720p, 480p, 360p) in one HLS output group.
pub const PROFILES: &[(&str, &str)] = &[
    ("tutorial", DEFAULT_JOB_JSON),
    (
        "web",
        include_str!("../../lambda-artifact/profiles/web.json"),
    ),
    (
        "hls",
        include_str!("../../lambda-artifact/profiles/hls.json"),
    ),
];

impl JobFile {
    /// The built-in default (`lambda-artifact/job.json`).
    pub fn builtin() -> JobFile {
        JobFile::profile("tutorial").expect("the tutorial profile")
    }

    /// A built-in profile ([`PROFILES`]); `None` for an unknown name.
    pub fn profile(name: &str) -> Option<JobFile> {
        let (name, text) = PROFILES.iter().find(|(n, _)| *n == name)?;
        let file = match *name {
            "tutorial" => "lambda-artifact/job.json".to_string(),
            other => format!("lambda-artifact/profiles/{other}.json"),
        };
        Some(JobFile {
            source: format!("{file} (built in, profile \"{name}\")"),
            document: serde_json::from_str(text).expect("a built-in profile"),
        })
    }
}

/// What the user configured for the stages, validated by the CLI before any AWS call.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `[job] template`, or the built-in default.
    pub job: JobFile,
    pub function: FunctionSettings,
    /// `[trigger] suffixes`: empty means every object, as the tutorial.
    pub trigger_suffixes: Vec<String>,
    /// `[cdn] price-class`.
    pub price_class: String,
    /// How long to retry what AWS has not propagated yet (a fresh role, a new permission).
    pub propagation_timeout: Duration,
    /// `up --wait`: wait until CloudFront has deployed the distribution.
    pub wait_for_deploy: bool,
    /// How long to wait for CloudFront to deploy a change (`up --wait`, `down`): usually
    /// 5 to 20 minutes on AWS. The polling interval scales with it.
    pub deploy_timeout: Duration,
    /// `[job] max-upload-mb`: the converter function rejects larger uploads (MiB).
    pub max_upload_mb: Option<u64>,
    /// `[job] max-duration-min`: the converter function rejects longer uploads.
    pub max_duration_min: Option<u64>,
    /// `[job] max-output-minutes-per-day`: the output minutes the stack's jobs may bill per
    /// UTC day; the converter function rejects an upload that would exceed them.
    pub max_output_minutes_per_day: Option<u64>,
    /// `[player] enabled`: the player page and `catalog.json` are served through CloudFront.
    pub player_enabled: bool,
    /// `[notify] email`: who hears of each finished job (the SNS topic's subscriptions);
    /// empty means no topic.
    pub notify_emails: Vec<String>,
    /// `[uploads] allowed-origins`: the origins a browser may upload from (the source
    /// bucket's CORS rule); empty means no CORS rule.
    pub upload_origins: Vec<String>,
    /// `[domain]`: the stack's own domain on CloudFront, `None` for the default one.
    pub domain: Option<DomainSettings>,
    /// `[delivery] shared-oac` (or `CATTUBE_SHARED_OAC`): the account's one shared origin
    /// access control instead of the stack's own.
    pub shared_oac: bool,
    /// `[delivery] private`: CloudFront serves the videos and the catalog only to signed
    /// URLs and cookies, checked against the stack's key group (docs/private-videos.md).
    pub private: bool,
}

/// `[domain]`: the names viewers use, checked by the CLI
/// ([`crate::certificate::validate_domain`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainSettings {
    /// `name`: the certificate's domain and the first alternate domain name.
    pub name: String,
    /// `aliases`: more names on the same certificate and distribution.
    pub aliases: Vec<String>,
    /// `zone-id`: the Route 53 public hosted zone to write the records in, instead of the
    /// one found by name.
    pub zone_id: Option<String>,
}

impl DomainSettings {
    /// Every name the certificate covers and the distribution answers, `name` first,
    /// lowercase (DNS names are case-insensitive and ACM returns them so).
    pub fn names(&self) -> Vec<String> {
        let mut names = vec![self.name.to_ascii_lowercase()];
        for alias in &self.aliases {
            let alias = alias.to_ascii_lowercase();
            if !names.contains(&alias) {
                names.push(alias);
            }
        }
        names
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            job: JobFile::builtin(),
            function: FunctionSettings {
                runtime: "python3.13".into(),
                architecture: "arm64".into(),
                memory_mb: 256,
                timeout_s: 60,
                log_retention_days: 30,
            },
            trigger_suffixes: Vec::new(),
            price_class: "PriceClass_All".into(),
            propagation_timeout: Duration::from_secs(120),
            wait_for_deploy: false,
            deploy_timeout: Duration::from_secs(30 * 60),
            max_upload_mb: None,
            max_duration_min: None,
            max_output_minutes_per_day: None,
            player_enabled: true,
            notify_emails: Vec::new(),
            upload_origins: Vec::new(),
            domain: None,
            shared_oac: false,
            private: false,
        }
    }
}

impl Settings {
    /// A limit that needs the input's duration is set (the function probes or reads uploads).
    pub fn times_uploads(&self) -> bool {
        self.max_duration_min.is_some() || self.max_output_minutes_per_day.is_some()
    }

    /// Any limit is set (the function tags the uploads it rejects).
    pub fn limits_uploads(&self) -> bool {
        self.max_upload_mb.is_some() || self.times_uploads()
    }
}

/// Everything about the stack that is known before the first step runs, and what steps
/// learn from each other while they run.
#[derive(Debug)]
pub struct StackContext {
    pub stack: String,
    pub account: String,
    pub region: String,
    /// The name of every resource that has one, keyed by resource id.
    pub names: BTreeMap<&'static str, String>,
    /// Tags every taggable resource gets: the stack's own and the user's `[tags]`; with the
    /// expiry, [`StackContext::tags`].
    pub tags: BTreeMap<String, String>,
    /// The stack's `cattube:expires-at`, if it has one.
    expiry: Mutex<Expiry>,
    pub settings: Settings,
    pub clients: Clients,
    /// Facts one step found that others need (the distribution's ARN, the OAC's id…),
    /// seeded from the state file and filled in by the engine as steps finish: a converged
    /// stack needs no lookup twice.
    facts: Mutex<BTreeMap<(String, Fact), String>>,
    /// Where a long wait reports how it is going (the CLI shows it on the step's line).
    progress: Mutex<Option<Progress>>,
}

/// Where the stack's expiry comes from.
#[derive(Clone, Debug, Default)]
struct Expiry {
    at: Option<String>,
    /// Given by this run (`up --ttl`): wanted, so a resource without it has drifted.
    /// Otherwise it is what the live resources carry, kept and never drift.
    given: bool,
}

/// What is known of a resource, keyed with the resource's id in [`StackContext::fact`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    /// Its ARN: recorded in the state, or found by `observe` or made by `apply`.
    Arn,
    /// One of its `Spec::outputs` (`distribution_domain`).
    Output(&'static str),
    /// Created by this run (not adopted): it has nothing but what this run gave it.
    CreatedNow,
}

/// Receives `(step id, message)` while a step waits on AWS.
pub type ProgressHook = std::sync::Arc<dyn Fn(&str, &str) + Send + Sync>;

#[derive(Clone)]
struct Progress(ProgressHook);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

pub const TAG_STACK: &str = "cattube:stack";
pub const TAG_REGION: &str = "cattube:region";
pub const TAG_MANAGED_BY: &str = "managed-by";
/// When `gc` may delete the stack (RFC 3339, UTC): set by `up --ttl`, kept by later runs.
pub const TAG_EXPIRES_AT: &str = "cattube:expires-at";

impl StackContext {
    pub fn new(
        stack: &str,
        account: &str,
        region: &str,
        names: BTreeMap<&'static str, String>,
        user_tags: &BTreeMap<String, String>,
        settings: Settings,
        clients: Clients,
    ) -> Self {
        let mut tags = user_tags.clone();
        tags.insert(TAG_STACK.into(), stack.into());
        tags.insert(TAG_REGION.into(), region.into());
        tags.insert(TAG_MANAGED_BY.into(), "cattube".into());
        StackContext {
            stack: stack.into(),
            account: account.into(),
            region: region.into(),
            names,
            tags,
            expiry: Mutex::new(Expiry::default()),
            settings,
            clients,
            facts: Mutex::new(BTreeMap::new()),
            progress: Mutex::new(None),
        }
    }

    /// Every tag a taggable resource gets: the `tags` field's and the expiry.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        if let Some(at) = self.expiry() {
            tags.insert(TAG_EXPIRES_AT.into(), at);
        }
        tags
    }

    /// [`StackContext::tags`] in one SDK's own tag type, made by `tag` (each service has its
    /// own `Tag`, built alike: `|k, v| Tag::builder().key(k).value(v).build()`).
    pub fn sdk_tags<T, E>(
        &self,
        tag: impl Fn(String, String) -> Result<T, E>,
    ) -> Result<Vec<T>, StepError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let tags: Result<Vec<T>, E> = self.tags().into_iter().map(|(k, v)| tag(k, v)).collect();
        tags.map_err(|e| StepError::with_source("building the stack's tags", e))
    }

    /// The stack's `cattube:expires-at`: given by this run, or found on its resources.
    pub fn expiry(&self) -> Option<String> {
        self.expiry.lock().expect("expiry lock").at.clone()
    }

    /// Gives the stack an expiry (`up --ttl`): every resource without it has drifted.
    pub fn set_expiry(&self, at: String) {
        *self.expiry.lock().expect("expiry lock") = Expiry {
            at: Some(at),
            given: true,
        };
    }

    /// Sets where [`StackContext::progress`] messages go.
    pub fn set_progress(&self, hook: ProgressHook) {
        *self.progress.lock().expect("progress lock") = Some(Progress(hook));
    }

    /// Tells the user how a long wait is going ("InProgress, 42 s").
    pub fn progress(&self, id: &str, message: &str) {
        let hook = self.progress.lock().expect("progress lock").clone();
        if let Some(Progress(hook)) = hook {
            hook(id, message);
        }
    }

    /// A fact of `resource` learned earlier in this run or recorded in the state file.
    pub fn fact(&self, resource: ResourceId, fact: Fact) -> Option<String> {
        self.facts
            .lock()
            .expect("facts lock")
            .get(&(resource.as_str().to_string(), fact))
            .cloned()
    }

    pub fn learn(&self, resource: ResourceId, fact: Fact, value: impl Into<String>) {
        self.remember(resource.as_str(), fact, value)
    }

    /// [`StackContext::learn`] by the id's text (from the state file or the graph).
    fn remember(&self, resource: &str, fact: Fact, value: impl Into<String>) {
        self.facts
            .lock()
            .expect("facts lock")
            .insert((resource.to_string(), fact), value.into());
    }

    /// Whether `resource` was created (not adopted) by this run, so a step writing into it
    /// need not read what it holds first.
    pub fn created_now(&self, resource: ResourceId) -> bool {
        self.fact(resource, Fact::CreatedNow).is_some()
    }

    /// The ARN of `resource`, if known.
    pub fn arn_of(&self, resource: ResourceId) -> Option<String> {
        self.fact(resource, Fact::Arn)
    }

    /// The id of `resource` (a distribution, an OAC): the end of its known ARN
    /// (`…:distribution/E123`).
    pub fn id_of(&self, resource: ResourceId) -> Option<String> {
        self.arn_of(resource)
            .and_then(|arn| last_segment(&arn).map(str::to_string))
    }

    /// One of the outputs of `resource`, if known.
    pub fn output_of(&self, resource: ResourceId, key: &'static str) -> Option<String> {
        self.fact(resource, Fact::Output(key))
    }

    /// What the state file recorded of `resource`: what earlier runs learned spares this one
    /// the lookups.
    pub fn learn_recorded(&self, resource: &str, record: &crate::Recorded) {
        if !record.arn.is_empty() {
            self.remember(resource, Fact::Arn, record.arn.clone());
        }
    }

    /// What a step found (`observe`) or made (`apply`): its ARN and its outputs.
    pub fn learn_found(&self, resource: &str, arn: &str, outputs: &BTreeMap<&'static str, String>) {
        if !arn.is_empty() {
            self.remember(resource, Fact::Arn, arn);
        }
        for (key, value) in outputs {
            self.remember(resource, Fact::Output(key), value.clone());
        }
    }

    /// The resolved name of a resource. Every id with a name is filled in by
    /// [`crate::Registry::resolve_names`], so a missing one is a programming error.
    pub fn name(&self, id: ResourceId) -> &str {
        self.names
            .get(id.as_str())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no name resolved for {id}"))
    }

    /// The AWS partition of the stack's region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// True when `tags` carry this stack's ownership tags.
    pub fn tagged_ours<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let (mut stack, mut managed) = (false, false);
        for (key, value) in tags {
            stack |= key == TAG_STACK && value == self.stack;
            managed |= key == TAG_MANAGED_BY && value == "cattube";
        }
        stack && managed
    }

    /// How a live resource's tags differ from the stack's: each wanted tag missing or with
    /// another value. Tags of its own are left alone (an owner may add some).
    pub fn tag_drift<'a>(
        &self,
        live: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<crate::Drift> {
        let live: Vec<(&str, &str)> = live.into_iter().collect();
        let wanted = {
            let mut expiry = self.expiry.lock().expect("expiry lock");
            if !expiry.given && expiry.at.is_none() {
                // An expiry set by an earlier `up --ttl` is kept by the runs that give none.
                expiry.at = live
                    .iter()
                    .find(|(k, _)| *k == TAG_EXPIRES_AT)
                    .map(|(_, v)| v.to_string());
            }
            if expiry.given {
                drop(expiry);
                self.tags()
            } else {
                self.tags.clone()
            }
        };
        let missing: Vec<String> = wanted
            .iter()
            .filter(|(k, v)| !live.contains(&(k.as_str(), v.as_str())))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        (!missing.is_empty()).then(|| {
            crate::Drift::new(
                DRIFT_TAGS,
                format!("tags missing or changed: {}", missing.join(", ")),
            )
        })
    }
}

/// The drift key of a resource whose tags lack some of the stack's.
pub const DRIFT_TAGS: &str = "tags";

pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The id at the end of an ARN (`…:origin-access-control/E123`, `…:distribution/E123`).
pub fn last_segment(arn: &str) -> Option<&str> {
    arn.rsplit_once('/')
        .map(|(_, id)| id)
        .filter(|id| !id.is_empty())
}
