//! The distribution's lifecycle after `apply`: waiting for CloudFront to deploy, and the
//! teardown (disable, wait until that is deployed, delete with the current ETag).

use crate::resources::prelude::*;
use std::collections::BTreeMap;
use std::time::Duration;

use super::repair::rewrite;
use super::{get, ID};
use crate::retry::{poll_until, retry_codes, Poll};

/// How a wait for `Deployed` ended.
pub(super) enum Waited {
    // Boxed: a distribution is large, and the other variants carry nothing.
    Deployed(Box<aws_sdk_cloudfront::types::Distribution>, Option<String>),
    Gone,
    TimedOut(String),
}

/// Polls until CloudFront has deployed the distribution, for at most
/// `settings.deploy_timeout`, telling the user the status and the time waited.
pub(super) async fn wait_deployed(
    ctx: &StackContext,
    id: &str,
    doing: &str,
) -> Result<Waited, StepError> {
    let bound = ctx.settings.deploy_timeout;
    let interval = (bound / 120).clamp(Duration::from_millis(10), Duration::from_secs(20));
    let polled = poll_until(
        bound,
        interval,
        || async {
            Ok(match get(ctx, id).await? {
                None => Poll::Ready(Waited::Gone),
                Some((dist, etag)) if dist.status() == "Deployed" => {
                    Poll::Ready(Waited::Deployed(Box::new(dist), etag))
                }
                Some((dist, _)) => Poll::Pending(dist.status().to_string()),
            })
        },
        |status, waited| {
            ctx.progress(
                ID.as_str(),
                &format!(
                    "{doing}: {status} for {} s (CloudFront usually takes 5-20 min)",
                    waited.as_secs()
                ),
            )
        },
    )
    .await?;
    Ok(polled.unwrap_or_else(Waited::TimedOut))
}

/// Deletes distribution `id`: disables it, waits until that is deployed (unless
/// `--no-wait`), then deletes it.
pub(super) async fn destroy(
    ctx: &StackContext,
    id: String,
    options: &DestroyOptions,
) -> Result<Destroyed, StepError> {
    let extra = BTreeMap::from([
        ("id".to_string(), id.clone()),
        ("disabling".to_string(), "true".to_string()),
    ]);
    let pending = |reason: String| Destroyed::Pending {
        reason,
        extra: extra.clone(),
    };

    // 1. Disable it (a distribution must be disabled, and that deployed, to be deleted).
    // `None`: it is gone; `Some(Some((status, etag)))`: disabled by this call, with what the
    // update answered.
    let disabled = rewrite(ctx, &id, "disabling", |config| {
        Ok(if config.enabled {
            config.enabled = false;
            vec!["disabled".to_string()]
        } else {
            Vec::new()
        })
    })
    .await?
    .map(|(_, update)| {
        update.map(|out| {
            (
                out.distribution()
                    .map(|d| d.status().to_string())
                    .unwrap_or_default(),
                out.e_tag().map(str::to_string),
            )
        })
    });
    let Some(update) = disabled else {
        return Ok(Destroyed::AlreadyGone);
    };
    let disabled_now = update.is_some();
    // It is now disabled: from here on, an interrupted `down` resumes with the wait.
    if options.no_wait && disabled_now {
        return Ok(pending(
            "disabled; CloudFront takes 5-20 min to deploy that: run `cattube down` again to delete it".into(),
        ));
    }

    // 2. Wait until the disabled configuration is deployed.
    // An update that answers `Deployed` already (no real CloudFront does; an emulator may)
    // needs no read to know it.
    let (mut etag, status) = match update {
        Some((status, etag)) if status == "Deployed" => (etag, status),
        _ => match get(ctx, &id).await? {
            None => return Ok(Destroyed::AlreadyGone),
            Some((d, etag)) => (etag, d.status().to_string()),
        },
    };
    if status != "Deployed" {
        if options.no_wait {
            return Ok(pending(format!(
                "disabled, still {status}: run `cattube down` again to delete it"
            )));
        }
        match wait_deployed(ctx, &id, "disabling").await? {
            Waited::Deployed(_, e) => etag = e,
            Waited::Gone => return Ok(Destroyed::Deleted),
            Waited::TimedOut(status) => {
                return Ok(pending(format!(
                    "disabled, still {status} after {} s: run `cattube down` again to finish",
                    ctx.settings.deploy_timeout.as_secs()
                )))
            }
        }
    }

    delete(ctx, &id, etag).await
}

/// Deletes disabled distribution `id` with its current ETag (`etag`, as last read). Not
/// yet seen as disabled, or changed since the ETag was read: read it again and retry.
async fn delete(
    ctx: &StackContext,
    id: &str,
    etag: Option<String>,
) -> Result<Destroyed, StepError> {
    let cf = &ctx.clients.cloudfront;
    let first = std::sync::atomic::AtomicBool::new(true);
    retry_codes(
        ctx.settings.propagation_timeout,
        &["DistributionNotDisabled", "PreconditionFailed"],
        |_| ctx.progress(ID.as_str(), "waiting for CloudFront to see it disabled"),
        || {
            let (first, etag) = (&first, &etag);
            async move {
                let etag = if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    etag.clone()
                } else {
                    match get(ctx, id).await? {
                        Some((_, e)) => e,
                        None => return Ok(Destroyed::Deleted),
                    }
                };
                // Gone meanwhile is deleted all the same: this delete may be a retry of ours.
                cf.delete_distribution()
                    .id(id)
                    .set_if_match(etag)
                    .send()
                    .await
                    .found(Service::CloudFront, || {
                        format!("deleting distribution {id}")
                    })
                    .map(|_| Destroyed::Deleted)
            }
        },
    )
    .await
}
