//! Stage 8: the player page. `index.html` at the destination bucket's root (the
//! distribution's default root object, so `https://<domain>/` is the player) and its assets
//! under `player/`, built into the binary. The page reads `catalog.json` beside it and plays
//! the outputs the converter function lists there. `upload.html` beside it is the upload
//! page (`cattube upload-url --page`); its Content-Security-Policy names the stack's source
//! bucket as the only place it may send a file, so a link carrying someone else's URL
//! cannot divert an upload.
//!
//! Each object carries the SHA-256 of its bytes in its metadata: `observe` compares it (and
//! the Content-Type and Cache-Control) with the embedded file, so an unchanged page costs
//! one HeadObject per file, all at once, and no write. With `[player] enabled = false` the
//! page is not wanted: `up` removes the files if they are there.

use crate::resources::prelude::*;
use std::collections::BTreeMap;

mod files;
mod objects;

use tokio::task::JoinSet;

pub use files::{body, sha256_hex, PageFile, FILES, HLS_JS_KEY, SOURCE_URL_SLOT, UPLOAD_KEY};
use objects::{bucket, delete, each, etag_key, put, read, Live};

pub struct PlayerPage;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "8",
    // Its objects go into the bucket; the distribution's domain is only printed (the CLI
    // sets player_url), so the page does not wait for it.
    depends_on: &[crate::destination_bucket::ID],
    names: &[],
    name: None,
    // `https://<distribution domain>/`, set by the CLI from the distribution's output when
    // the player is on (every command sees that domain; this step's observe runs beside it).
    outputs: &["player_url"],
    service: Service::S3,
    permissions: &[
        // HeadObject is authorized as GetObject.
        Grant::observe(
            &["s3:GetObject"],
            Target::Objects(crate::destination_bucket::ID),
        ),
        // Whose bucket it is: in an adopted one, nobody else's object is overwritten.
        Grant::observe(
            &["s3:GetBucketTagging"],
            Target::Bucket(crate::destination_bucket::ID),
        ),
        Grant::apply(
            &["s3:PutObject", "s3:DeleteObject"],
            Target::Objects(crate::destination_bucket::ID),
        ),
        Grant::destroy(
            &["s3:DeleteObject"],
            Target::Objects(crate::destination_bucket::ID),
        ),
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state, `[names]` entry and facts).
pub const ID: ResourceId = ResourceId::new("player-page");

/// The page's key: the distribution's `DefaultRootObject`.
pub const ROOT_KEY: &str = "index.html";
/// The catalog the converter function keeps and the page reads, at the bucket's root.
pub const CATALOG_KEY: &str = "catalog.json";

/// The source bucket's URL, for upload.html.
async fn source_url(ctx: &StackContext) -> Result<String, StepError> {
    crate::resources::bucket::bucket_url(ctx, ctx.name(crate::source_bucket::ID)).await
}

const DRIFT_DISABLED: &str = "disabled";

/// Whether the destination bucket carries the stack's tags (it was created by the stack);
/// a bucket not there yet is the stack's to create.
async fn bucket_is_ours(ctx: &StackContext) -> Result<bool, StepError> {
    match ctx
        .clients
        .s3
        .get_bucket_tagging()
        .bucket(bucket(ctx))
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
    {
        Ok(out) => Ok(ctx.tagged_ours(out.tag_set().iter().map(|t| (t.key(), t.value())))),
        Err(e) if crate::error::absent(&e, &["NoSuchTagSet"]) => Ok(false),
        Err(e) if Service::S3.not_found(&e) => Ok(true),
        Err(e) => Err(StepError::with_source(
            format!("reading the tags of bucket {}", bucket(ctx)),
            AwsError::from_sdk(&e),
        )),
    }
}

#[async_trait]
impl Step for PlayerPage {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn shown_name(&self, ctx: &StackContext) -> String {
        format!("{}/{ROOT_KEY}", bucket(ctx))
    }

