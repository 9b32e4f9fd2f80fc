//! Stage 6, with `[domain]`: the TLS certificate CloudFront serves the stack's own domain
//! with. CloudFront takes certificates only from ACM in us-east-1, whatever the stack's
//! region, so that is where it is requested (DNS validation) or found: an ISSUED
//! certificate of the account that covers every name is reused (adopted: never deleted);
//! otherwise cattube requests one, tagged with the stack's tags, and deletes it on `down`.
//!
//! ACM issues it once its validation CNAMEs resolve. When the account has a Route 53 public
//! hosted zone for a name (or `[domain] zone-id`), `up` writes them there (remembered in the
//! state, deleted with the certificate) and waits a bounded time for the issue; otherwise
//! `up` prints them for the user's DNS provider and `status` reports the certificate
//! drifted (exit 3) until ACM has validated it. The distribution attaches it only once
//! issued ([`attachable`]).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, DomainValidation, KeyAlgorithm, Tag, ValidationMethod,
};
use aws_sdk_route53::types::{ChangeAction, RrType};

use crate::context::{DomainSettings, DRIFT_TAGS};
use crate::error::{error_code, AwsContext, AwsError};
use crate::grant::{Grant, Phase, Target};
use crate::naming::ResourceId;
use crate::resources::dns;
use crate::retry::{poll_until, retry_codes, Poll};
use crate::step::{
    Applied, DestroyOptions, Destroyed, Drift, Found, Observation, Ownership, Present, Recorded,
    Service, Spec, Step,
};
use crate::{Settings, StackContext, StepError};

pub struct Certificate;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    outputs: &["certificate_arn", "certificate_status"],
    service: Service::Acm,
    permissions: &[
        Grant::new(
            Phase::Observe,
            // ListCertificates takes no resource type.
            &["acm:ListCertificates"],
            Target::Any,
        ),
        Grant::new(
            Phase::Observe,
            &["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
            Target::Certificates,
        ),
        dns::GRANTS[0],
        dns::GRANTS[1],
        // RequestCertificate takes no resource type; its tags are checked on the request.
        Grant::new(Phase::Apply, &["acm:RequestCertificate"], Target::Any),
        Grant::new(
            Phase::Apply,
            &["acm:AddTagsToCertificate", "acm:DescribeCertificate"],
            Target::Certificates,
        ),
        dns::GRANTS[2],
        Grant::new(
            Phase::Destroy,
            &[
                "acm:DeleteCertificate",
                "acm:DescribeCertificate",
                "acm:ListTagsForCertificate",
            ],
            Target::Certificates,
        ),
        Grant::new(Phase::Destroy, &["acm:ListCertificates"], Target::Any),
        dns::GRANTS[3],
        dns::GRANTS[4],
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state and facts).
pub const ID: ResourceId = ResourceId::new("certificate");

const DRIFT_VALIDATION: &str = "validation";
const DRIFT_STATUS: &str = "status";
/// The state's list of validation records this stack wrote ([`dns::remembered`]).
const WROTE: &str = "validation_records";

/// The key types CloudFront serves (ListCertificates returns only RSA_2048 unless asked).
const KEY_TYPES: [aws_sdk_acm::types::KeyAlgorithm; 2] =
    [KeyAlgorithm::Rsa2048, KeyAlgorithm::EcPrime256v1];

/// Checks `[domain]` before any AWS call: DNS names ACM can certify (wildcards allowed in
/// `aliases`), at most 10 of them (ACM's default quota of names per certificate), no
/// duplicates, and a zone id shaped as Route 53's.
/// A refusal names the key (`name`, `aliases`, `zone-id`) and what is allowed.
pub fn validate_domain(domain: &DomainSettings) -> Result<(), (&'static str, String)> {
    let check =
        |key: &'static str, name: &str, wildcard: bool| -> Result<(), (&'static str, String)> {
            let bare = if wildcard {
                name.strip_prefix("*.").unwrap_or(name)
            } else {
                name
            };
            let labels: Vec<&str> = bare.split('.').collect();
            let shaped = name.len() <= 253
                && labels.len() >= 2
                && labels.iter().all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                })
                && !labels
                    .last()
                    .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()));
            if shaped {
                Ok(())
            } else {
                Err((
                    key,
                    format!(
                    "'{name}' is not a domain name (allowed: a name like \"videos.example.com\"{})",
                    if wildcard { " or \"*.example.com\"" } else { "" }
                ),
                ))
            }
        };
    check("name", &domain.name, false)?;
    for alias in &domain.aliases {
        check("aliases", alias, true)?;
    }
    let names = domain.names();
    if names.len() != 1 + domain.aliases.len() {
        return Err((
            "aliases",
            "a name is listed twice (or repeats name)".to_string(),
        ));
    }
    if names.len() > 10 {
        return Err((
            "aliases",
            format!(
                "{} names in all; an ACM certificate covers at most 10",
                names.len()
            ),
        ));
    }
    if let Some(zone) = &domain.zone_id {
        let id = zone.trim_start_matches("/hostedzone/");
        if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err((
                "zone-id",
                format!("'{zone}' is not a Route 53 hosted zone id (allowed: like \"Z0123456789ABCDEFGHIJ\")"),
            ));
        }
    }
    Ok(())
}

