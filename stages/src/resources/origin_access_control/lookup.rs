//! Finding an OAC: by the id the state recorded, else by its name (an OAC has no tags).

use super::{known_id, oac_name, shares, SHARED_NAME};
use crate::resources::prelude::*;

/// A live OAC: its id and the settings that matter.
#[derive(Debug)]
pub(super) struct Live {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) protocol: String,
    pub(super) behavior: String,
    pub(super) origin_type: String,
    /// When read by id: the ETag a delete can use without reading it again.
    pub(super) etag: Option<String>,
}

/// Finds the OAC: by the id recorded in the state, else by its name.
pub(super) async fn find(
    ctx: &StackContext,
    recorded: Option<&Recorded>,
) -> Result<Option<Live>, StepError> {
    Ok(find_or_count(ctx, recorded).await?.0)
}

/// [`find`], and when there is no such OAC, how many the account has (`None` when the
/// recorded id answered, so no listing was needed).
pub(super) async fn find_or_count(
    ctx: &StackContext,
    recorded: Option<&Recorded>,
) -> Result<(Option<Live>, u64), StepError> {
    let cf = &ctx.clients.cloudfront;
    let name = if shares(recorded) {
        SHARED_NAME
    } else {
        oac_name(ctx)
    };
    let recorded_id = recorded
        .and_then(|r| {
            r.extra
                .get("id")
                .cloned()
                .or_else(|| arn::last_segment(&r.arn).map(str::to_string))
        })
        .or_else(|| known_id(ctx));
    if let Some(id) = recorded_id {
        let answer = cf
            .get_origin_access_control()
            .id(&id)
            .send()
            .await
            .found(Service::CloudFront, || {
                format!("reading origin access control {id}")
            })?;
        if let Some(out) = answer {
            if let Some(config) = out
                .origin_access_control()
                .and_then(|o| o.origin_access_control_config())
                .filter(|c| c.name() == name)
            {
                return Ok((
                    Some(Live {
                        id,
                        name: name.to_string(),
                        description: config.description().unwrap_or_default().to_string(),
                        protocol: config.signing_protocol().as_str().to_string(),
                        behavior: config.signing_behavior().as_str().to_string(),
                        origin_type: config
                            .origin_access_control_origin_type()
                            .as_str()
                            .to_string(),
                        etag: out.e_tag().map(str::to_string),
                    }),
                    0,
                ));
            }
        }
    }
    // The state is lost or stale: look it up by name.
    by_name(ctx, name).await
}

/// The OAC named `name`, whoever made it (an OAC has no tags: its name is the key), and when
/// there is none, how many OACs the account has (every page was read to know).
pub(super) async fn by_name(
    ctx: &StackContext,
    name: &str,
) -> Result<(Option<Live>, u64), StepError> {
    let cf = &ctx.clients.cloudfront;
    let mut count = 0;
    let mut pages = cf.list_origin_access_controls().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.context(|| "listing origin access controls".to_string())?;
        let Some(list) = page.origin_access_control_list() else {
            break;
        };
        count += list.items().len() as u64;
        if let Some(s) = list.items().iter().find(|s| s.name() == name) {
            return Ok((
                Some(Live {
                    id: s.id().to_string(),
                    name: name.to_string(),
                    description: s.description().to_string(),
                    protocol: s.signing_protocol().as_str().to_string(),
                    behavior: s.signing_behavior().as_str().to_string(),
                    origin_type: s.origin_access_control_origin_type().as_str().to_string(),
                    etag: None,
                }),
                count,
            ));
        }
    }
    Ok((None, count))
}
