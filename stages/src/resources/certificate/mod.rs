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

mod lookup;
mod validation;

use crate::resources::prelude::*;

pub(crate) use lookup::attachable;
use lookup::*;
pub use validation::validate_domain;
use validation::*;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_acm::types::{
    CertificateDetail, CertificateStatus, DomainValidation, KeyAlgorithm, Tag, ValidationMethod,
};
use aws_sdk_route53::types::{ChangeAction, RrType};

use crate::context::DomainSettings;
use crate::error::error_code;
use crate::resources::dns;
use crate::retry::{poll_until, retry_codes, Poll};
use crate::Settings;

pub struct Certificate;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    outputs: &["certificate_arn", "certificate_status"],
    service: Service::Acm,
    permissions: &[
        Grant::observe(
            // ListCertificates takes no resource type.
            &["acm:ListCertificates"],
            Target::Any,
        ),
        Grant::observe(
            &["acm:DescribeCertificate", "acm:ListTagsForCertificate"],
            Target::Certificates,
        ),
        dns::GRANTS[0],
        dns::GRANTS[1],
        // RequestCertificate takes no resource type; its tags are checked on the request.
        Grant::apply(&["acm:RequestCertificate"], Target::Any),
        Grant::apply(
            &["acm:AddTagsToCertificate", "acm:DescribeCertificate"],
            Target::Certificates,
        ),
        dns::GRANTS[2],
        Grant::destroy(
            &[
                "acm:DeleteCertificate",
                "acm:DescribeCertificate",
                "acm:ListTagsForCertificate",
            ],
            Target::Certificates,
        ),
        Grant::destroy(&["acm:ListCertificates"], Target::Any),
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

/// Requests the certificate for `domain`'s names, validated by DNS: its ARN (`changes` says
/// so). The idempotency token makes a retried request return the same certificate.
async fn request(
    ctx: &StackContext,
    domain: &DomainSettings,
    changes: &mut Vec<String>,
) -> Result<String, StepError> {
    let names = domain.names();
    let out = ctx
        .clients
        .acm
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
    Ok(arn)
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

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let Some(live) = find(ctx, ctx.recorded).await? else {
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
        if tagged_ours || ctx.recorded.is_some_and(|r| r.ownership.is_ours()) {
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

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let domain = ctx
            .settings
            .domain
            .as_ref()
            .ok_or_else(|| StepError::msg("no [domain] configured"))?;
        let acm = &ctx.clients.acm;
        let mut changes = Vec::new();
        let arn = match ctx.observation {
            Observation::Missing => request(ctx, domain, &mut changes).await?,
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
                if present.retags(ctx.ownership) {
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

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let live = match ctx
            .recorded
            .map(|r| r.arn.as_str())
            .filter(|a| !a.is_empty())
        {
            Some(arn) => describe(ctx, arn).await?,
            None => find(ctx, None).await?.filter(|c| ours(ctx, c)),
        };
        // The validation records this stack wrote, as ACM asked for them; a record someone
        // changed since is theirs now.
        if let Some(wrote) = ctx.recorded.and_then(|r| r.extra.get(WROTE)) {
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
