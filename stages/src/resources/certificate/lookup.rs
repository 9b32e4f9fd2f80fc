//! The account's certificates as read from ACM: which one is this stack's, or one
//! `up` may attach, and waiting for ACM to fill one in.

use super::*;

/// A certificate of the account, as read.
#[derive(Clone, Debug)]
pub(super) struct Live {
    pub(super) detail: CertificateDetail,
    pub(super) tags: Vec<(String, String)>,
}

impl Live {
    pub(super) fn arn(&self) -> &str {
        self.detail.certificate_arn().unwrap_or_default()
    }
    pub(super) fn status(&self) -> &str {
        self.detail
            .status()
            .map(CertificateStatus::as_str)
            .unwrap_or("UNKNOWN")
    }
    /// Every name it covers, lowercase.
    pub(super) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .detail
            .subject_alternative_names()
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect();
        if let Some(domain) = self.detail.domain_name() {
            names.push(domain.to_ascii_lowercase());
        }
        names
    }
    pub(super) fn covers(&self, domain: &DomainSettings) -> bool {
        let names = self.names();
        domain.names().iter().all(|n| names.contains(n))
    }
    /// The validation CNAMEs, `(name, value)`, once ACM has made them (seconds after the
    /// request), one per distinct record.
    pub(super) fn validation_records(&self) -> Vec<(String, String)> {
        let mut records: Vec<(String, String)> = self
            .detail
            .domain_validation_options()
            .iter()
            .filter_map(DomainValidation::resource_record)
            .map(|r| (dns::fqdn(r.name()), r.value().to_string()))
            .collect();
        records.sort();
        records.dedup();
        records
    }
}

pub(super) fn outputs(live: &Live) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("certificate_arn", live.arn().to_string()),
        ("certificate_status", live.status().to_string()),
    ])
}