    // -----------------------------------------------------------------------------------
    // observe

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let (live, bucket_ours) = tokio::join!(read(ctx), bucket_is_ours(ctx));
        let (mut live, bucket_ours) = (live?, bucket_ours?);
        // In a bucket cattube adopted, someone else's object where a file of the page goes
        // is never overwritten: the page is refused before anything is written; without the
        // page it is simply not ours. (In the stack's own bucket the page's keys are the
        // stack's: a file changed by hand is drift, repaired.)
        for (file, found) in FILES.iter().zip(live.iter_mut()) {
            if !bucket_ours
                && found
                    .as_ref()
                    .is_some_and(|l| !l.written_by(ctx, ctx.recorded, file.key))
            {
                if ctx.settings.player_enabled {
                    return Err(StepError::refused(format!(
                        "s3://{}/{} exists and was not written by cattube: cattube never \
                         overwrites it. Move it, name another destination-bucket under [names], \
                         or turn the player page off with `enabled = false` under [player] in \
                         cattube.toml",
                        bucket(ctx),
                        file.key
                    )));
                }
                *found = None;
            }
        }
        let present: Vec<(&'static PageFile, &Live)> = FILES
            .iter()
            .zip(&live)
            .filter_map(|(file, live)| live.as_ref().map(|l| (file, l)))
            .collect();
        let tagged_ours = present
            .iter()
            .any(|(_, l)| l.stack.as_deref() == Some(ctx.stack.as_str()));
        let mut drift = Vec::new();
        if ctx.settings.player_enabled {
            if present.is_empty() {
                return Ok(Observation::Missing);
            }
            let source_url = source_url(ctx).await?;
            for (file, live) in FILES.iter().zip(&live) {
                match live {
                    None => drift.push(Drift::new(file.key, format!("{} is missing", file.key))),
                    Some(live) => {
                        if let Some(difference) = live.difference(file, &source_url) {
                            drift.push(Drift::new(file.key, difference));
                        }
                    }
                }
            }
        } else if !present.is_empty() {
            let keys: Vec<&str> = present.iter().map(|(f, _)| f.key).collect();
            drift.push(Drift::new(
                DRIFT_DISABLED,
                format!(
                    "[player] enabled = false, but the page is in the bucket: {}",
                    keys.join(", ")
                ),
            ));
        }
        Ok(Observation::Present(Present {
            name: if ctx.settings.player_enabled {
                self.shown_name(ctx)
            } else {
                "off ([player] enabled = false)".into()
            },
            arn: String::new(),
            tagged_ours,
            drift,
            pending: None,
            outputs: BTreeMap::new(),
        }))
    }

