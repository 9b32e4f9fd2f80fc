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

use std::collections::BTreeMap;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::error::AwsContext;
use crate::error::AwsError;
use crate::error::AwsFound;
use crate::grant::{Grant, Phase, Target};
use crate::naming::ResourceId;
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Observation, Ownership, Present, Recorded, Service,
    Spec, Step,
};
use crate::{StackContext, StepError};

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
        Grant::new(
            Phase::Observe,
            &["s3:GetObject"],
            Target::Objects(crate::destination_bucket::ID),
        ),
        // Whose bucket it is: in an adopted one, nobody else's object is overwritten.
        Grant::new(
            Phase::Observe,
            &["s3:GetBucketTagging"],
            Target::Bucket(crate::destination_bucket::ID),
        ),
        Grant::new(
            Phase::Apply,
            &["s3:PutObject", "s3:DeleteObject"],
            Target::Objects(crate::destination_bucket::ID),
        ),
        Grant::new(
            Phase::Destroy,
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

/// Object metadata (`x-amz-meta-…`): the SHA-256 of the bytes, and the stack that put them.
const META_SHA256: &str = "cattube-sha256";
const META_STACK: &str = "cattube-stack";

/// One file of the page, as uploaded.
#[derive(Clone, Copy, Debug)]
pub struct PageFile {
    pub key: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// The page and the files it loads. `no-cache`: browsers and CloudFront revalidate (a cheap
/// 304), so a new page and its script always arrive together. hls.js is named after its
/// version, so it can be cached for good.
pub const FILES: &[PageFile] = &[
    PageFile {
        key: ROOT_KEY,
        bytes: include_bytes!("../../../player/index.html"),
        content_type: "text/html; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: "player/player.css",
        bytes: include_bytes!("../../../player/player.css"),
        content_type: "text/css; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: "player/player.js",
        bytes: include_bytes!("../../../player/player.js"),
        content_type: "text/javascript; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: UPLOAD_KEY,
        bytes: include_bytes!("../../../player/upload.html"),
        content_type: "text/html; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: "player/upload.js",
        bytes: include_bytes!("../../../player/upload.js"),
        content_type: "text/javascript; charset=utf-8",
        cache_control: "no-cache",
    },
    PageFile {
        key: HLS_JS_KEY,
        bytes: include_bytes!("../../../player/vendor/hls-1.6.15.light.min.js"),
        content_type: "text/javascript; charset=utf-8",
        cache_control: "public, max-age=31536000, immutable",
    },
];

/// hls.js (the npm package, pinned in `tests/browser/package-lock.json`, which the browser
/// test checks this copy against), for browsers without native HLS.
pub const HLS_JS_KEY: &str = "player/vendor/hls-1.6.15.light.min.js";

/// The upload page's key, beside the player.
pub const UPLOAD_KEY: &str = "upload.html";
/// Where upload.html's policy names the source bucket's URL, filled in when it is put.
pub const SOURCE_URL_SLOT: &str = "{{source-bucket-url}}";

/// A file's bytes as put in the bucket: upload.html with the source bucket's URL (as the
/// S3 client addresses it, ending in '/') in its slot; every other file as embedded.
pub fn body(file: &PageFile, source_url: &str) -> Vec<u8> {
    if file.key == UPLOAD_KEY {
        String::from_utf8_lossy(file.bytes)
            .replace(SOURCE_URL_SLOT, source_url)
            .into_bytes()
    } else {
        file.bytes.to_vec()
    }
}

/// The source bucket's URL, for upload.html.
async fn source_url(ctx: &StackContext) -> Result<String, StepError> {
    crate::resources::bucket::bucket_url(ctx, ctx.name(crate::source_bucket::ID)).await
}

const DRIFT_DISABLED: &str = "disabled";

/// The state's `extra` key of the ETag of the object cattube wrote at `key`.
fn etag_key(key: &str) -> String {
    format!("etag:{key}")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn bucket(ctx: &StackContext) -> &str {
    ctx.name(crate::destination_bucket::ID)
}

/// What HeadObject says of one file.
#[derive(Clone, Debug)]
struct Live {
    sha256: Option<String>,
    content_type: Option<String>,
    cache_control: Option<String>,
    stack: Option<String>,
    etag: Option<String>,
}

impl Live {
    /// Whether cattube wrote this object: it carries this stack's mark, or the ETag the
    /// state recorded when cattube put it. Anything else is someone else's, never
    /// overwritten or deleted.
    fn written_by(&self, ctx: &StackContext, recorded: Option<&Recorded>, key: &str) -> bool {
        self.stack.as_deref() == Some(ctx.stack.as_str())
            || recorded
                .and_then(|r| r.extra.get(&etag_key(key)))
                .is_some_and(|etag| self.etag.as_deref() == Some(etag.as_str()))
    }

    /// How the live object differs from `file`, if it does.
    fn difference(&self, file: &PageFile, source_url: &str) -> Option<String> {
        let wanted_sha = sha256_hex(&body(file, source_url));
        if self.sha256.as_deref() != Some(wanted_sha.as_str()) {
            Some(format!("{} differs from this cattube's page", file.key))
        } else if self.content_type.as_deref() != Some(file.content_type) {
            Some(format!(
                "{} has Content-Type {}, wanted {}",
                file.key,
                self.content_type.as_deref().unwrap_or("none"),
                file.content_type
            ))
        } else if self.cache_control.as_deref() != Some(file.cache_control) {
            Some(format!(
                "{} has Cache-Control {}, wanted {}",
                file.key,
                self.cache_control.as_deref().unwrap_or("none"),
                file.cache_control
            ))
        } else {
            None
        }
    }
}

/// Every file of [`FILES`], in its order: `None` where there is no object.
async fn read(ctx: &StackContext) -> Result<Vec<Option<Live>>, StepError> {
    let mut tasks = JoinSet::new();
    for (i, file) in FILES.iter().enumerate() {
        let (s3, bucket, account) = (
            ctx.clients.s3.clone(),
            bucket(ctx).to_string(),
            ctx.account.clone(),
        );
        tasks.spawn(async move {
            let head = s3
                .head_object()
                .bucket(&bucket)
                .key(file.key)
                .expected_bucket_owner(account)
                .send()
                .await;
            let live = head
                .found(Service::S3, || {
                    format!("reading s3://{bucket}/{}", file.key)
                })
                .map(|head| {
                    head.map(|out| {
                        let meta = |k: &str| out.metadata().and_then(|m| m.get(k)).cloned();
                        Live {
                            sha256: meta(META_SHA256),
                            content_type: out.content_type().map(str::to_string),
                            cache_control: out.cache_control().map(str::to_string),
                            stack: meta(META_STACK),
                            etag: out.e_tag().map(str::to_string),
                        }
                    })
                });
            (i, live)
        });
    }
    let mut found = vec![None; FILES.len()];
    while let Some(joined) = tasks.join_next().await {
        let (i, live) = joined.map_err(|e| StepError::with_source("reading the player", e))?;
        found[i] = live?;
    }
    Ok(found)
}

/// Runs one S3 call per file of `files` at once.
async fn each<F, Fut, T>(
    ctx: &StackContext,
    files: Vec<&'static PageFile>,
    call: F,
) -> Result<Vec<T>, StepError>
where
    F: Fn(aws_sdk_s3::Client, String, String, &'static PageFile) -> Fut,
    Fut: std::future::Future<Output = Result<T, StepError>> + Send + 'static,
    T: Send + 'static,
{
    let mut tasks = JoinSet::new();
    for file in files {
        tasks.spawn(call(
            ctx.clients.s3.clone(),
            bucket(ctx).to_string(),
            ctx.account.clone(),
            file,
        ));
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined.map_err(|e| StepError::with_source("writing the player", e))??);
    }
    Ok(results)
}

async fn put(
    s3: aws_sdk_s3::Client,
    bucket: String,
    account: String,
    file: &'static PageFile,
    stack: String,
    source_url: String,
) -> Result<(&'static str, Option<String>), StepError> {
    let bytes = body(file, &source_url);
    let sha256 = sha256_hex(&bytes);
    let put = s3
        .put_object()
        .bucket(&bucket)
        .key(file.key)
        .expected_bucket_owner(account)
        .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
        .content_type(file.content_type)
        .cache_control(file.cache_control)
        .metadata(META_SHA256, sha256)
        .metadata(META_STACK, stack)
        .send()
        .await
        .context(|| format!("uploading s3://{bucket}/{}", file.key))?;
    Ok((file.key, put.e_tag().map(str::to_string)))
}

async fn delete(
    s3: aws_sdk_s3::Client,
    bucket: String,
    account: String,
    file: &'static PageFile,
) -> Result<(), StepError> {
    s3.delete_object()
        .bucket(&bucket)
        .key(file.key)
        .expected_bucket_owner(account)
        .send()
        .await
        .found(Service::S3, || {
            format!("deleting s3://{bucket}/{}", file.key)
        })
        .map(|_| ())
}

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

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
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
                    .is_some_and(|l| !l.written_by(ctx, recorded, file.key))
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

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        _ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        let mut applied = Applied::default();
        let present = observation.present();
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

    async fn destroy(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
        _options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        // Only what cattube wrote; a bucket already gone took the page with it. With the
        // ETags recorded, each delete is conditional on its own (one round, and a file
        // replaced since is not deleted); without them (a state from before they were
        // recorded), the files carrying the stack's mark.
        let etags: Vec<Option<String>> = FILES
            .iter()
            .map(|f| recorded.and_then(|r| r.extra.get(&etag_key(f.key)).cloned()))
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
                .partition(|(file, live)| live.written_by(ctx, recorded, file.key));
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
