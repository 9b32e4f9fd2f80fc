//! Stage 4: the converter Lambda function. Its code is `lambda-artifact/handler.py`, zipped
//! deterministically and compiled into cattube ([`crate::artifact`]); it is configured only by
//! environment variables. `up` uploads code only when Lambda's CodeSha256 differs from the
//! package's, and the configuration only when it differs. A role created seconds ago is not
//! yet assumable by Lambda: creating (or re-pointing) the function retries that, bounded.

use crate::permissions::{Grant, Phase, Target};
use crate::retry::{poll_until, Poll};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;

use crate::naming::NameKind;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime};
use aws_smithy_types::Blob;

use crate::artifact::{code_sha256, function_zip, HANDLER};
use crate::error::AwsError;
use crate::retry::retry_propagation;
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, NameRule, Observation, Ownership, Present, Recorded,
    Service, Spec, Step,
};
use crate::{arn, StackContext, StepError};

pub struct ConverterFunction;

const ID: &str = SPEC.id;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: "converter-function",
    stage: "4",
    // Lambda looks the role up (and tries to assume it) on CreateFunction. The template:
    // MediaConvert validates job.json when it is created, and a refused one stops `up`
    // before a function that would use it is deployed (it is ready beside the role anyway,
    // off the critical path). The rest is in environment variables, read when it runs.
    depends_on: &["converter-role", "job-template"],
    names: &[
        "queue",
        "mediaconvert-role",
        "destination-bucket",
        "notification-topic",
    ],
    name: Some(NameRule {
        kind: NameKind::LambdaFunction,
        default: "{stack}-converter",
    }),
    outputs: &["function_arn"],
    service: Service::Lambda,
    permissions: &[
        Grant::new(Phase::Observe, &["lambda:GetFunction"], Target::Function),
        Grant::new(
            Phase::Apply,
            &[
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:GetFunctionConfiguration",
                "lambda:TagResource",
            ],
            Target::Function,
        ),
        // Only to Lambda: the role cannot be passed to another service with this grant.
        Grant::new(
            Phase::Apply,
            &["iam:PassRole"],
            Target::Role("converter-role"),
        )
        .only_if("iam:PassedToService", "lambda.amazonaws.com"),
        Grant::new(Phase::Destroy, &["lambda:DeleteFunction"], Target::Function),
    ],
};

const DRIFT_CODE: &str = "code";
const DRIFT_ARCHITECTURE: &str = "architecture";
const DRIFT_CONFIG: &str = "configuration";
use crate::context::DRIFT_TAGS;

/// What Lambda says while a new role has not reached it yet.
pub const FRESH_ROLE: &str = "cannot be assumed by Lambda";

/// The function's environment: everything handler.py reads.
pub fn environment(ctx: &StackContext) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "DESTINATION_BUCKET".into(),
            ctx.name("destination-bucket").into(),
        ),
        ("JOB_TEMPLATE".into(), ctx.name("job-template").into()),
        ("QUEUE_ARN".into(), arn::queue(ctx)),
        (
            "MEDIACONVERT_ROLE_ARN".into(),
            arn::role(ctx, "mediaconvert-role"),
        ),
        ("STACK".into(), ctx.stack.clone()),
    ])
    .into_iter()
    .chain(
        // `[notify] email`: where the function announces finished jobs.
        (!ctx.settings.notify_emails.is_empty())
            .then(|| (TOPIC_ARN.to_string(), arn::topic(ctx, "notification-topic"))),
    )
    .chain(
        // `[job] max-upload-mb`: set only when configured, so a stack without it keeps the
        // environment it had.
        ctx.settings
            .max_upload_mb
            .map(|mb| (MAX_UPLOAD_MB.to_string(), mb.to_string())),
    )
    .collect()
}

/// The environment variable carrying the notification topic to handler.py.
pub const TOPIC_ARN: &str = "TOPIC_ARN";

/// The environment variable carrying `[job] max-upload-mb` to handler.py.
pub const MAX_UPLOAD_MB: &str = "MAX_UPLOAD_MB";

fn outputs(ctx: &StackContext) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("function_arn", arn::function(ctx))])
}

/// The fresh-role error, on any operation that names a role.
fn fresh_role<E: ProvideErrorMetadata, R>(err: &aws_sdk_lambda::error::SdkError<E, R>) -> bool {
    err.as_service_error().is_some_and(|e| {
        e.code() == Some("InvalidParameterValueException")
            && e.message().is_some_and(|m| m.contains(FRESH_ROLE))
    })
}

