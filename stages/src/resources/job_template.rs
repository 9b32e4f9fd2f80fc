//! Stage 4a: the job settings (`job.json`, the tutorial's format) registered as the
//! MediaConvert job template `<stack>-job`, on the stack's queue, with its outputs in the
//! destination bucket. MediaConvert validates it here, before the function is deployed; the
//! function reads it at run time, so changing `job.json` and running `up` changes what the
//! next upload produces without a redeploy.
//!
//! How the settings reach MediaConvert: the Rust SDK's types have no serde support and its
//! JSON (de)serialisers are private, so the thousand-odd settings shapes cannot be built from
//! `job.json` short of a generated converter. The request is still made by the SDK (endpoint,
//! signing, retries, errors), with its body replaced by the template's JSON before signing
//! (`customize().mutate_request`). The wire names of the MediaConvert API are the member
//! names with a lowercase first letter, without exception (checked against botocore's model),
//! except inside maps, whose keys are data ([`MAP_MEMBERS`]). The template is read back the
//! same way: the raw GetJobTemplate body, captured by an interceptor.

use crate::resources::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_mediaconvert::types::JobTemplateSettings;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::queue::{mediaconvert_tags, retag_mediaconvert};

pub struct JobTemplate;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "4a",
    // The queue: the template is created on it (`Queue`), and MediaConvert may refuse a
    // queue it does not know. The destination is only an `s3://` URL in the settings, used
    // when a job runs.
    depends_on: &[crate::queue::ID],
    names: &[crate::destination_bucket::ID],
    name: Some(NameRule {
        kind: NameKind::MediaConvert,
        default: "{stack}-job",
    }),
    outputs: &["job_template"],
    service: Service::MediaConvert,
    permissions: &[
        Grant::observe(
            &[
                "mediaconvert:GetJobTemplate",
                "mediaconvert:ListTagsForResource",
            ],
            Target::JobTemplate(ID),
        ),
        Grant::apply(
            &["mediaconvert:CreateJobTemplate"],
            Target::Queue(crate::queue::ID),
        ),
        Grant::apply(
            &["mediaconvert:UpdateJobTemplate", "mediaconvert:TagResource"],
            Target::JobTemplate(ID),
        ),
        Grant::destroy(&["mediaconvert:DeleteJobTemplate"], Target::JobTemplate(ID)),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("job-template");

const DRIFT_SETTINGS: &str = "settings";
const DRIFT_QUEUE: &str = "queue";

/// Members of map type anywhere in the job and job template shapes (botocore's model,
/// mediaconvert 2017-08-29): their keys are names chosen by the user ("Audio Selector 1").
pub const MAP_MEMBERS: &[&str] = &[
    "AudioSelectorGroups",
    "AudioSelectors",
    "CaptionSelectors",
    "DynamicAudioSelectors",
    "Tags",
    "UserMetadata",
];

/// OutputGroupSettings.Type → the member that holds that group's Destination.
pub const GROUP_SETTINGS: &[(&str, &str)] = &[
    ("FILE_GROUP_SETTINGS", "FileGroupSettings"),
    ("HLS_GROUP_SETTINGS", "HlsGroupSettings"),
    ("DASH_ISO_GROUP_SETTINGS", "DashIsoGroupSettings"),
    ("CMAF_GROUP_SETTINGS", "CmafGroupSettings"),
    ("MS_SMOOTH_GROUP_SETTINGS", "MsSmoothGroupSettings"),
];

/// The job template cattube wants, in the API's member names, without Name and Tags: the
/// job.json rule (drop Queue, Role and UserMetadata, drop every input's FileInput, keep the
/// rest), the stack's queue, every output group's destination in the destination bucket, and
/// a Description carrying the SHA-256 of all of it (a cheap, exact "job.json changed" signal).
pub fn wanted(ctx: &StackContext) -> Map<String, Value> {
    let mut template = match &ctx.settings.job.document {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for key in ["Queue", "Role", "UserMetadata", "Description"] {
        template.remove(key);
    }
    if let Some(settings) = template.get_mut("Settings").and_then(Value::as_object_mut) {
        if let Some(inputs) = settings.get_mut("Inputs").and_then(Value::as_array_mut) {
            for input in inputs.iter_mut().filter_map(Value::as_object_mut) {
                input.remove("FileInput");
            }
        }
        let destination = format!("s3://{}/", ctx.name(crate::destination_bucket::ID));
        if let Some(groups) = settings
            .get_mut("OutputGroups")
            .and_then(Value::as_array_mut)
        {
            for group in groups.iter_mut().filter_map(Value::as_object_mut) {
                let Some(group_settings) = group
                    .get_mut("OutputGroupSettings")
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                let kind = group_settings
                    .get("Type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if let Some((_, member)) = GROUP_SETTINGS.iter().find(|(t, _)| *t == kind) {
                    let entry = group_settings
                        .entry(member.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(entry) = entry.as_object_mut() {
                        entry.insert("Destination".into(), Value::String(destination.clone()));
                    }
                }
            }
        }
    }
    template.insert(
        "Queue".into(),
        Value::String(arn::queue(ctx, crate::queue::ID)),
    );
    // serde_json's Map is sorted by key, so the text (and the hash) is canonical.
    let hash = Sha256::digest(Value::Object(template.clone()).to_string().as_bytes());
    template.insert(
        "Description".into(),
        Value::String(format!("cattube sha256:{hash:x}")),
    );
    template
}

/// A value in the API's member names (`OutputGroups`) → its wire JSON (`outputGroups`).
pub fn to_wire(value: &Value) -> Value {
    to_wire_in(value, false)
}

fn to_wire_in(value: &Value, map_keys: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let wire = if map_keys {
                        key.clone()
                    } else {
                        lower_first(key)
                    };
                    let inner_is_map = !map_keys && MAP_MEMBERS.contains(&key.as_str());
                    (wire, to_wire_in(v, inner_is_map))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| to_wire_in(v, false)).collect()),
        other => other.clone(),
    }
}

