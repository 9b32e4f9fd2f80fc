//! Stage 7: the converter function's resource policy lets S3 invoke it, only for events of
//! the stack's source bucket (`SourceArn`) in this account (`SourceAccount`, since bucket
//! names are global and a deleted bucket's name can be taken by anyone).

use crate::grant::{Grant, Phase, Target};
use crate::naming::ResourceId;
use async_trait::async_trait;

use crate::naming::NameKind;
use serde_json::Value;

use crate::error::AwsError;
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Found, NameRule, Observation, Ownership, Present,
    Recorded, Service, Spec, Step,
};
use crate::{arn, policy, StackContext, StepError};

pub struct InvokePermission;

/// This resource's id: the key of its state, `[names]` entry and facts.
pub const ID: ResourceId = ResourceId::new("invoke-permission");
/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "7",
    // The function must exist to carry a resource policy; the bucket is only the
    // `SourceArn` condition, which Lambda does not look up.
    depends_on: &[crate::converter_function::ID],
    names: &[crate::source_bucket::ID],
    name: Some(NameRule {
        kind: NameKind::StatementId,
        default: "cattube-s3-invoke",
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
const PRINCIPAL: &str = "s3.amazonaws.com";
const ACTION: &str = "lambda:InvokeFunction";

/// Every string in a JSON value (a condition block, a principal), flattened.
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().flat_map(|v| strings(Some(v))).collect(),
        Some(Value::Object(map)) => map.values().flat_map(|v| strings(Some(v))).collect(),
        _ => Vec::new(),
    }
}

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
    let conditions = strings(statement.get("Condition"));
    let source = arn::bucket(ctx, crate::source_bucket::ID);
    if !conditions.contains(&source) {
        problems.push(format!("not limited to SourceArn {source}"));
    }
    if !conditions.contains(&ctx.account) {
        problems.push(format!("not limited to SourceAccount {}", ctx.account));
    }
    (!problems.is_empty()).then(|| format!("statement differs: {}", problems.join("; ")))
}

/// The statement `sid` in the converter function's resource policy, if there is one.
pub(crate) async fn live_statement(
    ctx: &StackContext,
    sid: &str,
) -> Result<Option<Value>, StepError> {
    let function = ctx.name(crate::converter_function::ID);
    let policy_text = match ctx
        .clients
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => out.policy().map(str::to_string),
        // No function, or a function without a resource policy.
        Err(e) if Service::Lambda.not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(StepError::with_source(
                format!("reading the resource policy of Lambda function {function}"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let statements = policy::statements(
        policy_text.as_deref(),
        &format!("Lambda function {function}"),
    )?;
    Ok(policy::find(&statements, sid).cloned())
}

fn statement_arn(ctx: &StackContext) -> String {
    format!(
        "{}#{}",
        arn::function(ctx, crate::converter_function::ID),
        ctx.name(ID)
    )
}

#[async_trait]
impl Step for InvokePermission {
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
        let sid = ctx.name(ID);
        let Some(statement) = live_statement(ctx, ctx.name(ID)).await? else {
            return Ok(Observation::Missing);
        };
        let drift = statement_drift(ctx, &statement)
            .map(|detail| vec![Drift::new(DRIFT_STATEMENT, detail)])
            .unwrap_or_default();
        Ok(Observation::Present(Present {
            name: sid.to_string(),
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
        let lambda = &ctx.clients.lambda;
        let mut applied = Applied {
            arn: statement_arn(ctx),
            ..Default::default()
        };
        if let Observation::Present(_) = observation {
            // A statement cannot be edited: replace it.
            remove(ctx, sid).await?;
            applied.changes.push(format!("removed statement {sid}"));
        }
        lambda
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action(ACTION)
            .principal(PRINCIPAL)
            .source_arn(arn::bucket(ctx, crate::source_bucket::ID))
            .source_account(&ctx.account)
            .send()
            .await
            .map_err(|e| {
                StepError::with_source(
                    format!("letting S3 invoke Lambda function {function}"),
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

/// Removes statement `sid` from the converter function's resource policy (gone is success).
pub(crate) async fn remove(ctx: &StackContext, sid: &str) -> Result<Destroyed, StepError> {
    let function = ctx.name(crate::converter_function::ID);
    let answer = ctx
        .clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
        .send()
        .await;
    Service::Lambda.deleted(answer, || {
        format!("removing statement {sid} from Lambda function {function}")
    })
}