/// A certificate of the account, as read.
#[derive(Clone, Debug)]
struct Live {
    detail: CertificateDetail,
    tags: Vec<(String, String)>,
}

impl Live {
    fn arn(&self) -> &str {
        self.detail.certificate_arn().unwrap_or_default()
    }
    fn status(&self) -> &str {
        self.detail
            .status()
            .map(CertificateStatus::as_str)
            .unwrap_or("UNKNOWN")
    }
    /// Every name it covers, lowercase.
    fn names(&self) -> Vec<String> {
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
    fn covers(&self, domain: &DomainSettings) -> bool {
        let names = self.names();
        domain.names().iter().all(|n| names.contains(n))
    }
    /// The validation CNAMEs, `(name, value)`, once ACM has made them (seconds after the
    /// request), one per distinct record.
    fn validation_records(&self) -> Vec<(String, String)> {
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

fn outputs(live: &Live) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("certificate_arn", live.arn().to_string()),
        ("certificate_status", live.status().to_string()),
    ])
}

async fn describe(ctx: &StackContext, arn: &str) -> Result<Option<Live>, StepError> {
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

fn ours(ctx: &StackContext, live: &Live) -> bool {
    ctx.tagged_ours(live.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        && live
            .tags
            .iter()
            .any(|(k, v)| k == crate::context::TAG_REGION && *v == ctx.region)
}

/// Every certificate of the account in us-east-1 that is issued or waiting for validation,
/// for `domain` (`None`: every one).
async fn candidates(ctx: &StackContext, domain: Option<&str>) -> Result<Vec<Live>, StepError> {
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
async fn find(ctx: &StackContext, recorded: Option<&Recorded>) -> Result<Option<Live>, StepError> {
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

/// The records to create, one line each, as a DNS provider's form asks for them.
fn printed(records: &[(String, String)]) -> String {
    records
        .iter()
        .map(|(name, value)| format!("CNAME {name} -> {value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A deterministic token per stack and names: a request retried after a crash returns the
/// same certificate (ACM honours it for an hour) rather than a second one.
fn idempotency_token(ctx: &StackContext, domain: &DomainSettings) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(
        format!(
            "{}|{}|{}|{}",
            ctx.stack,
            ctx.account,
            ctx.region,
            domain.names().join(",")
        )
        .as_bytes(),
    );
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn acm_tags(ctx: &StackContext) -> Result<Vec<Tag>, StepError> {
    ctx.tags()
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| StepError::with_source("building the certificate's tags", e))
        })
        .collect()
}

/// What `validate` did.
struct Validation {
    /// Validation records written in Route 53 by this call.
    wrote: Vec<(RrType, String)>,
    /// Records no hosted zone of the account holds: the user creates them.
    to_print: Vec<(String, String)>,
}

/// Writes the validation CNAMEs that a hosted zone of the account holds and is missing.
/// A name taken by another record is an error naming it: cattube never writes over DNS.
async fn validate(ctx: &StackContext, live: &Live) -> Result<Validation, StepError> {
    let mut result = Validation {
        wrote: Vec::new(),
        to_print: Vec::new(),
    };
    for (name, value) in live.validation_records() {
        let Some(zone) = dns::zone_for(ctx, &name).await? else {
            result.to_print.push((name, value));
            continue;
        };
        match dns::live(ctx, &zone, &name, RrType::Cname).await? {
            Some(record) if dns::target(&record) == value.trim_end_matches('.') => {}
            Some(record) => {
                return Err(StepError::msg(format!(
                    "{name} in zone {} is already a CNAME to {}, not ACM's validation value {value}: cattube does not write over it",
                    zone.name,
                    dns::target(&record)
                )))
            }
            None => {
                dns::change(
                    ctx,
                    &zone,
                    ChangeAction::Create,
                    vec![dns::cname(&name, &value)?],
                )
                .await?;
                result.wrote.push((RrType::Cname, name));
            }
        }
    }
    Ok(result)
}

/// Waits until ACM has made the validation records (seconds after the request).
async fn with_records(ctx: &StackContext, arn: &str) -> Result<Live, StepError> {
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
async fn issued(ctx: &StackContext, arn: &str) -> Result<Option<Live>, StepError> {
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

#[async_trait]
impl Step for Certificate {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn shown_name(&self, ctx: &StackContext) -> String {
        ctx.settings
            .domain
            .as_ref()
            .map(|d| d.name.clone())
            .unwrap_or_else(|| "certificate".to_string())
    }

    fn wanted(&self, settings: &Settings) -> bool {
        settings.domain.is_some()
    }

    fn unwanted_reason(&self) -> &'static str {
        "not configured ([domain] name is not set)"
    }

    /// Every certificate in us-east-1 carrying the stack's tags (and region).
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<Found>, StepError> {
        Ok(candidates(ctx, None)
            .await?
            .into_iter()
            .filter(|c| ours(ctx, c))
            .map(|c| Found {
                name: c.detail.domain_name().unwrap_or_default().to_string(),
                arn: c.arn().to_string(),
            })
            .collect())
    }

    async fn observe(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
    ) -> Result<Observation, StepError> {
        let Some(live) = find(ctx, recorded).await? else {
            return Ok(Observation::Missing);
        };
        let tagged_ours = ours(ctx, &live);
        let mut drift = Vec::new();
        match live.status() {
            "ISSUED" => {}
            "PENDING_VALIDATION" => drift.push(Drift::new(
                DRIFT_VALIDATION,
                format!(
                    "waiting for DNS validation: {}",
                    printed(&live.validation_records())
                ),
            )),
            other => drift.push(Drift::new(DRIFT_STATUS, format!("certificate is {other}"))),
        }
        if tagged_ours || recorded.is_some_and(|r| r.ownership.is_ours()) {
            drift.extend(ctx.tag_drift(live.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        }
        Ok(Observation::Present(Present {
            name: live.detail.domain_name().unwrap_or_default().to_string(),
            arn: live.arn().to_string(),
            tagged_ours,
            drift,
            pending: None,
            outputs: outputs(&live),
        }))
    }

    async fn apply(
        &self,
        ctx: &StackContext,
        observation: &Observation,
        ownership: Option<Ownership>,
    ) -> Result<Applied, StepError> {
        let domain = ctx
            .settings
            .domain
            .as_ref()
            .ok_or_else(|| StepError::msg("no [domain] configured"))?;
        let acm = &ctx.clients.acm;
        let mut changes = Vec::new();
        let arn = match observation {
            Observation::Missing => {
                let names = domain.names();
                let out = acm
                    .request_certificate()
                    .domain_name(&names[0])
                    .set_subject_alternative_names((names.len() > 1).then(|| names.clone()))
                    .validation_method(ValidationMethod::Dns)
                    .key_algorithm(KeyAlgorithm::Rsa2048)
                    .idempotency_token(idempotency_token(ctx, domain))
                    .set_tags(Some(acm_tags(ctx)?))
                    .send()
                    .await
                    .context(|| {
                        format!(
                            "requesting a certificate for {} in ACM ({})",
                            names.join(", "),
                            crate::aws::ACM_REGION
                        )
                    })?;
                let arn = out
                    .certificate_arn()
                    .ok_or_else(|| StepError::msg("ACM returned no certificate ARN"))?
                    .to_string();
                changes.push(format!(
                    "requested a certificate for {} in {}",
                    names.join(", "),
                    crate::aws::ACM_REGION
                ));
                arn
            }
            Observation::Present(present) => {
                if present.has_drift(DRIFT_STATUS) {
                    return Err(StepError::msg(format!(
                        "certificate {} cannot be used: {}; delete it (aws acm delete-certificate --region {} --certificate-arn {}) and run `cattube up` again",
                        present.arn,
                        present.drift.iter().map(|d| d.detail.as_str()).collect::<Vec<_>>().join("; "),
                        crate::aws::ACM_REGION,
                        present.arn
                    )));
                }
                if present.has_drift(DRIFT_TAGS) && ownership.is_none_or(Ownership::is_ours) {
                    acm.add_tags_to_certificate()
                        .certificate_arn(&present.arn)
                        .set_tags(Some(acm_tags(ctx)?))
                        .send()
                        .await
                        .context(|| format!("tagging certificate {}", present.arn))?;
                    changes.push("tagged the certificate".to_string());
                }
                present.arn.clone()
            }
        };
        let mut live = with_records(ctx, &arn).await?;
        let mut extra = BTreeMap::new();
        let mut notice = None;
        if live.status() == "PENDING_VALIDATION" {
            let validation = validate(ctx, &live).await?;
            if !validation.wrote.is_empty() {
                changes.push(format!(
                    "wrote {} DNS validation record(s) in Route 53",
                    validation.wrote.len()
                ));
                extra.insert(WROTE.to_string(), dns::remembered(&validation.wrote));
            }
            if validation.to_print.is_empty() {
                if let Some(now) = issued(ctx, &arn).await? {
                    live = now;
                }
            } else {
                notice = Some(format!(
                    "no Route 53 hosted zone of this account holds these names; create at the domain's DNS provider: {}",
                    printed(&validation.to_print)
                ));
            }
        }
        if live.status() == "ISSUED" {
            changes.push("ACM has issued the certificate".to_string());
        } else {
            let waiting = format!(
                "the certificate is {}: the distribution stays on its CloudFront domain until ACM validates it; run `cattube up` again then",
                live.status()
            );
            changes.push(waiting.clone());
            notice = Some(match notice {
                Some(records) => format!("{records}; {waiting}"),
                None => waiting,
            });
        }
        Ok(Applied {
            arn: live.arn().to_string(),
            adopted: false,
            changes,
            outputs: outputs(&live),
            extra,
            notice,
        })
    }

    async fn destroy(
        &self,
        ctx: &StackContext,
        recorded: Option<&Recorded>,
        _options: &DestroyOptions,
    ) -> Result<Destroyed, StepError> {
        let live = match recorded.map(|r| r.arn.as_str()).filter(|a| !a.is_empty()) {
            Some(arn) => describe(ctx, arn).await?,
            None => find(ctx, None).await?.filter(|c| ours(ctx, c)),
        };
        // The validation records this stack wrote, as ACM asked for them; a record someone
        // changed since is theirs now.
        if let Some(wrote) = recorded.and_then(|r| r.extra.get(WROTE)) {
            let values: BTreeMap<String, String> = live
                .as_ref()
                .map(|l| l.validation_records().into_iter().collect())
                .unwrap_or_default();
            dns::delete_remembered(ctx, wrote, |name, target| {
                values
                    .get(&dns::fqdn(name))
                    .is_some_and(|v| v.trim_end_matches('.').eq_ignore_ascii_case(target))
            })
            .await?;
        }
        let Some(live) = live else {
            return Ok(Destroyed::AlreadyGone);
        };
        let arn = live.arn().to_string();
        // CloudFront lets go of a certificate once the distribution's deletion (or its
        // change to another certificate) has deployed: minutes, as a deploy is.
        let answer = retry_codes(
            ctx.settings.deploy_timeout,
            &["ResourceInUseException"],
            |_| ctx.progress(ID.as_str(), "waiting for CloudFront to release it"),
            || async {
                match ctx
                    .clients
                    .acm
                    .delete_certificate()
                    .certificate_arn(&arn)
                    .send()
                    .await
                {
                    Ok(_) => Ok(Destroyed::Deleted),
                    Err(e) if Service::Acm.not_found(&e) => Ok(Destroyed::AlreadyGone),
                    Err(e) => Err(StepError::with_source(
                        format!(
                            "deleting certificate {arn}{}",
                            if error_code(&e) == Some("ResourceInUseException") {
                                " (still in use)"
                            } else {
                                ""
                            }
                        ),
                        AwsError::from_sdk(&e),
                    )),
                }
            },
        )
        .await?;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, aliases: &[&str]) -> DomainSettings {
        DomainSettings {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            zone_id: None,
        }
    }

    #[test]
    fn domain_names_are_checked_before_any_call() {
        assert_eq!(
            validate_domain(&domain("videos.example.com", &["*.example.com"])),
            Ok(())
        );
        for (bad, key) in [
            (domain("localhost", &[]), "name"),
            (domain("-x.example.com", &[]), "name"),
            (domain("*.example.com", &[]), "name"),
            (domain("a.example.com", &["a b.example.com"]), "aliases"),
            (domain("a.example.com", &["A.example.com"]), "aliases"),
            (domain("10.0.0.1", &[]), "name"),
        ] {
            let (named, err) = validate_domain(&bad).unwrap_err();
            assert_eq!(named, key, "{bad:?}: {err}");
        }
        let many: Vec<String> = (0..10).map(|i| format!("v{i}.example.com")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(validate_domain(&domain("videos.example.com", &many)).is_err());
        let mut zoned = domain("videos.example.com", &[]);
        zoned.zone_id = Some("not a zone".into());
        assert_eq!(validate_domain(&zoned).unwrap_err().0, "zone-id");
    }
}
