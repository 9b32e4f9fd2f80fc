//! A private stack's signed access (`[delivery] private = true`): the URLs and cookies
//! `url --signed`, `url --cookies`, `videos` and `open` print, signed with the newest key
//! of the stack's secret, and `keys rotate`. The private key is read from Secrets Manager
//! for the signature and dropped: it is never printed, logged or written anywhere.

use crate::grant::Grant;
use crate::key_group::{self, KeyGroup, MAX_KEYS};
use crate::public_keys::{self, PublicKeys};
use crate::signing::UrlSigner;
use crate::signing_secret::{self, now, KeyRing};
use crate::step::{ApplyContext, ObserveContext, Step};
use crate::{StackContext, StepError};

/// How long a superseded key keeps verifying after `keys rotate` replaced it, unless
/// `--grace` says otherwise: the longest `--expires` a signed URL or cookie may have, so a
/// URL signed just before a rotation stays valid until it expires.
pub const GRACE_SECS: u64 = 7 * 86_400;

/// What signing and reading the keys takes: the secret's value and the public keys' ids.
pub const SIGN: [Grant; 2] = [signing_secret::READ, public_keys::LIST];

/// What `keys rotate` takes beyond the resources' own grants.
pub const ROTATE: [Grant; 1] = [signing_secret::WRITE];

/// Why a stack cannot sign.
fn not_private(ctx: &StackContext) -> StepError {
    StepError::msg(format!(
        "stack {} has no signing key: set [delivery] private = true in cattube.toml and run `cattube up`",
        ctx.stack
    ))
}

/// A signer with the stack's newest key and its CloudFront public key id.
pub async fn signer(ctx: &StackContext) -> Result<UrlSigner, StepError> {
    let (ring, live) = tokio::join!(signing_secret::read_keys(ctx), public_keys::live(ctx));
    let ring = ring?.ok_or_else(|| not_private(ctx))?;
    let newest = ring.newest().ok_or_else(|| not_private(ctx))?;
    let id = live?
        .into_iter()
        .find(|k| k.name == newest.name)
        .map(|k| k.id)
        .ok_or_else(|| {
            StepError::msg(format!(
                "the newest signing key {} has no CloudFront public key: run `cattube up`",
                newest.name
            ))
        })?;
    UrlSigner::new(&newest.private_key, &id)
}

/// The resource a video's cookies grant: every object of its folder whose name starts with
/// its base name (its outputs, HLS playlists and segments), as URL `prefix_url` + `*`.
pub fn video_resource(prefix_url: &str) -> String {
    format!("{prefix_url}*")
}

/// Seconds since the epoch, `seconds` from now.
pub fn now_plus(seconds: u64) -> u64 {
    now() + seconds
}

/// How long the cookies `cattube open` hands the player are valid.
pub const OPEN_FOR: u64 = 12 * 3_600;

/// The player page's URL carrying the signed cookies in its fragment:
/// `…/index.html#cf=POLICY.SIGNATURE.KEY-PAIR-ID&v=KEY` (`v` only with a video). The page
/// is asked for by name: `/` falls to the signed default behavior on a private stack.
pub fn player_url_with_cookies(player_url: &str, cookies: &[(&'static str, String)]) -> String {
    let (base, key) = match player_url.split_once('#') {
        Some((base, key)) => (base, Some(key)),
        None => (player_url, None),
    };
    let values: Vec<&str> = cookies.iter().map(|(_, v)| v.as_str()).collect();
    let mut url = format!(
        "{}{}#cf={}",
        base,
        crate::player_page::ROOT_KEY,
        values.join(".")
    );
    if let Some(key) = key {
        url.push_str("&v=");
        url.push_str(key);
    }
    url
}

/// One key of the stack, for `status` and `keys rotate`.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    pub name: String,
    /// CloudFront's public key id (`None`: not uploaded yet).
    pub id: Option<String>,
    /// Seconds since the epoch.
    pub created: u64,
    /// The newest: URLs and cookies are signed with it.
    pub signing: bool,
    /// When a newer key replaced it (seconds since the epoch).
    pub superseded: Option<u64>,
}

fn infos(ring: &KeyRing, live: &[public_keys::LiveKey]) -> Vec<KeyInfo> {
    let ids = public_keys::ids_of(ring, live);
    ring.keys
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (key, id))| KeyInfo {
            name: key.name.clone(),
            id,
            created: key.created,
            signing: i + 1 == ring.keys.len(),
            superseded: ring.keys.get(i + 1).map(|next| next.created),
        })
        .collect()
}

