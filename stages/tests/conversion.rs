//! Stages 3–7 against mocked AWS: the eventual-consistency traps and merge rules an emulator
//! does not enforce, and the "write only what changed" promises.

use crate::common;

use std::collections::HashMap;

use aws_sdk_lambda::operation::create_function::{CreateFunctionError, CreateFunctionOutput};
use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::put_function_event_invoke_config::{
    PutFunctionEventInvokeConfigError, PutFunctionEventInvokeConfigOutput,
};
use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput;
use aws_sdk_lambda::operation::update_function_configuration::UpdateFunctionConfigurationOutput;
use aws_sdk_lambda::types::{Architecture, EnvironmentResponse, FunctionConfiguration, Runtime};
use aws_sdk_mediaconvert::operation::cancel_job::CancelJobOutput;
use aws_sdk_mediaconvert::operation::delete_queue::DeleteQueueOutput;
use aws_sdk_mediaconvert::operation::list_jobs::ListJobsOutput;
use aws_sdk_mediaconvert::types::{Job, JobStatus};
use aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput;
use aws_sdk_s3::operation::put_bucket_notification_configuration::{
    PutBucketNotificationConfigurationError, PutBucketNotificationConfigurationOutput,
};
use aws_sdk_s3::types::{Event, LambdaFunctionConfiguration, QueueConfiguration};
use aws_smithy_mocks::{mock, Rule, RuleBuilder};
use aws_smithy_types::error::ErrorMetadata;
use cattube_stages::artifact::{code_sha256, function_zip, HANDLER};
use cattube_stages::converter_function::{environment, ConverterFunction};
use cattube_stages::failure_destination::FailureDestination;
use cattube_stages::queue::Queue;
use cattube_stages::source_notification::SourceNotification;
use cattube_stages::step::DestroyOptions;
use cattube_stages::{
    arn, Applied, ApplyContext, DestroyContext, Destroyed, Observation, ObserveContext,
    StackContext, Step, StepResult,
};
use common::{context, MockClients};

const REGION: &str = "eu-west-1";

// ---------------------------------------------------------------------------------------
// converter-function: a fresh role, and updates only on change

fn fresh_role_error() -> CreateFunctionError {
    CreateFunctionError::generic(
        ErrorMetadata::builder()
            .code("InvalidParameterValueException")
            .message("The role defined for the function cannot be assumed by Lambda.")
            .build(),
    )
}

/// The stack's context against S3 answering with `rules`.
fn s3_context(rules: Vec<Rule>) -> StackContext {
    let mocks = MockClients {
        s3: rules,
        ..Default::default()
    };
    context(REGION, mocks.build())
}

/// `step` created (`apply` on a missing resource) against Lambda answering with `lambda`.
async fn create_against_lambda(step: &dyn Step, lambda: &Rule) -> StepResult<Applied> {
    let mocks = MockClients {
        lambda: vec![lambda.clone()],
        ..Default::default()
    };
    let ctx = context(REGION, mocks.build());
    step.apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
}

/// `step` created against Lambda refusing `operation` with `not_yet` twice, as it does while a
/// role just written has not reached it, then answering `output`: the step waits it out and
/// is created on the third call.
async fn created_on_the_third_call<I, O, E>(
    step: &dyn Step,
    operation: RuleBuilder<I, O, E>,
    not_yet: impl Fn() -> E + Send + Sync + 'static,
    output: impl Fn() -> O + Send + Sync + 'static,
) where
    I: std::fmt::Debug + Send + Sync + 'static,
    O: std::fmt::Debug + Send + Sync + 'static,
    E: std::fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    let rule = operation
        .sequence()
        .error(not_yet)
        .times(2)
        .output(output)
        .build();
    create_against_lambda(step, &rule)
        .await
        .expect("created once Lambda saw the role");
    assert_eq!(rule.num_calls(), 3, "{}", step.id());
}

#[tokio::test]
async fn create_function_retries_a_fresh_role() {
    let create = mock!(aws_sdk_lambda::Client::create_function).match_requests(|req| {
        req.handler() == Some(HANDLER)
            && req.architectures() == [Architecture::Arm64]
            && req.runtime() == Some(&Runtime::Python313)
    });
    created_on_the_third_call(&ConverterFunction, create, fresh_role_error, || {
        CreateFunctionOutput::builder().build()
    })
    .await;
}