fn lower_first(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where `live` (what MediaConvert returned) differs from `wanted`, comparing only what
/// `wanted` specifies: MediaConvert fills in defaults for everything else. An empty object
/// wanted matches an absent one. `None`: no difference.
pub fn first_difference(wanted: &Value, live: Option<&Value>, path: &str) -> Option<String> {
    match (wanted, live) {
        (Value::Object(w), None) if w.is_empty() => None,
        (_, None) => Some(format!("{path} is missing")),
        (Value::Object(w), Some(Value::Object(l))) => w
            .iter()
            .find_map(|(k, v)| first_difference(v, l.get(k), &format!("{path}/{k}"))),
        (Value::Array(w), Some(Value::Array(l))) if w.len() == l.len() => w
            .iter()
            .zip(l)
            .enumerate()
            .find_map(|(i, (w, l))| first_difference(w, Some(l), &format!("{path}/{i}"))),
        (Value::Number(w), Some(Value::Number(l))) if w.as_f64() == l.as_f64() => None,
        (w, Some(l)) if w == l => None,
        (w, Some(l)) => Some(format!("{path} is {l}, job.json says {w}")),
    }
}

/// Keeps the raw body of the response it sees (GetJobTemplate's JSON; a ListJobs page's
/// for `cost`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RawBody(pub(crate) Arc<Mutex<Option<Vec<u8>>>>);

impl Intercept for RawBody {
    fn name(&self) -> &'static str {
        "cattube::RawBody"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.response().body().bytes() {
            *self.0.lock().expect("raw body lock") = Some(bytes.to_vec());
        }
        Ok(())
    }
}

/// Replaces the request body with `body` (the SDK signs the request after this).
fn with_body(body: Value) -> impl Fn(&mut HttpRequest) + Send + Sync + 'static {
    let bytes = body.to_string().into_bytes();
    move |request: &mut HttpRequest| {
        request
            .headers_mut()
            .insert("content-length", bytes.len().to_string());
        request
            .headers_mut()
            .insert("content-type", "application/json");
        *request.body_mut() = SdkBody::from(bytes.clone());
    }
}

fn outputs(ctx: &StackContext) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("job_template", ctx.name(ID).to_string())])
}

