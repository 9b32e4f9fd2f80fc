//! Stage 6, with `[delivery] private = true`: the Secrets Manager secret that holds the
//! private keys a private stack signs URLs and cookies with. cattube generates each RSA key
//! pair itself ([`crate::signing`]); the private half goes here and nowhere else (not the
//! state file, not the working directory, not the output), the public half to CloudFront
//! ([`crate::public_keys`]).
//!
//! Why Secrets Manager and not an SSM SecureString: a secret takes a resource policy, so
//! "readable only by the caller" is enforced on the secret itself, whatever identity
//! policies other principals of the account hold; a parameter has none. Encrypted with the
//! AWS managed key `aws/secretsmanager`. The policy denies reading or writing the value to
//! every principal but the one that ran `up` (no role of the stack signs: the converter
//! function never needs it). `down` deletes it without a recovery window: once its public
//! keys are gone from CloudFront the key signs nothing, and a recovery window would block
//! the name for the next `up`.
//!
//! Its value, newest key last: `{"version": 1, "keys": [{"name", "created", "private_key"}]}`
//! (`created`: seconds since the epoch; `name`: the CloudFront public key's name).

use crate::resources::prelude::*;
use std::collections::BTreeMap;

use aws_sdk_secretsmanager::types::Tag;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub struct SigningSecret;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    name: Some(NameRule {
        kind: NameKind::Secret,
        default: "cattube/{stack}/{region}/signing-keys",
    }),
    outputs: &["signing_secret_arn"],
    service: Service::SecretsManager,
    permissions: &[
        Grant::observe(
            &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetResourcePolicy",
            ],
            Target::Secret(ID),
        ),
        // CreateSecret's tags are checked on the request (TagResource too).
        Grant::apply(
            &[
                "secretsmanager:CreateSecret",
                "secretsmanager:TagResource",
                "secretsmanager:PutResourcePolicy",
                // `up` deletes it when `[delivery] private` is turned off.
                "secretsmanager:DeleteSecret",
            ],
            Target::Secret(ID),
        ),
        Grant::destroy(&["secretsmanager:DeleteSecret"], Target::Secret(ID)),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("signing-secret");

/// The secret's value in reading and in writing ([`read_keys`], [`write_keys`]): a
/// command's grants (`url --signed`, `keys rotate`).
pub const READ: Grant = Grant::observe(&["secretsmanager:GetSecretValue"], Target::Secret(ID));
pub const WRITE: Grant = Grant::apply(&["secretsmanager:PutSecretValue"], Target::Secret(ID));

const DRIFT_POLICY: &str = "policy";
const POLICY_SID: &str = "OnlyTheStackOwnerReadsTheSigningKey";

/// One signing key: the private half, and the name of its public half in CloudFront.
#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKey {
    pub name: String,
    /// Seconds since the epoch.
    pub created: u64,
    pub private_key: String,
}

impl std::fmt::Debug for SigningKey {
    /// Never the private key (a `{:?}` must not leak it into a log).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyRing {
    pub version: u32,
    /// Oldest first: the last one signs.
    pub keys: Vec<SigningKey>,
}

impl KeyRing {
    pub fn newest(&self) -> Option<&SigningKey> {
        self.keys.last()
    }
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// A new key named after the public keys' prefix and its creation second.
pub fn new_key(ctx: &StackContext, created: u64) -> Result<SigningKey, StepError> {
    let pair = crate::signing::generate()?;
    Ok(SigningKey {
        name: format!("{}-{created}", ctx.name(super::signing_keys::PUBLIC_KEYS)),
        created,
        private_key: pair.private_pem,
    })
}

/// The secret's keys; `None` when there is no secret.
pub async fn read_keys(ctx: &StackContext) -> Result<Option<KeyRing>, StepError> {
    let name = ctx.name(ID);
    let Some(out) = ctx
        .clients
        .secrets
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .found(Service::SecretsManager, || {
            format!("reading the signing keys (secret {name})")
        })?
    else {
        return Ok(None);
    };
    let text = out.secret_string().unwrap_or_default();
    serde_json::from_str(text).map(Some).map_err(|e| {
        StepError::msg(format!(
            "secret {name} does not hold cattube's signing keys ({e}): delete it or name another with [names] {ID}"
        ))
    })
}

/// Replaces the secret's keys (a new version of its value).
pub async fn write_keys(ctx: &StackContext, ring: &KeyRing) -> Result<(), StepError> {
    let name = ctx.name(ID);
    let text = serde_json::to_string(ring).map_err(|e| StepError::with_source("encoding", e))?;
    ctx.clients
        .secrets
        .put_secret_value()
        .secret_id(name)
        .secret_string(text)
        .send()
        .await
        .context(|| format!("writing the signing keys (secret {name})"))?;
    Ok(())
}

/// The IAM ARN `aws:PrincipalArn` has for the caller: a role for an assumed-role session
/// (its path is not in the session's ARN, hence the second, wildcard form), else the
/// caller's own ARN.
async fn caller_principals(ctx: &StackContext) -> Result<Vec<String>, StepError> {
    let who = ctx
        .clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .context(|| "asking STS who the caller is".to_string())?;
    let arn = who.arn().unwrap_or_default().to_string();
    Ok(principals_of(&arn))
}

fn principals_of(arn: &str) -> Vec<String> {
    // arn:aws:sts::123456789012:assumed-role/NAME/SESSION
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if let [_, partition, "sts", _, account, resource] = parts.as_slice() {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or_default();
            return vec![
                format!("arn:{partition}:iam::{account}:role/{role}"),
                format!("arn:{partition}:iam::{account}:role/*/{role}"),
            ];
        }
    }
    vec![arn.to_string()]
}

