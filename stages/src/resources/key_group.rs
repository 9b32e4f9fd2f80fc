//! Stage 6, with `[delivery] private = true`: the CloudFront key group the distribution
//! trusts (`TrustedKeyGroups`): CloudFront serves a request only when its signed URL or
//! cookies verify against one of the group's public keys. The group lists the public keys
//! of every key the secret holds ([`crate::signing_secret`]), at most [`MAX_KEYS`]
//! (CloudFront's quota of public keys per key group); `cattube keys rotate` adds one.
//!
//! A key group takes no tags: it is found by its name (`{stack}-{region}-signers`) and
//! carries the stack in its comment. After a change of its keys, the public keys it
//! dropped are deleted ([`crate::public_keys::retire`]).

use crate::resources::prelude::*;
use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::KeyGroupConfig;

use crate::error::error_code;
use crate::public_keys;
use crate::signing_secret;

pub struct KeyGroup;

/// CloudFront's quota of public keys in one key group.
pub const MAX_KEYS: usize = 5;

/// Public keys and key groups take no resource type in IAM: `*`.
pub const LIST: Grant = Grant::observe(&["cloudfront:ListKeyGroups"], Target::Any);

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    // CreateKeyGroup checks that every public key it lists exists.
    depends_on: &[public_keys::ID],
    name: Some(NameRule {
        kind: NameKind::SigningKeys,
        default: "{stack}-{region}-signers",
    }),
    outputs: &["key_group_id"],
    service: Service::CloudFront,
    permissions: &[
        LIST,
        public_keys::LIST,
        signing_secret::READ,
        Grant::apply(
            &[
                "cloudfront:CreateKeyGroup",
                "cloudfront:GetKeyGroup",
                "cloudfront:UpdateKeyGroup",
                "cloudfront:GetPublicKey",
                "cloudfront:DeletePublicKey",
                // `up` deletes it when `[delivery] private` is turned off.
                "cloudfront:DeleteKeyGroup",
            ],
            Target::Any,
        ),
        Grant::destroy(
            &[
                "cloudfront:ListKeyGroups",
                "cloudfront:GetKeyGroup",
                "cloudfront:DeleteKeyGroup",
            ],
            Target::Any,
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("key-group");

const DRIFT_KEYS: &str = "keys";

fn comment(ctx: &StackContext) -> String {
    format!("cattube stack {} ({})", ctx.stack, ctx.region)
}

/// The stack's key group: `(id, public key ids)`.
pub async fn find(ctx: &StackContext) -> Result<Option<(String, Vec<String>)>, StepError> {
    Ok(find_or_count(ctx).await?.0)
}

/// The stack's group, or how many key groups the account has (for the quota check).
async fn find_or_count(
    ctx: &StackContext,
) -> Result<(Option<(String, Vec<String>)>, u64), StepError> {
    let cf = &ctx.clients.cloudfront;
    let name = ctx.name(ID);
    let mut marker: Option<String> = None;
    let mut count = 0u64;
    loop {
        let out = cf
            .list_key_groups()
            .set_marker(marker.clone())
            .send()
            .await
            .context(|| "listing CloudFront key groups".to_string())?;
        let list = out.key_group_list();
        for summary in list.map(|l| l.items()).unwrap_or_default() {
            count += 1;
            let Some(group) = summary.key_group() else {
                continue;
            };
            let Some(config) = group.key_group_config() else {
                continue;
            };
            if config.name() == name {
                return Ok((
                    Some((group.id().to_string(), config.items().to_vec())),
                    count,
                ));
            }
        }
        marker = list
            .and_then(|l| l.next_marker())
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        if marker.is_none() {
            return Ok((None, count));
        }
    }
}

/// The public key ids the group should list: those of the secret's newest keys.
async fn wanted_items(ctx: &StackContext) -> Result<Vec<String>, StepError> {
    let ring = signing_secret::read_keys(ctx).await?.ok_or_else(|| {
        StepError::msg(format!("secret {} is gone", ctx.name(signing_secret::ID)))
    })?;
    let live = public_keys::live(ctx).await?;
    let ids: Vec<String> = public_keys::ids_of(&ring, &live)
        .into_iter()
        .flatten()
        .collect();
    let skip = ids.len().saturating_sub(MAX_KEYS);
    Ok(ids[skip..].to_vec())
}

fn outputs(id: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("key_group_id", id.to_string())])
}

fn config(ctx: &StackContext, items: Vec<String>) -> Result<KeyGroupConfig, StepError> {
    KeyGroupConfig::builder()
        .name(ctx.name(ID))
        .set_items(Some(items))
        .comment(comment(ctx))
        .build()
        .map_err(|e| StepError::with_source("building the key group", e))
}

