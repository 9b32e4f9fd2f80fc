//! Stage 6, with `[delivery] private = true`: the CloudFront public keys of the stack's
//! signing keys, one per key in [`crate::signing_secret`], named after it
//! (`<prefix>-<created>`, the prefix this resource's name). CloudFront derives nothing: the
//! public half is computed here from the private key and uploaded as PEM.
//!
//! Public keys take no tags: they are found by their name's prefix (and carry the stack in
//! their comment), and `down` deletes exactly the ones with it. A key still in a key group
//! cannot be deleted (`PublicKeyInUse`): a key the secret no longer holds is deleted by the
//! key group's apply once the group has dropped it ([`retire`]).

use crate::resources::prelude::*;
use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::PublicKeyConfig;

use crate::error::error_code;
use crate::signing_secret::{self, KeyRing};

pub struct PublicKeys;

/// Public keys and key groups take no resource type in IAM: `*`.
pub const LIST: Grant = Grant::observe(&["cloudfront:ListPublicKeys"], Target::Any);

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    // Made from the secret's private keys: they must exist first.
    depends_on: &[signing_secret::ID],
    name: Some(NameRule {
        kind: NameKind::SigningKeys,
        default: "{stack}-{region}-signing",
    }),
    outputs: &["public_key_ids"],
    service: Service::CloudFront,
    permissions: &[
        LIST,
        signing_secret::READ,
        Grant::apply(
            &[
                "cloudfront:CreatePublicKey",
                "cloudfront:GetPublicKey",
                "cloudfront:DeletePublicKey",
            ],
            Target::Any,
        ),
        Grant::destroy(
            &[
                "cloudfront:ListPublicKeys",
                "cloudfront:GetPublicKey",
                "cloudfront:DeletePublicKey",
            ],
            Target::Any,
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = super::signing_keys::PUBLIC_KEYS;

const DRIFT_MISSING: &str = "missing";
const DRIFT_STALE: &str = "stale";

/// A public key of the stack, as CloudFront lists it.
#[derive(Clone, Debug)]
pub struct LiveKey {
    pub id: String,
    pub name: String,
    pub encoded_key: String,
}

fn comment(ctx: &StackContext) -> String {
    format!("cattube stack {} ({})", ctx.stack, ctx.region)
}

/// Whether `name` is one of this stack's key names (`<prefix>-<digits>`).
fn ours(ctx: &StackContext, name: &str) -> bool {
    name.strip_prefix(ctx.name(ID))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Every public key of the account named as this stack's.
pub async fn live(ctx: &StackContext) -> Result<Vec<LiveKey>, StepError> {
    let mut keys = ctx
        .clients
        .cloudfront
        .list_public_keys()
        .into_paginator()
        .items()
        .send();
    let mut all = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.context(|| "listing CloudFront public keys".to_string())?;
        if ours(ctx, key.name()) {
            all.push(LiveKey {
                id: key.id().to_string(),
                name: key.name().to_string(),
                encoded_key: key.encoded_key().to_string(),
            });
        }
    }
    Ok(all)
}

/// The CloudFront ids of the ring's keys, in the ring's order (`None` for a key that has
/// no public key yet).
pub fn ids_of(ring: &KeyRing, live: &[LiveKey]) -> Vec<Option<String>> {
    ring.keys
        .iter()
        .map(|k| live.iter().find(|l| l.name == k.name).map(|l| l.id.clone()))
        .collect()
}

fn outputs(ids: &[String]) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("public_key_ids", ids.join(","))])
}

/// What differs between the ring and CloudFront: keys without (or with another) public key,
/// and public keys of the stack whose private key the ring no longer holds.
fn compare(ring: &KeyRing, live: &[LiveKey]) -> Result<(Vec<String>, Vec<LiveKey>), StepError> {
    let mut missing = Vec::new();
    for key in &ring.keys {
        let public = crate::signing::public_pem(&key.private_key)?;
        let matches = live.iter().any(|l| {
            l.name == key.name && crate::signing::same_public_key(&l.encoded_key, &public)
        });
        if !matches {
            missing.push(key.name.clone());
        }
    }
    let stale = live
        .iter()
        .filter(|l| !ring.keys.iter().any(|k| k.name == l.name))
        .cloned()
        .collect();
    Ok((missing, stale))
}

