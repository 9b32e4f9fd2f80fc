//! Stage 8: the converter function's resource policy lets EventBridge invoke it, only for
//! the stack's job-events rule (`SourceArn`). Other statements of the policy (the S3
//! trigger's, anyone's) are never touched.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::AwsError;
use crate::grant::{Grant, Phase, Target};
use crate::invoke_permission::{live_statement, remove, strings};
use crate::naming::NameKind;
use crate::naming::ResourceId;
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Found, NameRule, Observation, Ownership, Present,
    Recorded, Service, Spec, Step,
};
use crate::{arn, StackContext, StepError};

pub struct JobEventsPermission;

/// This resource's id: the key of its state, `[names]` entry and facts.
pub const ID: ResourceId = ResourceId::new("job-events-permission");
/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "8",
    // AddPermission needs the function; the rule is only named (its ARN derives from its
    // name, and Lambda does not look a SourceArn up).
    depends_on: &[crate::converter_function::ID],
    names: &[crate::job_events_rule::ID],
    name: Some(NameRule {
        kind: NameKind::StatementId,
        default: "cattube-events-invoke",
    }),
    outputs: &[],
    service: Service::Lambda,
    permissions: &[
        Grant::new(
            Phase::Observe,
            &["lambda:GetPolicy"],
            Target::Function(crate::converter_function::ID),
        ),
        Grant::new(
            Phase::Apply,
            &["lambda:AddPermission", "lambda:RemovePermission"],
            Target::Function(crate::converter_function::ID),
        ),
        Grant::new(
            Phase::Destroy,
            &["lambda:RemovePermission"],
            Target::Function(crate::converter_function::ID),
        ),
    ],
};

const DRIFT_STATEMENT: &str = "statement";
const PRINCIPAL: &str = "events.amazonaws.com";
const ACTION: &str = "lambda:InvokeFunction";

/// How a live statement differs from the one `up` adds (`None`: it is right).
fn statement_drift(ctx: &StackContext, statement: &Value) -> Option<String> {
    let mut problems = Vec::new();
    let principals = strings(statement.get("Principal"));
    if principals != [PRINCIPAL] {
        problems.push(format!("principal {}", principals.join(",")));
    }
    let actions = strings(statement.get("Action"));
    if actions != [ACTION] {
        problems.push(format!("action {}", actions.join(",")));
    }
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        problems.push("effect is not Allow".into());
    }
    let rule = arn::rule(ctx, crate::job_events_rule::ID);
    if !strings(statement.get("Condition")).contains(&rule) {
        problems.push(format!("not limited to SourceArn {rule}"));
    }
    (!problems.is_empty()).then(|| format!("statement differs: {}", problems.join("; ")))
}

fn statement_arn(ctx: &StackContext) -> String {
    format!(
        "{}#{}",
        arn::function(ctx, crate::converter_function::ID),
        ctx.name(ID)
    )
}

#[async_trait]
impl Step for JobEventsPermission {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    /// A statement has no tags: the stack's statement id on the stack's function is ours.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(live_statement(ctx, ctx.name(ID))
            .await?
            .map(|_| Found {
                name: ctx.name(ID).to_string(),
                arn: statement_arn(ctx),
            })
            .into_iter()
            .collect())
    }

    async fn observe(
        &self,
        ctx: &StackContext,
        _recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        let Some(statement) = live_statement(ctx, ctx.name(ID)).await? else {
            return Ok(Observation::Missing);
        };
        let drift = statement_drift(ctx, &statement)
            .map(|detail| vec![Drift::new(DRIFT_STATEMENT, detail)])
            .unwrap_or_default();
        Ok(Observation::Present(Present {
            name: ctx.name(ID).to_string(),
            arn: statement_arn(ctx),
            // A statement cannot carry tags; its id is in cattube's own namespace.
            tagged_ours: true,
            drift,
            pending: None,
            outputs: Default::default(),
        }))
    }

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        _ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        let function = ctx.name(crate::converter_function::ID);
        let sid = ctx.name(ID);
        let mut applied = Applied {
            arn: statement_arn(ctx),
            ..Default::default()
        };
        if let Observation::Present(_) = observation {
            // A statement cannot be edited: replace it.
            remove(ctx, sid).await?;
            applied.changes.push(format!("removed statement {sid}"));
        }
        ctx.clients
            .lambda
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action(ACTION)
            .principal(PRINCIPAL)
            .source_arn(arn::rule(ctx, crate::job_events_rule::ID))
            .send()
            .await
            .map_err(|e| {
                StepError::with_source(
                    format!("letting EventBridge invoke Lambda function {function}"),
                    AwsError::from_sdk(&e),
                )
            })?;
        applied
            .changes
            .push(format!("added statement {sid} for {PRINCIPAL}"));
        Ok(applied)
    }

    async fn destroy(
        &self,
        ctx: &StackContext,
        _recorded: Option<&Recorded>,
        _options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        remove(ctx, ctx.name(ID)).await
    }
}
