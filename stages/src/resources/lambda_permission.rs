//! Stages 7 and 8: a statement of the converter function's resource policy that lets one AWS
//! service invoke it, only for one source (`SourceArn`): S3 for the stack's source bucket
//! (also `SourceAccount`, since bucket names are global and a deleted bucket's name can be
//! taken by anyone), EventBridge for the stack's job-events rule. One shape, registered
//! twice ([`S3_INVOKE`], [`JOB_EVENTS`]); other statements of the policy (anyone's) are
//! never touched.

use crate::resources::prelude::*;
use serde_json::Value;

use crate::policy;

/// One invoke permission: its registry entry and what its statement allows.
pub struct LambdaPermission {
    pub spec: &'static Spec,
    /// The service principal allowed to invoke (`s3.amazonaws.com`).
    pub principal: &'static str,
    /// The service as messages name it ("S3").
    pub service: &'static str,
    /// The `SourceArn` the statement is limited to.
    pub source: fn(&StackContext) -> String,
    /// Whether it is limited to this account too (`SourceAccount`).
    pub source_account: bool,
}

/// The S3 trigger's permission's id.
pub const S3_INVOKE_ID: ResourceId = ResourceId::new("invoke-permission");
/// The job-events rule's permission's id.
pub const JOB_EVENTS_ID: ResourceId = ResourceId::new("job-events-permission");

const GRANTS: &[Grant] = &[
    Grant::observe(
        &["lambda:GetPolicy"],
        Target::Function(crate::converter_function::ID),
    ),
    Grant::apply(
        &["lambda:AddPermission", "lambda:RemovePermission"],
        Target::Function(crate::converter_function::ID),
    ),
    Grant::destroy(
        &["lambda:RemovePermission"],
        Target::Function(crate::converter_function::ID),
    ),
];

/// Stage 7: S3 invokes the function for the source bucket's uploads.
pub const S3_INVOKE: LambdaPermission = LambdaPermission {
    spec: &Spec {
        id: S3_INVOKE_ID,
        stage: "7",
        // The function must exist to carry a resource policy; the bucket is only the
        // `SourceArn` condition, which Lambda does not look up.
        depends_on: &[crate::converter_function::ID],
        names: &[crate::source_bucket::ID],
        name: Some(NameRule {
            kind: NameKind::StatementId,
            default: "cattube-s3-invoke",
        }),
        service: Service::Lambda,
        permissions: GRANTS,
        ..Spec::DEFAULT
    },
    principal: "s3.amazonaws.com",
    service: "S3",
    source: |ctx| arn::bucket(ctx, crate::source_bucket::ID),
    source_account: true,
};

/// Stage 8: EventBridge invokes the function for the job-events rule's events.
pub const JOB_EVENTS: LambdaPermission = LambdaPermission {
    spec: &Spec {
        id: JOB_EVENTS_ID,
        stage: "8",
        // AddPermission needs the function; the rule is only named (its ARN derives from its
        // name, and Lambda does not look a SourceArn up).
        depends_on: &[crate::converter_function::ID],
        names: &[crate::job_events_rule::ID],
        name: Some(NameRule {
            kind: NameKind::StatementId,
            default: "cattube-events-invoke",
        }),
        service: Service::Lambda,
        permissions: GRANTS,
        ..Spec::DEFAULT
    },
    principal: "events.amazonaws.com",
    service: "EventBridge",
    source: |ctx| arn::rule(ctx, crate::job_events_rule::ID),
    source_account: false,
};

const DRIFT_STATEMENT: &str = "statement";
const ACTION: &str = "lambda:InvokeFunction";

/// Every string in a JSON value (a condition block, a principal), flattened.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().flat_map(|v| strings(Some(v))).collect(),
        Some(Value::Object(map)) => map.values().flat_map(|v| strings(Some(v))).collect(),
        _ => Vec::new(),
    }
}

/// How a live statement differs from the one `up` adds (`None`: it is right).
fn statement_drift(
    ctx: &StackContext,
    permission: &LambdaPermission,
    statement: &Value,
) -> Option<String> {
    let mut problems = Vec::new();
    let principals = strings(statement.get("Principal"));
    if principals != [permission.principal] {
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
    let source = (permission.source)(ctx);
    if !conditions.contains(&source) {
        problems.push(format!("not limited to SourceArn {source}"));
    }
    if permission.source_account && !conditions.contains(&ctx.account) {
        problems.push(format!("not limited to SourceAccount {}", ctx.account));
    }
    (!problems.is_empty()).then(|| format!("statement differs: {}", problems.join("; ")))
}

/// The statement `sid` in the converter function's resource policy, if there is one.
async fn live_statement(ctx: &StackContext, sid: &str) -> Result<Option<Value>, StepError> {
    let function = ctx.name(crate::converter_function::ID);
    let policy_text = ctx
        .clients
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .found(Service::Lambda, || {
            format!("reading the resource policy of Lambda function {function}")
        })?;
    // No function, or a function without a resource policy.
    let Some(policy_text) = policy_text else {
        return Ok(None);
    };
    let policy_text = policy_text.policy().map(str::to_string);
    let statements = policy::statements(
        policy_text.as_deref(),
        &format!("Lambda function {function}"),
    )?;
    Ok(policy::find(&statements, sid).cloned())
}

fn statement_arn(ctx: &StackContext, id: ResourceId) -> String {
    format!(
        "{}#{}",
        arn::function(ctx, crate::converter_function::ID),
        ctx.name(id)
    )
}

#[async_trait]
impl Step for LambdaPermission {
    fn spec(&self) -> &'static Spec {
        self.spec
    }

    /// A statement has no tags: the stack's statement id on the stack's function is ours.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(live_statement(ctx, ctx.name(self.spec.id))
            .await?
            .map(|_| Found {
                name: ctx.name(self.spec.id).to_string(),
                arn: statement_arn(ctx, self.spec.id),
            })
            .into_iter()
            .collect())
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let sid = ctx.name(self.spec.id);
        let Some(statement) = live_statement(ctx, ctx.name(self.spec.id)).await? else {
            return Ok(Observation::Missing);
        };
        let drift = statement_drift(ctx, self, &statement)
            .map(|detail| vec![Drift::new(DRIFT_STATEMENT, detail)])
            .unwrap_or_default();
        // A statement cannot carry tags; its id is in cattube's own namespace.
        let arn = statement_arn(ctx, self.spec.id);
        Ok(Observation::Present(Present::ours(sid, arn, drift)))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let function = ctx.name(crate::converter_function::ID);
        let sid = ctx.name(self.spec.id);
        let lambda = &ctx.clients.lambda;
        let mut applied = Applied {
            arn: statement_arn(ctx, self.spec.id),
            ..Default::default()
        };
        if let Observation::Present(_) = ctx.observation {
            // A statement cannot be edited: replace it.
            remove(ctx, sid).await?;
            applied.changes.push(format!("removed statement {sid}"));
        }
        lambda
            .add_permission()
            .function_name(function)
            .statement_id(sid)
            .action(ACTION)
            .principal(self.principal)
            .source_arn((self.source)(ctx))
            .set_source_account(self.source_account.then(|| ctx.account.clone()))
            .send()
            .await
            .context(|| format!("letting {} invoke Lambda function {function}", self.service))?;
        applied
            .changes
            .push(format!("added statement {sid} for {}", self.principal));
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        remove(ctx, ctx.name(self.spec.id)).await
    }
}

/// Removes statement `sid` from the converter function's resource policy (gone is success).
async fn remove(ctx: &StackContext, sid: &str) -> Result<Destroyed, StepError> {
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