#[tokio::test]
async fn create_function_gives_up_on_a_role_that_never_propagates() {
    let create = mock!(aws_sdk_lambda::Client::create_function).then_error(fresh_role_error);
    let mocks = MockClients {
        lambda: vec![create.clone()],
        ..Default::default()
    };
    // Counted, not timed: how many polls fit the bound depends on how fast the machine
    // answers (a loaded one fits fewer), so the test pins what does not: at most one call
    // per poll within the bound, more than one call, and no giving up before the next
    // poll would pass the bound (a slow machine only makes `took` longer).
    let ctx = context(REGION, mocks.build());
    let began = std::time::Instant::now();
    let err = ConverterFunction
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .unwrap_err();
    let took = began.elapsed();
    let bound = ctx.settings.propagation_timeout;
    let poll = cattube_stages::retry::PROPAGATION_POLL;
    let polls = (bound.as_millis() / poll.as_millis()) as usize;
    let calls = create.num_calls();
    assert!(
        (2..=polls + 1).contains(&calls),
        "{calls} calls: at least one retry, and at most one call per poll within {bound:?}"
    );
    assert!(
        took + poll > bound,
        "gave up after {took:?}, before another poll would pass {bound:?}"
    );
    let chain = format!("{err} {}", std::error::Error::source(&err).unwrap());
    assert!(chain.contains("cannot be assumed by Lambda"), "{chain}");
}

#[tokio::test]
async fn other_create_errors_are_not_retried() {
    let create = mock!(aws_sdk_lambda::Client::create_function).then_error(|| {
        CreateFunctionError::generic(
            ErrorMetadata::builder()
                .code("InvalidParameterValueException")
                .message("Unzipped size must be smaller than 262144000 bytes")
                .build(),
        )
    });
    assert!(create_against_lambda(&ConverterFunction, &create)
        .await
        .is_err());
    assert_eq!(create.num_calls(), 1);
}

// ---------------------------------------------------------------------------------------
// failure-destination: a role Lambda has not seen reach the bucket yet

#[tokio::test]
async fn the_on_failure_destination_waits_for_the_role_to_reach_its_bucket() {
    // Lambda checks the function's role against the destination when it is written, and
    // refuses a role it does not yet see allowed with these words, as for a bad ARN.
    let refused = || {
        PutFunctionEventInvokeConfigError::generic(
            ErrorMetadata::builder()
                .code("InvalidParameterValueException")
                .message("The destination ARN arn:aws:s3:::cattube-failures is invalid.")
                .build(),
        )
    };
    created_on_the_third_call(
        &FailureDestination,
        mock!(aws_sdk_lambda::Client::put_function_event_invoke_config),
        refused,
        || PutFunctionEventInvokeConfigOutput::builder().build(),
    )
    .await;
}

/// What a change to the function Lambda describes is applied to.
type ConfigBuilder = aws_sdk_lambda::types::builders::FunctionConfigurationBuilder;

/// GetFunction as Lambda answers for the function `up` wants, with `change` applied.
fn live_function(
    ctx: &StackContext,
    change: impl Fn(ConfigBuilder) -> ConfigBuilder + Send + Sync + 'static,
) -> Rule {
    let env: HashMap<String, String> = environment(ctx, None).into_iter().collect();
    let tags: HashMap<String, String> = ctx.tags.clone().into_iter().collect();
    let role = arn::role(ctx, cattube_stages::converter_role::ID);
    let function_arn = arn::function(ctx, cattube_stages::converter_function::ID);
    mock!(aws_sdk_lambda::Client::get_function).then_output(move || {
        let config = FunctionConfiguration::builder()
            .function_name("cattube-converter")
            .function_arn(&function_arn)
            .runtime(Runtime::Python313)
            .architectures(Architecture::Arm64)
            .memory_size(256)
            .timeout(60)
            .handler(HANDLER)
            .role(&role)
            .environment(
                EnvironmentResponse::builder()
                    .set_variables(Some(env.clone()))
                    .build(),
            )
            .code_sha256(code_sha256(&function_zip()));
        GetFunctionOutput::builder()
            .configuration(change(config).build())
            .set_tags(Some(tags.clone()))
            .build()
    })
}

struct Updates {
    code: Rule,
    config: Rule,
}

fn updates() -> Updates {
    Updates {
        code: mock!(aws_sdk_lambda::Client::update_function_code)
            .then_output(|| UpdateFunctionCodeOutput::builder().build()),
        config: mock!(aws_sdk_lambda::Client::update_function_configuration)
            .then_output(|| UpdateFunctionConfigurationOutput::builder().build()),
    }
}

