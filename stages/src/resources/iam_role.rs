//! What the two stage-5 roles share: an IAM role with a trust policy, exactly one inline
//! policy (`cattube`) and nothing else. Anything more (another inline policy, an attached
//! managed policy) widens what the role may do and is drift, removed by `up`, on a role the
//! stack created. On an adopted role (it existed, without the stack's tags) the other
//! policies are its owner's: they are neither drift nor removed, and the role is never deleted.

use crate::resources::prelude::*;
use aws_sdk_iam::types::Tag;
use serde_json::Value;

use crate::policy;

/// Account-wide roles other things depend on (MediaConvert's console and the tutorial use
/// `MediaConvert_Default_Role` for every job): never adopted, so never rewritten.
pub const SHARED_ROLES: &[&str] = &["MediaConvert_Default_Role"];

/// The inline policy cattube writes on its roles.
pub const POLICY_NAME: &str = "cattube";

const DRIFT_TRUST: &str = "trust";
const DRIFT_POLICY: &str = "policy";
const DRIFT_EXTRA_INLINE: &str = "extra-inline";
const DRIFT_ATTACHED: &str = "attached";

/// One stage-5 role: its id, what may assume it, and what it may do.
pub(crate) trait RoleSpec {
    const ID: crate::naming::ResourceId;
    const DESCRIPTION: &'static str;
    fn trust(ctx: &StackContext) -> Value;
    fn policy(ctx: &StackContext) -> Value;
}

/// IAM answers policy documents URL-encoded (RFC 3986).
fn decode(document: &str) -> Option<Value> {
    let text = urlencoding::decode(document).ok()?;
    serde_json::from_str(&text).ok()
}

pub(crate) async fn observe<S: RoleSpec>(ctx: &ObserveContext<'_>) -> StepResult<Observation> {
    let iam = &ctx.clients.iam;
    let name = ctx.name(S::ID);
    let doing = |what: &str| format!("reading the {what} of IAM role {name}");
    // Four independent reads, one round trip.
    let (role, inline, attached, ours) = tokio::join!(
        iam.get_role().role_name(name).send(),
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
        iam.get_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .send(),
    );
    let Some(role) = role.found(Service::Iam, || doing("definition"))? else {
        return Ok(Observation::Missing);
    };
    let role = role.role();
    let tags: Vec<(&str, &str)> = role
        .map(|r| r.tags().iter().map(|t| (t.key(), t.value())).collect())
        .unwrap_or_default();
    let tagged_ours = ctx.tagged_ours(tags.iter().copied());
    let owned = tagged_ours || ctx.recorded.is_some_and(|r| r.ownership.is_ours());
    // A role the whole account shares is not the stack's to narrow, even for a while.
    if !owned && SHARED_ROLES.contains(&name) {
        return Err(StepError::refused(format!(
            "IAM role {name} is shared by everything in the account that uses its service: \
             cattube never rewrites it. Remove `{} = \"{name}\"` from [names] in cattube.toml \
             (cattube then makes a least-privilege role of its own)",
            S::ID
        )));
    }
    let ours = ours
        .found(Service::Iam, || doing("inline policy"))?
        .and_then(|out| decode(out.policy_document()));
    let trust = role
        .and_then(|r| r.assume_role_policy_document())
        .and_then(decode);
    let mut drift = policy_drift::<S>(ctx, trust, ours);
    let inline = inline.context(|| doing("inline policies"))?;
    let attached = attached.context(|| doing("attached policies"))?;
    if owned {
        drift.extend(widened(&inline, &attached));
        drift.extend(ctx.tag_drift(tags.iter().copied()));
    }

    Ok(Observation::Present(Present {
        name: name.to_string(),
        arn: arn::role(ctx, S::ID),
        tagged_ours,
        drift,
        pending: None,
        outputs: Default::default(),
    }))
}

/// How the role's trust policy and cattube's inline policy differ from the stack's, each
/// with what it was (`down` puts an adopted role's back).
fn policy_drift<S: RoleSpec>(
    ctx: &StackContext,
    trust: Option<Value>,
    ours: Option<Value>,
) -> Vec<Drift> {
    let mut drift = Vec::new();
    if !trust
        .as_ref()
        .is_some_and(|t| policy::same(t, &S::trust(ctx)))
    {
        drift.push(
            Drift::new(DRIFT_TRUST, "trust policy differs from the stack's")
                .was(DRIFT_TRUST, trust),
        );
    }
    match ours {
        None => drift.push(
            Drift::new(
                DRIFT_POLICY,
                format!("inline policy {POLICY_NAME} is missing"),
            )
            .was(DRIFT_POLICY, None),
        ),
        Some(p) if !policy::same(&p, &S::policy(ctx)) => drift.push(
            Drift::new(
                DRIFT_POLICY,
                format!("inline policy {POLICY_NAME} differs from the stack's"),
            )
            .was(DRIFT_POLICY, Some(p)),
        ),
        Some(_) => {}
    }
    drift
}

