//! `[domain]` checked before any call, and the DNS validation of the certificate.

use super::*;

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

/// The records to create, one line each, as a DNS provider's form asks for them.
pub(super) fn printed(records: &[(String, String)]) -> String {
    records
        .iter()
        .map(|(name, value)| format!("CNAME {name} -> {value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A deterministic token per stack and names: a request retried after a crash returns the
/// same certificate (ACM honours it for an hour) rather than a second one.
pub(super) fn idempotency_token(ctx: &StackContext, domain: &DomainSettings) -> String {
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

pub(super) fn acm_tags(ctx: &StackContext) -> Result<Vec<Tag>, StepError> {
    ctx.sdk_tags(|k, v| Tag::builder().key(k).value(v).build())
}

/// What `validate` did.
pub(super) struct Validation {
    /// Validation records written in Route 53 by this call.
    pub(super) wrote: Vec<(RrType, String)>,
    /// Records no hosted zone of the account holds: the user creates them.
    pub(super) to_print: Vec<(String, String)>,
}

/// Writes the validation CNAMEs that a hosted zone of the account holds and is missing.
/// A name taken by another record is an error naming it: cattube never writes over DNS.
pub(super) async fn validate(ctx: &StackContext, live: &Live) -> Result<Validation, StepError> {
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