/// Observes with GetFunction answered by `live`, applies, and counts the updates.
async fn converge_function(
    change: impl Fn(ConfigBuilder) -> ConfigBuilder + Send + Sync + 'static,
) -> (usize, usize, usize) {
    let probe = context(REGION, MockClients::default().build());
    let updates = updates();
    let mocks = MockClients {
        lambda: vec![
            live_function(&probe, change),
            updates.code.clone(),
            updates.config.clone(),
            mock!(aws_sdk_lambda::Client::get_function_configuration).then_output(|| {
                aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput::builder()
                    .last_update_status(aws_sdk_lambda::types::LastUpdateStatus::Successful)
                    .build()
            }),
        ],
        ..Default::default()
    };
    let ctx = context(REGION, mocks.build());
    let observation = ConverterFunction
        .observe(&ObserveContext::new(&ctx, None))
        .await
        .unwrap();
    let drift = observation.present().unwrap().drift.len();
    // Applied whatever the drift: with none, apply itself must send no update.
    ConverterFunction
        .apply(&ApplyContext::new(&ctx, &observation, None))
        .await
        .unwrap();
    (drift, updates.code.num_calls(), updates.config.num_calls())
}

#[tokio::test]
async fn a_converged_function_gets_no_update() {
    assert_eq!(converge_function(|c| c).await, (0, 0, 0));
}

#[tokio::test]
async fn a_changed_environment_updates_only_the_configuration() {
    let (drift, code, config) = converge_function(|c| {
        c.environment(
            EnvironmentResponse::builder()
                .variables("DESTINATION_BUCKET", "elsewhere")
                .build(),
        )
    })
    .await;
    assert_eq!((drift, code, config), (1, 0, 1));
}

#[tokio::test]
async fn different_code_updates_only_the_code() {
    let (drift, code, config) = converge_function(|c| c.code_sha256("c29tZXRoaW5nIGVsc2U=")).await;
    assert_eq!((drift, code, config), (1, 1, 0));
}

#[tokio::test]
async fn code_and_memory_both_change() {
    let (drift, code, config) = converge_function(|c| c.code_sha256("b2xk").memory_size(128)).await;
    assert_eq!((drift, code, config), (2, 1, 1));
}

// ---------------------------------------------------------------------------------------
// source-notification: merge with others' entries, retry until S3 can validate

fn foreign_notifications() -> GetBucketNotificationConfigurationOutput {
    GetBucketNotificationConfigurationOutput::builder()
        .lambda_function_configurations(
            LambdaFunctionConfiguration::builder()
                .id("theirs")
                .lambda_function_arn("arn:aws:lambda:eu-west-1:123456789012:function:thumbnailer")
                .events(Event::from("s3:ObjectRemoved:*"))
                .build()
                .unwrap(),
        )
        .lambda_function_configurations(
            LambdaFunctionConfiguration::builder()
                .id("cattube-notifications")
                .lambda_function_arn("arn:aws:lambda:eu-west-1:123456789012:function:old")
                .events(Event::from("s3:ObjectCreated:Put"))
                .build()
                .unwrap(),
        )
        .queue_configurations(
            QueueConfiguration::builder()
                .id("audit")
                .queue_arn("arn:aws:sqs:eu-west-1:123456789012:audit")
                .events(Event::from("s3:ObjectCreated:*"))
                .build()
                .unwrap(),
        )
        .build()
}

fn ids(configs: &[LambdaFunctionConfiguration]) -> Vec<&str> {
    configs.iter().filter_map(|c| c.id()).collect()
}

#[tokio::test]
async fn notification_is_merged_with_everyone_elses() {
    let function = arn::function(
        &context(REGION, MockClients::default().build()),
        cattube_stages::converter_function::ID,
    );
    let get = mock!(aws_sdk_s3::Client::get_bucket_notification_configuration)
        .then_output(foreign_notifications);
    let put = mock!(aws_sdk_s3::Client::put_bucket_notification_configuration)
        .match_requests(move |req| {
            let config = req.notification_configuration().unwrap();
            let lambdas = config.lambda_function_configurations();
            ids(lambdas) == ["theirs", "cattube-notifications"]
                && lambdas[1].lambda_function_arn() == function
                && lambdas[1].events() == [Event::from("s3:ObjectCreated:*")]
                && config.queue_configurations().len() == 1
        })
        .then_output(|| PutBucketNotificationConfigurationOutput::builder().build());
    let ctx = s3_context(vec![get, put.clone()]);
    let observation = SourceNotification
        .observe(&ObserveContext::new(&ctx, None))
        .await
        .unwrap();
    let drift = &observation.present().expect("ours is there").drift;
    assert_eq!(drift.len(), 1, "the stale entry is drift: {drift:?}");
    SourceNotification
        .apply(&ApplyContext::new(&ctx, &observation, None))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1, "written once, with the others kept");
}