/// The stack's keys, oldest first; empty when it has none.
pub async fn keys(ctx: &StackContext) -> Result<Vec<KeyInfo>, StepError> {
    let (ring, live) = tokio::join!(signing_secret::read_keys(ctx), public_keys::live(ctx));
    Ok(match ring? {
        Some(ring) => infos(&ring, &live?),
        None => Vec::new(),
    })
}

/// What `keys rotate` did.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub added: String,
    pub removed: Vec<String>,
    pub keys: Vec<KeyInfo>,
    pub changes: Vec<String>,
}

/// Keys superseded `grace` seconds ago or more are dropped (the key that signs never is).
fn expired(ring: &KeyRing, at: u64, grace: u64) -> Vec<String> {
    let newest = ring.keys.len().saturating_sub(1);
    ring.keys
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < newest)
        .filter(|(i, _)| at.saturating_sub(ring.keys[i + 1].created) >= grace)
        .map(|(_, k)| k.name.clone())
        .collect()
}

/// Adds a new key that signs from now on, drops the keys superseded at least `grace`
/// seconds ago, and brings the public keys and the key group in line (the dropped keys'
/// public keys are deleted once the group no longer lists them).
pub async fn rotate(ctx: &StackContext, grace: u64) -> Result<Rotation, StepError> {
    let mut ring = signing_secret::read_keys(ctx)
        .await?
        .ok_or_else(|| not_private(ctx))?;
    // A second apart at least: the creation second names the key.
    let at = now().max(ring.newest().map(|k| k.created + 1).unwrap_or_default());
    let added = signing_secret::new_key(ctx, at)?;
    let added_name = added.name.clone();
    ring.keys.push(added);
    // With the new key in: the one that signed until now is superseded at `at`.
    let removed = expired(&ring, at, grace);
    ring.keys.retain(|k| !removed.contains(&k.name));
    if ring.keys.len() > MAX_KEYS {
        let next = ring.keys[1].created + grace;
        return Err(StepError::msg(format!(
            "the key group holds {MAX_KEYS} keys, CloudFront's most: {} leaves it in {} s (its grace period); `cattube keys rotate --grace 0s` removes every superseded key at once",
            ring.keys[0].name,
            next.saturating_sub(at)
        )));
    }
    signing_secret::write_keys(ctx, &ring).await?;
    let mut changes = vec![format!("stored signing key {added_name}")];
    // The public keys, then the group, as `up` would (the registry's own steps).
    for step in [&PublicKeys as &dyn Step, &KeyGroup] {
        let observed = step.observe(&ObserveContext::new(ctx, None)).await?;
        let applied = step.apply(&ApplyContext::new(ctx, &observed, None)).await?;
        if step.id() == key_group::ID.as_str() {
            ctx.learn(
                key_group::ID,
                crate::Fact::Output("key_group_id"),
                applied.arn.clone(),
            );
        }
        changes.extend(applied.changes);
    }
    Ok(Rotation {
        added: added_name,
        removed,
        keys: keys(ctx).await?,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing_secret::SigningKey;

    fn ring(created: &[u64]) -> KeyRing {
        KeyRing {
            version: 1,
            keys: created
                .iter()
                .map(|&c| SigningKey {
                    name: format!("k-{c}"),
                    created: c,
                    private_key: String::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_key_leaves_once_its_grace_after_being_superseded_has_passed() {
        // k-100 superseded at 200, k-200 at 300, k-300 signs.
        let ring = ring(&[100, 200, 300]);
        assert_eq!(expired(&ring, 250, 100), Vec::<String>::new());
        assert_eq!(expired(&ring, 300, 100), ["k-100"]);
        assert_eq!(expired(&ring, 400, 100), ["k-100", "k-200"]);
        // The signing key never leaves, whatever the grace.
        assert_eq!(expired(&ring, 10_000, 0), ["k-100", "k-200"]);
    }
}