/// The members compared with the live template: all but the Description (compared on its
/// own) and the Queue (MediaConvert may answer with its name or its ARN).
fn compared(wanted: &Map<String, Value>) -> Value {
    Value::Object(
        wanted
            .iter()
            .filter(|(k, _)| !["Description", "Queue"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

#[async_trait]
impl Step for JobTemplate {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = ctx.name(ID);
        let arn = arn::job_template(ctx, ID);
        let raw = RawBody::default();
        let (got, tags) = tokio::join!(
            ctx.clients
                .mediaconvert
                .get_job_template()
                .name(name)
                .customize()
                .interceptor(raw.clone())
                .send(),
            mediaconvert_tags(ctx, &arn)
        );
        let Some(got) = got.found(Service::MediaConvert, || {
            format!("reading MediaConvert job template {name}")
        })?
        else {
            return Ok(Observation::Missing);
        };
        let template = got.job_template();
        let wanted = wanted(ctx);
        let mut drift = Vec::new();

        let description = template.and_then(|t| t.description()).unwrap_or_default();
        let wanted_description = wanted["Description"].as_str().unwrap_or_default();
        let live: Option<Value> = raw
            .0
            .lock()
            .expect("raw body lock")
            .take()
            .and_then(|body| serde_json::from_slice::<Value>(&body).ok())
            .and_then(|mut doc| doc.get_mut("jobTemplate").map(Value::take));
        let difference = live
            .as_ref()
            .and_then(|live| first_difference(&to_wire(&compared(&wanted)), Some(live), ""));
        if description != wanted_description || difference.is_some() {
            drift.push(Drift::new(
                DRIFT_SETTINGS,
                match difference {
                    Some(difference) => format!(
                        "settings differ from {}: {difference}",
                        ctx.settings.job.source
                    ),
                    None => format!(
                        "{} changed since the template was registered",
                        ctx.settings.job.source
                    ),
                },
            ));
        }

        let queue = template.and_then(|t| t.queue()).unwrap_or_default();
        let queue_name = ctx.name(crate::queue::ID);
        if queue != arn::queue(ctx, crate::queue::ID) && queue != queue_name {
            drift.push(Drift::new(
                DRIFT_QUEUE,
                format!("on queue {queue}, not the stack's queue {queue_name}"),
            ));
        }
        let arn = template.and_then(|t| t.arn()).map_or(arn, str::to_string);
        Ok(Observation::Present(Present {
            outputs: outputs(ctx),
            ..Present::tagged(ctx, name, arn, &tags?, ctx.recorded, drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = ctx.name(ID);
        let mc = &ctx.clients.mediaconvert;
        let source = &ctx.settings.job.source;
        let mut applied = Applied {
            arn: arn::job_template(ctx, ID),
            outputs: outputs(ctx),
            ..Default::default()
        };
        let mut body = wanted(ctx);
        // The typed request only carries what the SDK requires to build it; the body sent is
        // the template's JSON (see the module's comment).
        let placeholder = JobTemplateSettings::builder().build();
        match ctx.observation {
            Observation::Missing => {
                body.insert("Name".into(), Value::String(name.to_string()));
                let mut tags: Map<String, Value> = body
                    .remove("Tags")
                    .and_then(|t| t.as_object().cloned())
                    .unwrap_or_default();
                for (k, v) in &ctx.tags() {
                    tags.insert(k.clone(), Value::String(v.clone()));
                }
                body.insert("Tags".into(), Value::Object(tags));
                let created = mc
                    .create_job_template()
                    .name(name)
                    .settings(placeholder)
                    .customize()
                    .mutate_request(with_body(to_wire(&Value::Object(body))))
                    .send()
                    .await
                    .context(|| {
                        format!("registering {source} as MediaConvert job template {name}")
                    })?;
                if let Some(arn) = created.job_template().and_then(|t| t.arn()) {
                    applied.arn = arn.to_string();
                }
                applied.changes.push(format!("registered {source}"));
            }
            Observation::Present(present) => {
                if present.has_drift(DRIFT_SETTINGS) || present.has_drift(DRIFT_QUEUE) {
                    // UpdateJobTemplate takes the name in its path and has no tags.
                    body.remove("Tags");
                    mc.update_job_template()
                        .name(name)
                        .customize()
                        .mutate_request(with_body(to_wire(&Value::Object(body))))
                        .send()
                        .await
                        .context(|| {
                            format!("updating MediaConvert job template {name} from {source}")
                        })?;
                    applied.changes.push(format!("updated from {source}"));
                }
                retag_mediaconvert(ctx, present, &mut applied, "job template").await?;
            }
        }
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let name = ctx.name(ID);
        let answer = ctx
            .clients
            .mediaconvert
            .delete_job_template()
            .name(name)
            .send()
            .await;
        Service::MediaConvert.deleted(answer, || {
            format!("deleting MediaConvert job template {name}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_names_lower_the_first_letter_but_keep_map_keys() {
        let member = json!({"Settings": {"Inputs": [{"AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}}}],
                            "OutputGroups": [{"Outputs": [{"VideoDescription": {"CodecSettings": {"H265Settings": {"MaxBitrate": 5}}}}]}]},
                            "Tags": {"Team": "video"}});
        assert_eq!(
            to_wire(&member),
            json!({"settings": {"inputs": [{"audioSelectors": {"Audio Selector 1": {"defaultSelection": "DEFAULT"}}}],
                   "outputGroups": [{"outputs": [{"videoDescription": {"codecSettings": {"h265Settings": {"maxBitrate": 5}}}}]}]},
                   "tags": {"Team": "video"}})
        );
    }

    #[test]
    fn only_what_the_user_specified_is_compared() {
        let wanted = json!({"a": {"b": 1, "empty": {}}, "list": [{"x": "y"}]});
        let live = json!({"a": {"b": 1.0, "default": 7}, "list": [{"x": "y", "z": 0}]});
        assert_eq!(first_difference(&wanted, Some(&live), ""), None);
        let changed = json!({"a": {"b": 2}, "list": [{"x": "y"}]});
        assert_eq!(
            first_difference(&wanted, Some(&changed), "").as_deref(),
            Some("/a/b is 2, job.json says 1")
        );
        let shorter = json!({"a": {"b": 1}, "list": []});
        assert!(first_difference(&wanted, Some(&shorter), "").is_some());
    }
}