    // -----------------------------------------------------------------------------------
    // apply

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let mut applied = Applied::default();
        let present = ctx.observation.present();
        if !ctx.settings.player_enabled {
            if present.is_some_and(|p| p.has_drift(DRIFT_DISABLED)) {
                // Only cattube's files (`observe`): someone else's are kept.
                let ours = FILES
                    .iter()
                    .zip(read(ctx).await?)
                    .filter(|(file, live)| {
                        live.as_ref()
                            .is_some_and(|l| l.written_by(ctx, None, file.key))
                    })
                    .map(|(file, _)| file)
                    .collect();
                each(ctx, ours, delete).await?;
                applied
                    .changes
                    .push("removed the player page ([player] enabled = false)".into());
            }
            return Ok(applied);
        }
        // Only the files that differ (all of them for a new page).
        let stale: Vec<&'static PageFile> = FILES
            .iter()
            .filter(|f| present.is_none_or(|p| p.has_drift(f.key)))
            .collect();
        let stack = ctx.stack.clone();
        let source_url = source_url(ctx).await?;
        for file in &stale {
            applied.changes.push(format!("uploaded {}", file.key));
        }
        let fresh = stale.len() == FILES.len();
        let written = each(ctx, stale, move |s3, bucket, account, file| {
            put(s3, bucket, account, file, stack.clone(), source_url.clone())
        })
        .await?;
        // What cattube wrote, by ETag, so that `down` deletes exactly that: the files just
        // put, and those already in place (read again only when some were left as they were).
        let kept = if fresh { Vec::new() } else { read(ctx).await? };
        let etags = written.into_iter().chain(
            FILES
                .iter()
                .zip(kept)
                .filter_map(|(file, live)| Some((file.key, live?.etag))),
        );
        for (key, etag) in etags {
            if let Some(etag) = etag {
                applied.extra.entry(etag_key(key)).or_insert(etag);
            }
        }
        Ok(applied)
    }

    // -----------------------------------------------------------------------------------
    // destroy

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        // Only what cattube wrote; a bucket already gone took the page with it. With the
        // ETags recorded, each delete is conditional on its own (one round, and a file
        // replaced since is not deleted); without them (a state from before they were
        // recorded), the files carrying the stack's mark.
        let etags: Vec<Option<String>> = FILES
            .iter()
            .map(|f| {
                ctx.recorded
                    .and_then(|r| r.extra.get(&etag_key(f.key)).cloned())
            })
            .collect();
        let live_others: Vec<&str> = if etags.iter().all(Option::is_some) {
            let mut tasks = JoinSet::new();
            for (file, etag) in FILES.iter().zip(etags) {
                let (s3, bucket, account) = (
                    ctx.clients.s3.clone(),
                    bucket(ctx).to_string(),
                    ctx.account.clone(),
                );
                tasks.spawn(async move {
                    let answer = s3
                        .delete_object()
                        .bucket(&bucket)
                        .key(file.key)
                        .expected_bucket_owner(account)
                        .set_if_match(etag)
                        .send()
                        .await;
                    match answer {
                        Ok(_) => Ok(None),
                        Err(e) if Service::S3.not_found(&e) => Ok(None),
                        Err(e) if crate::error::absent(&e, &["PreconditionFailed"]) => {
                            Ok(Some(file.key))
                        }
                        Err(e) => Err(StepError::with_source(
                            format!("deleting s3://{bucket}/{}", file.key),
                            AwsError::from_sdk(&e),
                        )),
                    }
                });
            }
            let mut kept = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                let done = joined.map_err(|e| StepError::with_source("deleting the player", e))?;
                kept.extend(done?);
            }
            kept.sort_unstable();
            kept
        } else {
            let (ours, others): (Vec<_>, Vec<_>) = FILES
                .iter()
                .zip(read(ctx).await?)
                .filter_map(|(file, live)| Some((file, live?)))
                .partition(|(file, live)| live.written_by(ctx, ctx.recorded, file.key));
            each(
                ctx,
                ours.into_iter().map(|(file, _)| file).collect(),
                delete,
            )
            .await?;
            others.iter().map(|(file, _)| file.key).collect()
        };
        Ok(if live_others.is_empty() {
            Destroyed::Deleted
        } else {
            Destroyed::DeletedAfter(format!(
                "kept {}: not written by cattube",
                live_others.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_exactly_the_files_uploaded() {
        let page = std::str::from_utf8(FILES[0].bytes).unwrap();
        let script = std::str::from_utf8(FILES[2].bytes).unwrap();
        for file in &FILES[1..3] {
            assert!(
                page.contains(file.key),
                "index.html does not load {}",
                file.key
            );
        }
        assert!(
            script.contains(HLS_JS_KEY),
            "player.js does not load hls.js"
        );
        assert!(script.contains(CATALOG_KEY));
    }

    #[test]
    fn the_upload_page_loads_its_files_and_may_send_to_the_source_bucket_only() {
        let page = std::str::from_utf8(FILES[3].bytes).unwrap();
        assert_eq!(FILES[3].key, UPLOAD_KEY);
        for file in [&FILES[1], &FILES[4]] {
            assert!(
                page.contains(file.key),
                "upload.html does not load {}",
                file.key
            );
        }
        let rendered = body(&FILES[3], "https://b.s3.eu-west-1.amazonaws.com/");
        let rendered = String::from_utf8(rendered).unwrap();
        assert!(
            rendered.contains("connect-src 'self' https://b.s3.eu-west-1.amazonaws.com/;"),
            "{rendered}"
        );
        assert!(!rendered.contains("<script>"), "no inline script");
        assert_eq!(body(&FILES[0], "x"), FILES[0].bytes);
    }
}