/// Policies beside cattube's: they widen a role the stack created (drift, stripped by
/// `up`). Only asked of a role the stack owns: on an adopted one they are its owner's.
fn widened(
    inline: &aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput,
    attached: &aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput,
) -> Vec<Drift> {
    let mut drift = Vec::new();
    let extra: Vec<&str> = inline
        .policy_names()
        .iter()
        .map(String::as_str)
        .filter(|n| *n != POLICY_NAME)
        .collect();
    if !extra.is_empty() {
        drift.push(Drift::new(
            DRIFT_EXTRA_INLINE,
            format!(
                "role policy widened: extra inline policy {}",
                extra.join(", ")
            ),
        ));
    }
    let managed: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    if !managed.is_empty() {
        drift.push(Drift::new(
            DRIFT_ATTACHED,
            format!(
                "role policy widened: managed policy {} attached",
                managed.join(", ")
            ),
        ));
    }
    drift
}

fn tags(ctx: &StackContext) -> Result<Vec<Tag>, StepError> {
    ctx.sdk_tags(|k, v| Tag::builder().key(k).value(v).build())
}

pub(crate) async fn apply<S: RoleSpec>(ctx: &ApplyContext<'_>) -> StepResult<Applied> {
    let iam = &ctx.clients.iam;
    let name = ctx.name(S::ID);
    let mut applied = Applied {
        arn: arn::role(ctx, S::ID),
        ..Default::default()
    };
    let repair = |key: &str| match ctx.observation {
        Observation::Missing => true,
        Observation::Present(p) => p.has_drift(key),
    };

    if let Observation::Missing = ctx.observation {
        iam.create_role()
            .role_name(name)
            .description(S::DESCRIPTION)
            .assume_role_policy_document(S::trust(ctx).to_string())
            .set_tags(Some(tags(ctx)?))
            .send()
            .await
            .context(|| format!("creating IAM role {name}"))?;
        applied.changes.push("created role".into());
    } else if repair(DRIFT_TRUST) {
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(S::trust(ctx).to_string())
            .send()
            .await
            .context(|| format!("writing the trust policy of IAM role {name}"))?;
        applied.changes.push("restored the trust policy".into());
    }
    if repair(DRIFT_POLICY) {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(POLICY_NAME)
            .policy_document(S::policy(ctx).to_string())
            .send()
            .await
            .context(|| format!("writing inline policy {POLICY_NAME} of IAM role {name}"))?;
        applied
            .changes
            .push(format!("wrote inline policy {POLICY_NAME}"));
    }
    if let Observation::Present(present) = ctx.observation {
        if repair(DRIFT_EXTRA_INLINE) || repair(DRIFT_ATTACHED) {
            applied.changes.extend(strip(ctx, name, false).await?);
        }
        if present.retags(ctx.ownership) {
            iam.tag_role()
                .role_name(name)
                .set_tags(Some(tags(ctx)?))
                .send()
                .await
                .context(|| format!("tagging IAM role {name}"))?;
            applied.changes.push("tagged role".into());
        }
    }
    Ok(applied)
}

/// Deletes the inline policy `policy` of IAM role `name`: whether it was there.
async fn delete_inline(ctx: &StackContext, name: &str, policy: &str) -> Result<bool, StepError> {
    let iam = &ctx.clients.iam;
    let answer = iam
        .delete_role_policy()
        .role_name(name)
        .policy_name(policy)
        .send()
        .await;
    let deleted = answer.found(Service::Iam, || {
        format!("deleting inline policy {policy} of IAM role {name}")
    })?;
    Ok(deleted.is_some())
}

/// Removes every inline policy but cattube's (all of them with `all`) and detaches every
/// managed policy. What it removed, one line each.
async fn strip(ctx: &StackContext, name: &str, all: bool) -> Result<Vec<String>, StepError> {
    let iam = &ctx.clients.iam;
    let mut removed = Vec::new();
    let (inline, attached) = tokio::join!(
        iam.list_role_policies().role_name(name).send(),
        iam.list_attached_role_policies().role_name(name).send(),
    );
    let inline = inline.context(|| format!("listing the inline policies of IAM role {name}"))?;
    for policy in inline.policy_names() {
        if (all || policy != POLICY_NAME) && delete_inline(ctx, name, policy).await? {
            removed.push(format!("deleted inline policy {policy}"));
        }
    }
    let attached =
        attached.context(|| format!("listing the managed policies of IAM role {name}"))?;
    for policy in attached.attached_policies() {
        let Some(policy_arn) = policy.policy_arn() else {
            continue;
        };
        if iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .found(Service::Iam, || {
                format!("detaching {policy_arn} from IAM role {name}")
            })?
            .is_some()
        {
            removed.push(format!("detached managed policy {policy_arn}"));
        }
    }
    Ok(removed)
}