/// The resource policy: nobody but the caller reads or writes the value.
fn wanted_policy(principals: &[String]) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": POLICY_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecret"
            ],
            "Resource": "*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": principals}}
        }]
    })
}

fn tags(ctx: &StackContext) -> Vec<Tag> {
    ctx.tags()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn outputs(arn: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("signing_secret_arn", arn.to_string())])
}

async fn put_policy(ctx: &StackContext, arn: &str) -> Result<(), StepError> {
    let policy = wanted_policy(&caller_principals(ctx).await?);
    ctx.clients
        .secrets
        .put_resource_policy()
        .secret_id(arn)
        .resource_policy(policy.to_string())
        .block_public_policy(true)
        .send()
        .await
        .context(|| format!("limiting who reads secret {}", ctx.name(ID)))?;
    Ok(())
}

#[async_trait]
impl Step for SigningSecret {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    super::signing_keys::wanted_when_private!();

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = ctx.name(ID);
        let secrets = &ctx.clients.secrets;
        let Some(described) = secrets
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .found(Service::SecretsManager, || format!("reading secret {name}"))?
        else {
            return Ok(Observation::Missing);
        };
        if described.deleted_date().is_some() {
            // Scheduled for deletion (by hand, with a recovery window): gone to cattube.
            return Ok(Observation::Missing);
        }
        let arn = described.arn().unwrap_or_default().to_string();
        let live_tags: BTreeMap<String, String> = described
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let (policy, principals) = tokio::join!(
            secrets.get_resource_policy().secret_id(&arn).send(),
            caller_principals(ctx)
        );
        let policy = policy
            .context(|| format!("reading the resource policy of secret {name}"))?
            .resource_policy()
            .and_then(|p| serde_json::from_str::<Value>(p).ok());
        let mut drift = Vec::new();
        if policy.as_ref() != Some(&wanted_policy(&principals?)) {
            drift.push(Drift::new(
                DRIFT_POLICY,
                "its resource policy does not limit reading the key to the caller",
            ));
        }
        Ok(Observation::Present(Present {
            outputs: outputs(&arn),
            ..Present::tagged(ctx, name, arn.clone(), &live_tags, ctx.recorded, drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let name = ctx.name(ID);
        let secrets = &ctx.clients.secrets;
        let mut applied = Applied::default();
        match ctx.observation.present() {
            None => {
                let ring = KeyRing {
                    version: 1,
                    keys: vec![new_key(ctx, now())?],
                };
                let value = serde_json::to_string(&ring)
                    .map_err(|e| StepError::with_source("encoding", e))?;
                let created = secrets
                    .create_secret()
                    .name(name)
                    .description(format!(
                        "cattube stack {}: the private keys of its CloudFront key group",
                        ctx.stack
                    ))
                    .secret_string(value)
                    .set_tags(Some(tags(ctx)))
                    .send()
                    .await
                    .context(|| format!("creating secret {name}"))?;
                applied.arn = created.arn().unwrap_or_default().to_string();
                applied
                    .changes
                    .push("generated an RSA 2048 signing key and stored it".into());
                put_policy(ctx, &applied.arn).await?;
                applied.changes.push("only the caller may read it".into());
            }
            Some(p) => {
                applied.arn = p.arn.clone();
                if p.has_drift(DRIFT_POLICY) {
                    put_policy(ctx, &p.arn).await?;
                    applied.changes.push("only the caller may read it".into());
                }
                if p.retags(ctx.ownership) {
                    secrets
                        .tag_resource()
                        .secret_id(&p.arn)
                        .set_tags(Some(tags(ctx)))
                        .send()
                        .await
                        .context(|| format!("tagging secret {name}"))?;
                    applied.changes.push("tagged the secret".into());
                }
            }
        }
        applied.outputs = outputs(&applied.arn);
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let name = ctx.name(ID);
        let answer = ctx
            .clients
            .secrets
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await;
        Service::SecretsManager.deleted(answer, || format!("deleting secret {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assumed_role_is_named_as_iam_sees_it() {
        assert_eq!(
            principals_of("arn:aws:sts::123456789012:assumed-role/Deployer/ci-42"),
            [
                "arn:aws:iam::123456789012:role/Deployer",
                "arn:aws:iam::123456789012:role/*/Deployer"
            ]
        );
        assert_eq!(
            principals_of("arn:aws:iam::123456789012:user/alice"),
            ["arn:aws:iam::123456789012:user/alice"]
        );
    }

    #[test]
    fn a_key_never_prints_its_private_half() {
        let key = SigningKey {
            name: "k".into(),
            created: 1,
            private_key: "SECRET".into(),
        };
        assert!(!format!("{key:?}").contains("SECRET"));
    }
}