#[async_trait]
impl Step for ConverterFunction {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        let name = ctx.name(ID);
        // GetFunction answers configuration, code and tags at once.
        let got = match ctx
            .clients
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if Service::Lambda.not_found(&e) => return Ok(Observation::Missing),
            Err(e) => {
                return Err(StepError::with_source(
                    format!("reading Lambda function {name}"),
                    AwsError::from_sdk(&e),
                ))
            }
        };
        let tags: BTreeMap<String, String> = got
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let tagged_ours = ctx.tagged_ours(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut drift = Vec::new();
        let Some(config) = got.configuration() else {
            return Err(StepError::msg(format!(
                "Lambda function {name}: GetFunction returned no configuration"
            )));
        };
        let wanted = &ctx.settings.function;

        let sha = config.code_sha256().unwrap_or_default();
        if sha != code_sha256(&function_zip()) {
            drift.push(Drift::new(
                DRIFT_CODE,
                format!("code differs from this cattube's handler.py (CodeSha256 {sha})"),
            ));
        }
        let architectures: Vec<&str> = config.architectures().iter().map(|a| a.as_str()).collect();
        if architectures != [wanted.architecture.as_str()] {
            drift.push(Drift::new(
                DRIFT_ARCHITECTURE,
                format!(
                    "architecture {}, not {}",
                    architectures.join(","),
                    wanted.architecture
                ),
            ));
        }
        let mut differs = Vec::new();
        let runtime = config.runtime().map(|r| r.as_str()).unwrap_or_default();
        if runtime != wanted.runtime {
            differs.push(format!("runtime {runtime}, not {}", wanted.runtime));
        }
        if config.memory_size() != Some(wanted.memory_mb) {
            differs.push(format!(
                "memory {} MB, not {}",
                config.memory_size().unwrap_or_default(),
                wanted.memory_mb
            ));
        }
        if config.timeout() != Some(wanted.timeout_s) {
            differs.push(format!(
                "timeout {} s, not {}",
                config.timeout().unwrap_or_default(),
                wanted.timeout_s
            ));
        }
        let handler = config.handler().unwrap_or_default();
        if handler != HANDLER {
            differs.push(format!("handler {handler}, not {HANDLER}"));
        }
        let role = config.role().unwrap_or_default();
        let wanted_role = arn::role(ctx, "converter-role");
        if role != wanted_role {
            differs.push(format!("role {role}, not {wanted_role}"));
        }
        let env: BTreeMap<String, String> = config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let wanted_env = environment(ctx);
        if env != wanted_env {
            let mut keys: Vec<&str> = wanted_env
                .iter()
                .filter(|(k, v)| env.get(*k) != Some(*v))
                .map(|(k, _)| k.as_str())
                .chain(
                    env.keys()
                        .filter(|k| !wanted_env.contains_key(*k))
                        .map(String::as_str),
                )
                .collect();
            keys.sort_unstable();
            differs.push(format!("environment differs: {}", keys.join(", ")));
        }
        if !differs.is_empty() {
            drift.push(Drift::new(DRIFT_CONFIG, differs.join("; ")));
        }
        if tagged_ours || recorded.is_some_and(|r| r.ownership.is_ours()) {
            drift.extend(ctx.tag_drift(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        }
        Ok(Observation::Present(Present {
            name: name.to_string(),
            arn: config
                .function_arn()
                .map(str::to_string)
                .unwrap_or_else(|| arn::function(ctx)),
            tagged_ours,
            drift,
            pending: None,
            outputs: outputs(ctx),
        }))
    }

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        let name = ctx.name(ID);
        let lambda = &ctx.clients.lambda;
        let wanted = &ctx.settings.function;
        let mut applied = Applied {
            arn: arn::function(ctx),
            outputs: outputs(ctx),
            ..Default::default()
        };
        let env = Environment::builder()
            .set_variables(Some(environment(ctx).into_iter().collect()))
            .build();
        let role = arn::role(ctx, "converter-role");

        let present = match observation {
            Observation::Missing => {
                let zip = Blob::new(function_zip());
                let tags: HashMap<String, String> = ctx.tags().into_iter().collect();
                let created = retry_propagation(ctx, fresh_role, || {
                    lambda
                        .create_function()
                        .function_name(name)
                        .description(format!("cattube stack {}: stage 4", ctx.stack))
                        .runtime(Runtime::from(wanted.runtime.as_str()))
                        .architectures(Architecture::from(wanted.architecture.as_str()))
                        .memory_size(wanted.memory_mb)
                        .timeout(wanted.timeout_s)
                        .handler(HANDLER)
                        .role(&role)
                        .environment(env.clone())
                        .code(FunctionCode::builder().zip_file(zip.clone()).build())
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await
                .map_err(|e| lambda_refused(ctx, format!("creating Lambda function {name}"), &e))?;
                if let Some(arn) = created.function_arn() {
                    applied.arn = arn.to_string();
                }
                applied.changes.push("created function".into());
                return Ok(applied);
            }
            Observation::Present(present) => present,
        };

        if present.has_drift(DRIFT_CODE) || present.has_drift(DRIFT_ARCHITECTURE) {
            lambda
                .update_function_code()
                .function_name(name)
                .zip_file(Blob::new(function_zip()))
                .architectures(Architecture::from(wanted.architecture.as_str()))
                .send()
                .await
                .map_err(|e| {
                    lambda_refused(
                        ctx,
                        format!("uploading the code of Lambda function {name}"),
                        &e,
                    )
                })?;
            applied.changes.push("uploaded code".into());
        }
        if present.has_drift(DRIFT_CONFIG) {
            if !applied.changes.is_empty() {
                // Lambda refuses a configuration update while the code update is in progress.
                wait_until_updated(ctx, name).await?;
            }
            retry_propagation(ctx, fresh_role, || {
                lambda
                    .update_function_configuration()
                    .function_name(name)
                    .runtime(Runtime::from(wanted.runtime.as_str()))
                    .memory_size(wanted.memory_mb)
                    .timeout(wanted.timeout_s)
                    .handler(HANDLER)
                    .role(&role)
                    .environment(env.clone())
                    .send()
            })
            .await
            .map_err(|e| {
                StepError::with_source(
                    format!("updating the configuration of Lambda function {name}"),
                    AwsError::from_sdk(&e),
                )
            })?;
            applied.changes.push("updated configuration".into());
        }
        if present.has_drift(DRIFT_TAGS) && ownership.is_none_or(Ownership::is_ours) {
            lambda
                .tag_resource()
                .resource(&applied.arn)
                .set_tags(Some(ctx.tags().into_iter().collect()))
                .send()
                .await
                .map_err(|e| {
                    StepError::with_source(
                        format!("tagging Lambda function {name}"),
                        AwsError::from_sdk(&e),
                    )
                })?;
            applied.changes.push("tagged function".into());
        }
        Ok(applied)
    }

    async fn destroy(
        &self,
        ctx: &StackContext,
        _recorded: Option<&Recorded>,
        _options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        let name = ctx.name(ID);
        let answer = ctx
            .clients
            .lambda
            .delete_function()
            .function_name(name)
            .send()
            .await;
        Service::Lambda.deleted(answer, || format!("deleting Lambda function {name}"))
    }
}

/// Polls until the function's last update is no longer in progress, within the
/// propagation timeout.
async fn wait_until_updated(ctx: &StackContext, name: &str) -> Result<(), StepError> {
    let bound = ctx.settings.propagation_timeout;
    let polled = poll_until(
        bound,
        Duration::from_secs(1),
        || async {
            let config = ctx
                .clients
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .map_err(|e| {
                    StepError::with_source(
                        format!("reading the update status of Lambda function {name}"),
                        AwsError::from_sdk(&e),
                    )
                })?;
            match config.last_update_status() {
                Some(LastUpdateStatus::InProgress) => Ok(Poll::Pending(())),
                Some(LastUpdateStatus::Failed) => Err(StepError::msg(format!(
                    "the code update of Lambda function {name} failed: {}",
                    config
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                ))),
                _ => Ok(Poll::Ready(())),
            }
        },
        |_, _| {},
    )
    .await?;
    polled.map_err(|()| {
        StepError::msg(format!(
            "Lambda function {name} was still updating after {} s",
            bound.as_secs()
        ))
    })
}

/// Lambda's error, and which `[function]` setting to change when Lambda does not offer the
/// architecture or the runtime in this region. No endpoint data says so up front (every
/// region with MediaConvert offers arm64 and the Python runtimes today), so the first
/// `CreateFunction` is where AWS tells: `InvalidParameterValueException` with
/// `Architecture "arm64" is not supported in eu-west-3. Please select "x86_64" …`.
fn lambda_refused<E, R>(
    ctx: &StackContext,
    doing: String,
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> StepError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let aws = AwsError::from_sdk(err);
    let said = aws.to_string();
    let refused =
        aws.code() == Some("InvalidParameterValueException") && said.contains("not supported in");
    let wanted = &ctx.settings.function;
    let setting = if !refused {
        None
    } else if said.contains("Architecture") {
        Some(("architecture", wanted.architecture.as_str()))
    } else if said.to_ascii_lowercase().contains("runtime") {
        Some(("runtime", wanted.runtime.as_str()))
    } else {
        None
    };
    match setting {
        Some((key, value)) => StepError::with_source(
            format!(
                "{doing}: AWS Lambda does not offer {key} {value} in {}; choose another `{key}` under [function] in cattube.toml",
                ctx.region
            ),
            aws,
        ),
        None => StepError::with_source(doing, aws),
    }
}