/// Puts back, on an adopted role, the trust policy and the inline policy `cattube` as they
/// were before `up` (the owner's other policies were never touched).
pub(crate) async fn restore<S: RoleSpec>(
    ctx: &StackContext,
    recorded: &crate::Recorded,
) -> Result<Vec<String>, StepError> {
    let iam = &ctx.clients.iam;
    let name = ctx.name(S::ID);
    let originals = crate::original::Originals::of(recorded);
    let mut restored = Vec::new();
    if let Some(Some(trust)) = originals.get(DRIFT_TRUST) {
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(trust.to_string())
            .send()
            .await
            .context(|| format!("restoring the trust policy of IAM role {name}"))?;
        restored.push("trust policy".to_string());
    }
    match originals.get(DRIFT_POLICY) {
        None => {}
        Some(None) => {
            delete_inline(ctx, name, POLICY_NAME).await?;
            restored.push(format!("inline policy {POLICY_NAME} (none)"));
        }
        Some(Some(document)) => {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(POLICY_NAME)
                .policy_document(document.to_string())
                .send()
                .await
                .context(|| format!("restoring inline policy {POLICY_NAME} of IAM role {name}"))?;
            restored.push(format!("inline policy {POLICY_NAME}"));
        }
    }
    Ok(restored)
}

/// The calls of [`delete_other`] (`down --including-adopted`), on whichever role an adopted
/// function was found running as.
pub const DELETE_OTHER: crate::grant::Grant = crate::grant::Grant::new(
    crate::grant::Phase::Destroy,
    DELETE_ACTIONS,
    crate::grant::Target::Roles,
);

/// `strip`, DeleteRole, and `role_gone` when stripping failed.
const DELETE_ACTIONS: &[&str] = &[
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRole",
    "iam:GetRole",
];

/// Deletes the role: its policies first (IAM refuses with DeleteConflict otherwise).
/// Deletes a role that is not the stack's (one a takeover replaced, on `down
/// --including-adopted`): every inline and attached policy off it, then the role.
pub(crate) async fn delete_other(ctx: &StackContext, name: &str) -> Result<Destroyed, StepError> {
    if let Err(e) = strip(ctx, name, true).await {
        if role_gone(ctx, name).await {
            return Ok(Destroyed::AlreadyGone);
        }
        return Err(e);
    }
    let answer = ctx.clients.iam.delete_role().role_name(name).send().await;
    Service::Iam.deleted(answer, || format!("deleting IAM role {name}"))
}

pub(crate) async fn destroy<S: RoleSpec>(ctx: &StackContext) -> Result<Destroyed, StepError> {
    let name = ctx.name(S::ID);
    // The role's own policy is deleted beside the listings of the others (one round, not
    // two, before DeleteRole); `strip` then removes whatever else is on it.
    let own = delete_inline(ctx, name, POLICY_NAME);
    let (own, stripped) = tokio::join!(own, strip(ctx, name, false));
    match own.and(stripped) {
        Ok(_) => {}
        Err(_) if role_gone(ctx, name).await => return Ok(Destroyed::AlreadyGone),
        Err(e) => return Err(e),
    }
    let answer = ctx.clients.iam.delete_role().role_name(name).send().await;
    Service::Iam.deleted(answer, || format!("deleting IAM role {name}"))
}

async fn role_gone(ctx: &StackContext, name: &str) -> bool {
    let answer = ctx.clients.iam.get_role().role_name(name).send().await;
    matches!(answer.found(Service::Iam, String::new), Ok(None))
}

/// The `Step` impl of a role module: its registry entry and the shared observe/apply/destroy.
macro_rules! role_step {
    ($step:ident, $role:ty, $spec:expr) => {
        #[async_trait::async_trait]
        impl $crate::step::Step for $step {
            fn spec(&self) -> &'static $crate::step::Spec {
                &$spec
            }
            async fn observe(
                &self,
                ctx: &$crate::step::ObserveContext<'_>,
            ) -> $crate::step::StepResult<$crate::Observation> {
                $crate::resources::iam_role::observe::<$role>(ctx).await
            }
            async fn apply(
                &self,
                ctx: &$crate::step::ApplyContext<'_>,
            ) -> $crate::step::StepResult<$crate::Applied> {
                $crate::resources::iam_role::apply::<$role>(ctx).await
            }
            async fn restore(
                &self,
                ctx: &$crate::StackContext,
                recorded: &$crate::Recorded,
            ) -> Result<Vec<String>, $crate::StepError> {
                $crate::resources::iam_role::restore::<$role>(ctx, recorded).await
            }
            async fn destroy(
                &self,
                ctx: &$crate::step::DestroyContext<'_>,
            ) -> $crate::step::StepResult<$crate::Destroyed> {
                $crate::resources::iam_role::destroy::<$role>(ctx).await
            }
        }
    };
}
pub(crate) use role_step;

/// The IAM actions of `observe`, `apply` and `destroy` above, on the role of resource `id`.
pub(crate) const fn permissions(id: crate::naming::ResourceId) -> [crate::grant::Grant; 4] {
    use crate::grant::{Grant, Target};
    [
        Grant::observe(
            &[
                "iam:GetRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:GetRolePolicy",
            ],
            Target::Role(id),
        ),
        Grant::apply(
            &[
                "iam:CreateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:TagRole",
                // `strip`: the policies someone else put on the role are removed.
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
            ],
            Target::Role(id),
        ),
        Grant::destroy(DELETE_ACTIONS, Target::Role(id)),
        Grant::destroy(
            // `restore`: an adopted role's trust and inline policy put back.
            &["iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy"],
            Target::Role(id),
        ),
    ]
}