pub(super) async fn describe(ctx: &StackContext, arn: &str) -> Result<Option<Live>, StepError> {
    let acm = &ctx.clients.acm;
    let (detail, tags) = tokio::join!(
        acm.describe_certificate().certificate_arn(arn).send(),
        acm.list_tags_for_certificate().certificate_arn(arn).send()
    );
    let detail = match detail {
        Ok(out) => match out.certificate() {
            Some(detail) => detail.clone(),
            None => return Ok(None),
        },
        Err(e) if Service::Acm.not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(StepError::with_source(
                format!("reading certificate {arn}"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    let tags = match tags {
        Ok(out) => out
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        Err(e) if Service::Acm.not_found(&e) => return Ok(None),
        Err(e) => {
            return Err(StepError::with_source(
                format!("reading the tags of certificate {arn}"),
                AwsError::from_sdk(&e),
            ))
        }
    };
    Ok(Some(Live { detail, tags }))
}

pub(super) fn ours(ctx: &StackContext, live: &Live) -> bool {
    ctx.tagged_ours(live.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        && live
            .tags
            .iter()
            .any(|(k, v)| k == crate::context::TAG_REGION && *v == ctx.region)
}

/// Every certificate of the account in us-east-1 that is issued or waiting for validation,
/// for `domain` (`None`: every one).
pub(super) async fn candidates(
    ctx: &StackContext,
    domain: Option<&str>,
) -> Result<Vec<Live>, StepError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .clients
            .acm
            .list_certificates()
            .certificate_statuses(CertificateStatus::Issued)
            .certificate_statuses(CertificateStatus::PendingValidation)
            .includes(
                aws_sdk_acm::types::Filters::builder()
                    .set_key_types(Some(KEY_TYPES.to_vec()))
                    .build(),
            )
            .set_next_token(token.take())
            .send()
            .await
            .context(|| format!("listing the ACM certificates in {}", crate::aws::ACM_REGION))?;
        for summary in page.certificate_summary_list() {
            let matches = domain.is_none_or(|d| {
                summary
                    .domain_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case(d))
            });
            if let (true, Some(arn)) = (matches, summary.certificate_arn()) {
                if let Some(live) = describe(ctx, arn).await? {
                    found.push(live);
                }
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(found),
        }
    }
}

/// The stack's certificate: the recorded one while it covers the names, else this stack's
/// own (tagged) one for them, else an issued one of the account to reuse.
pub(super) async fn find(
    ctx: &StackContext,
    recorded: Option<&Recorded>,
) -> Result<Option<Live>, StepError> {
    let known = recorded
        .map(|r| r.arn.clone())
        .filter(|a| !a.is_empty())
        .or_else(|| ctx.arn_of(ID));
    let domain = ctx.settings.domain.as_ref();
    if let Some(arn) = known {
        if let Some(live) = describe(ctx, &arn).await? {
            if domain.is_none_or(|d| live.covers(d)) {
                return Ok(Some(live));
            }
        }
    }
    let Some(domain) = domain else {
        return Ok(None);
    };
    let all: Vec<Live> = candidates(ctx, Some(&domain.name))
        .await?
        .into_iter()
        .filter(|c| c.covers(domain))
        .collect();
    let mine = all.iter().find(|c| ours(ctx, c)).cloned();
    Ok(mine.or_else(|| all.into_iter().find(|c| c.status() == "ISSUED")))
}

/// The certificate the distribution should serve: the stack's, once ACM has issued it.
/// `None` without `[domain]` or while it is missing or waiting for validation.
pub(crate) async fn attachable(ctx: &StackContext) -> Result<Option<String>, StepError> {
    if ctx.settings.domain.is_none() {
        return Ok(None);
    }
    if let (Some(arn), Some(status)) = (ctx.arn_of(ID), ctx.output_of(ID, "certificate_status")) {
        if status == "ISSUED" {
            return Ok(Some(arn));
        }
    }
    Ok(find(ctx, None)
        .await?
        .filter(|c| c.status() == "ISSUED")
        .map(|c| c.arn().to_string()))
}

/// Waits until ACM has made the validation records (seconds after the request).
pub(super) async fn with_records(ctx: &StackContext, arn: &str) -> Result<Live, StepError> {
    let waited = poll_until(
        ctx.settings.propagation_timeout,
        Duration::from_secs(2),
        || async {
            Ok::<_, StepError>(match describe(ctx, arn).await? {
                Some(live) if !live.validation_records().is_empty() => Poll::Ready(live),
                _ => Poll::Pending(()),
            })
        },
        |_, _| ctx.progress(ID.as_str(), "waiting for ACM's validation records"),
    )
    .await?;
    waited.map_err(|_| {
        StepError::msg(format!(
            "ACM gave certificate {arn} no DNS validation records in {} s",
            ctx.settings.propagation_timeout.as_secs()
        ))
    })
}

/// Waits, bounded, until ACM has issued the certificate: the propagation bound, or with
/// `up --wait` the deploy bound (ACM usually validates within minutes of the records).
pub(super) async fn issued(ctx: &StackContext, arn: &str) -> Result<Option<Live>, StepError> {
    let bound = if ctx.settings.wait_for_deploy {
        ctx.settings.deploy_timeout
    } else {
        ctx.settings.propagation_timeout
    };
    let interval = (bound / 60).clamp(Duration::from_millis(500), Duration::from_secs(15));
    let waited = poll_until(
        bound,
        interval,
        || async {
            Ok::<_, StepError>(match describe(ctx, arn).await? {
                Some(live) if live.status() == "ISSUED" => Poll::Ready(live),
                Some(live) if live.status() != "PENDING_VALIDATION" => Poll::Ready(live),
                _ => Poll::Pending(()),
            })
        },
        |_, waited| {
            ctx.progress(
                ID.as_str(),
                &format!("waiting for ACM to validate, {} s", waited.as_secs()),
            )
        },
    )
    .await?;
    Ok(waited.ok())
}