fn same(a: &[String], b: &[String]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

#[async_trait]
impl Step for KeyGroup {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    super::signing_keys::wanted_when_private!();

    /// Found by name: key groups take no tags.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(find(ctx)
            .await?
            .map(|(id, _)| Found {
                name: ctx.name(ID).to_string(),
                arn: id,
            })
            .into_iter()
            .collect())
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let (found, count) = find_or_count(ctx).await?;
        let Some((id, items)) = found else {
            crate::quota::KEY_GROUPS
                .check(
                    ctx,
                    count,
                    1,
                    &format!("creating key group {}", ctx.name(ID)),
                )
                .await?;
            return Ok(Observation::Missing);
        };
        let mut drift = Vec::new();
        // Without the secret (removed by hand) the group cannot be checked: `up` makes both.
        if let Some(ring) = signing_secret::read_keys(ctx).await? {
            let live = public_keys::live(ctx).await?;
            let ids: Vec<String> = public_keys::ids_of(&ring, &live)
                .into_iter()
                .flatten()
                .collect();
            let wanted = &ids[ids.len().saturating_sub(MAX_KEYS)..];
            if !same(&items, wanted) {
                drift.push(Drift::new(
                    DRIFT_KEYS,
                    format!(
                        "lists {} public key(s), wanted {}",
                        items.len(),
                        wanted.len()
                    ),
                ));
            }
        }
        ctx.learn(ID, crate::Fact::Output("key_group_id"), id.clone());
        Ok(Observation::Present(Present {
            outputs: outputs(&id),
            ..Present::ours(ctx.name(ID), id.clone(), drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let cf = &ctx.clients.cloudfront;
        let items = wanted_items(ctx).await?;
        let mut changes = Vec::new();
        let id = match ctx.observation.present() {
            None => {
                let out = cf
                    .create_key_group()
                    .key_group_config(config(ctx, items.clone())?)
                    .send()
                    .await
                    .context(|| format!("creating key group {}", ctx.name(ID)))?;
                changes.push(format!("created key group ({} key)", items.len()));
                out.key_group()
                    .map(|g| g.id().to_string())
                    .ok_or_else(|| StepError::msg("CloudFront returned no key group"))?
            }
            Some(present) => {
                let id = present.arn.clone();
                let got = cf
                    .get_key_group()
                    .id(&id)
                    .send()
                    .await
                    .context(|| format!("reading key group {id}"))?;
                let live: Vec<String> = got
                    .key_group()
                    .and_then(|g| g.key_group_config())
                    .map(|c| c.items().to_vec())
                    .unwrap_or_default();
                if !same(&live, &items) {
                    cf.update_key_group()
                        .id(&id)
                        .set_if_match(got.e_tag().map(str::to_string))
                        .key_group_config(config(ctx, items.clone())?)
                        .send()
                        .await
                        .context(|| format!("updating key group {id}"))?;
                    changes.push(format!("key group lists {} key(s)", items.len()));
                }
                id
            }
        };
        // The public keys the group no longer lists and the secret no longer holds.
        let ring = signing_secret::read_keys(ctx).await?;
        for key in public_keys::live(ctx).await? {
            let held = ring
                .as_ref()
                .is_some_and(|r| r.keys.iter().any(|k| k.name == key.name));
            if !held && !items.contains(&key.id) && public_keys::retire(ctx, &key).await? {
                changes.push(format!("deleted public key {}", key.name));
            }
        }
        ctx.learn(ID, crate::Fact::Output("key_group_id"), id.clone());
        Ok(Applied {
            arn: id.clone(),
            changes,
            outputs: outputs(&id),
            ..Default::default()
        })
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let cf = &ctx.clients.cloudfront;
        let Some((id, _)) = find(ctx).await? else {
            return Ok(Destroyed::AlreadyGone);
        };
        let Some(got) = cf
            .get_key_group()
            .id(&id)
            .send()
            .await
            .found(Service::CloudFront, || format!("reading key group {id}"))?
        else {
            return Ok(Destroyed::AlreadyGone);
        };
        let answer = cf
            .delete_key_group()
            .id(&id)
            .set_if_match(got.e_tag().map(str::to_string))
            .send()
            .await;
        if let Err(e) = &answer {
            if error_code(e) == Some("ResourceInUse") {
                return Err(StepError::with_source(
                    format!("key group {id} is still trusted by a distribution: `cattube down` deletes the distribution first"),
                    AwsError::from_sdk(e),
                ));
            }
        }
        Service::CloudFront.deleted(answer, || format!("deleting key group {id}"))
    }
}