/// Deletes a public key no key group holds any more; `false` when one still does.
pub async fn retire(ctx: &StackContext, key: &LiveKey) -> Result<bool, StepError> {
    let cf = &ctx.clients.cloudfront;
    let Some(got) = cf
        .get_public_key()
        .id(&key.id)
        .send()
        .await
        .found(Service::CloudFront, || {
            format!("reading public key {}", key.name)
        })?
    else {
        return Ok(true);
    };
    let answer = cf
        .delete_public_key()
        .id(&key.id)
        .set_if_match(got.e_tag().map(str::to_string))
        .send()
        .await;
    if matches!(&answer, Err(e) if error_code(e) == Some("PublicKeyInUse")) {
        return Ok(false);
    }
    Service::CloudFront.deleted(answer, || format!("deleting public key {}", key.name))?;
    Ok(true)
}

#[async_trait]
impl Step for PublicKeys {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    super::signing_keys::wanted_when_private!();

    /// Found by name: public keys take no tags.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(live(ctx)
            .await?
            .into_iter()
            .map(|k| Found {
                name: k.name,
                arn: k.id,
            })
            .collect())
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let (ring, live) = tokio::join!(signing_secret::read_keys(ctx), live(ctx));
        let (ring, live) = (ring?, live?);
        let Some(ring) = ring else {
            // No private key yet: whatever public key is there signs nothing of ours.
            return Ok(if live.is_empty() {
                Observation::Missing
            } else {
                Observation::Present(Present::ours(
                    ctx.name(ID),
                    "",
                    vec![Drift::new(DRIFT_STALE, "its private keys are gone")],
                ))
            });
        };
        if live.is_empty() {
            return Ok(Observation::Missing);
        }
        let (missing, stale) = compare(&ring, &live)?;
        let mut drift = Vec::new();
        if !missing.is_empty() {
            drift.push(Drift::new(
                DRIFT_MISSING,
                format!("no public key for {}", missing.join(", ")),
            ));
        }
        if !stale.is_empty() {
            let names: Vec<&str> = stale.iter().map(|k| k.name.as_str()).collect();
            drift.push(Drift::new(
                DRIFT_STALE,
                format!(
                    "{} no longer signs (the key group drops it)",
                    names.join(", ")
                ),
            ));
        }
        let ids: Vec<String> = ids_of(&ring, &live).into_iter().flatten().collect();
        Ok(Observation::Present(Present {
            outputs: outputs(&ids),
            ..Present::ours(ctx.name(ID), ids.join(","), drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let ring = signing_secret::read_keys(ctx).await?.ok_or_else(|| {
            StepError::msg(format!("secret {} is gone", ctx.name(signing_secret::ID)))
        })?;
        let live = live(ctx).await?;
        let (missing, stale) = compare(&ring, &live)?;
        let mut changes = Vec::new();
        for key in ring.keys.iter().filter(|k| missing.contains(&k.name)) {
            // A key of that name with another public half: replaced.
            if let Some(other) = live.iter().find(|l| l.name == key.name) {
                retire(ctx, other).await?;
            }
            let config = PublicKeyConfig::builder()
                .caller_reference(&key.name)
                .name(&key.name)
                .encoded_key(crate::signing::public_pem(&key.private_key)?)
                .comment(comment(ctx))
                .build()
                .map_err(|e| StepError::with_source("building a public key", e))?;
            ctx.clients
                .cloudfront
                .create_public_key()
                .public_key_config(config)
                .send()
                .await
                .context(|| format!("uploading public key {}", key.name))?;
            changes.push(format!("uploaded public key {}", key.name));
        }
        // Those no group holds any more; the others go once the key group drops them.
        for key in &stale {
            if retire(ctx, key).await? {
                changes.push(format!("deleted public key {}", key.name));
            }
        }
        let ids: Vec<String> = ids_of(&ring, &self::live(ctx).await?)
            .into_iter()
            .flatten()
            .collect();
        Ok(Applied {
            arn: ids.join(","),
            changes,
            outputs: outputs(&ids),
            ..Default::default()
        })
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let keys = live(ctx).await?;
        if keys.is_empty() {
            return Ok(Destroyed::AlreadyGone);
        }
        for key in &keys {
            if !retire(ctx, key).await? {
                return Err(StepError::msg(format!(
                    "public key {} is still in a key group: delete the group first",
                    key.name
                )));
            }
        }
        Ok(Destroyed::Deleted)
    }
}