#[tokio::test]
async fn down_removes_only_our_notification() {
    let get = mock!(aws_sdk_s3::Client::get_bucket_notification_configuration)
        .then_output(foreign_notifications);
    let put = mock!(aws_sdk_s3::Client::put_bucket_notification_configuration)
        .match_requests(|req| {
            let config = req.notification_configuration().unwrap();
            ids(config.lambda_function_configurations()) == ["theirs"]
                && config.queue_configurations().len() == 1
        })
        .then_output(|| PutBucketNotificationConfigurationOutput::builder().build());
    let ctx = s3_context(vec![get, put.clone()]);
    let destroyed = SourceNotification
        .destroy(&DestroyContext::new(&ctx, None, &DestroyOptions::default()))
        .await
        .unwrap();
    assert_eq!(destroyed, Destroyed::Deleted);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn notification_waits_for_the_invoke_permission() {
    let get = mock!(aws_sdk_s3::Client::get_bucket_notification_configuration)
        .then_output(|| GetBucketNotificationConfigurationOutput::builder().build());
    let put = mock!(aws_sdk_s3::Client::put_bucket_notification_configuration)
        .sequence()
        .error(|| {
            PutBucketNotificationConfigurationError::generic(
                ErrorMetadata::builder()
                    .code("InvalidArgument")
                    .message("Unable to validate the following destination configurations")
                    .build(),
            )
        })
        .times(2)
        .output(|| PutBucketNotificationConfigurationOutput::builder().build())
        .build();
    let ctx = s3_context(vec![get, put.clone()]);
    SourceNotification
        .apply(&ApplyContext::new(&ctx, &Observation::Missing, None))
        .await
        .expect("written once S3 could validate the destination");
    assert_eq!(put.num_calls(), 3);
}

// ---------------------------------------------------------------------------------------
// queue: unfinished jobs are cancelled before the delete

#[tokio::test]
async fn down_cancels_unfinished_jobs_before_deleting_the_queue() {
    let queue_arn = arn::queue(
        &context(REGION, MockClients::default().build()),
        cattube_stages::queue::ID,
    );
    let jobs = |ids: &[&str]| {
        let mut out = ListJobsOutput::builder();
        for id in ids {
            out = out.jobs(Job::builder().id(*id).build());
        }
        out.build()
    };
    let (q1, q2) = (queue_arn.clone(), queue_arn.clone());
    let submitted = mock!(aws_sdk_mediaconvert::Client::list_jobs)
        .match_requests(move |req| {
            req.status() == Some(&JobStatus::Submitted) && req.queue() == Some(q1.as_str())
        })
        .then_output(move || jobs(&["waiting-1", "waiting-2"]));
    let progressing = mock!(aws_sdk_mediaconvert::Client::list_jobs)
        .match_requests(move |req| {
            req.status() == Some(&JobStatus::Progressing) && req.queue() == Some(q2.as_str())
        })
        .then_output(move || jobs(&["running-1"]));
    let cancel = mock!(aws_sdk_mediaconvert::Client::cancel_job)
        .then_output(|| CancelJobOutput::builder().build());
    let cancelled = cancel.clone();
    let delete = mock!(aws_sdk_mediaconvert::Client::delete_queue).then_output(move || {
        assert_eq!(cancelled.num_calls(), 3, "jobs cancelled before the delete");
        DeleteQueueOutput::builder().build()
    });
    let mocks = MockClients {
        mediaconvert: vec![submitted, progressing, cancel.clone(), delete.clone()],
        ..Default::default()
    };
    let ctx = context(REGION, mocks.build());
    let destroyed = Queue
        .destroy(&DestroyContext::new(&ctx, None, &DestroyOptions::default()))
        .await
        .unwrap();
    assert_eq!(
        destroyed,
        Destroyed::DeletedAfter("cancelled 3 unfinished jobs first".into())
    );
    assert_eq!((cancel.num_calls(), delete.num_calls()), (3, 1));
}
