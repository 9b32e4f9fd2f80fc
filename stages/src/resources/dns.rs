//! The Route 53 records two resources write for `[domain]`: the certificate's DNS
//! validation CNAMEs ([`crate::certificate`]) and the alias records to the distribution
//! ([`crate::domain_records`]). Records carry no tags: a resource writes a record only with
//! `CREATE` (never over one that is there), remembers in the state which it created, and
//! deletes exactly those, as they still are.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};

use crate::error::{AwsContext, AwsError};
use crate::grant::{Grant, Target};
use crate::{StackContext, StepError};

/// What finding a name's zone, reading its records and writing or deleting the ones a
/// resource owns takes: observe (lookup, reads), apply (changes), destroy (all three).
/// ListHostedZonesByName takes no resource type.
pub const GRANTS: [Grant; 5] = [
    Grant::observe(&["route53:ListHostedZonesByName"], Target::Any),
    Grant::observe(
        &["route53:GetHostedZone", "route53:ListResourceRecordSets"],
        Target::HostedZones,
    ),
    Grant::apply(&["route53:ChangeResourceRecordSets"], Target::HostedZones),
    Grant::destroy(&["route53:ListHostedZonesByName"], Target::Any),
    Grant::destroy(
        &[
            "route53:GetHostedZone",
            "route53:ListResourceRecordSets",
            "route53:ChangeResourceRecordSets",
        ],
        Target::HostedZones,
    ),
];

/// The hosted zone id Route 53 gives every CloudFront distribution as an alias target.
pub const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";

/// The TTL of a validation CNAME (ACM's own examples use 300 s).
const VALIDATION_TTL: i64 = 300;

/// A Route 53 public hosted zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// `Z123…`, without the `/hostedzone/` prefix.
    pub id: String,
    /// `example.com`, lowercase, without the final dot.
    pub name: String,
}

/// A DNS name as Route 53 returns it: lowercase, with the final dot.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

fn zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// Whether `name` is `zone` or below it.
fn within(name: &str, zone: &str) -> bool {
    let (name, zone) = (fqdn(name), fqdn(zone));
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// The public hosted zone that holds `name`: `[domain] zone-id` when it does, else the
/// account's public zone for the longest parent of `name` (`videos.example.com`, then
/// `example.com`). `None`: the name's DNS is not in this account's Route 53, so cattube
/// prints the records for the user to create.
pub async fn zone_for(ctx: &StackContext, name: &str) -> Result<Option<Zone>, StepError> {
    let r53 = &ctx.clients.route53;
    if let Some(id) = ctx
        .settings
        .domain
        .as_ref()
        .and_then(|d| d.zone_id.as_ref())
    {
        let out = r53
            .get_hosted_zone()
            .id(id)
            .send()
            .await
            .context(|| format!("reading Route 53 hosted zone {id} ([domain] zone-id)"))?;
        let Some(zone) = out.hosted_zone() else {
            return Ok(None);
        };
        if zone.config().is_some_and(|c| c.private_zone()) {
            return Err(StepError::msg(format!(
                "[domain] zone-id: {id} is a private hosted zone; viewers resolve the domain in a public one"
            )));
        }
        let zone_name = zone.name().trim_end_matches('.').to_ascii_lowercase();
        return Ok(within(name, &zone_name).then(|| Zone {
            id: zone_id(zone.id()),
            name: zone_name,
        }));
    }
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    // Down to the registrable part: a zone for a bare top-level domain is not the user's.
    for start in 0..labels.len().saturating_sub(1) {
        let candidate = fqdn(&labels[start..].join("."));
        let out = r53
            .list_hosted_zones_by_name()
            .dns_name(&candidate)
            .max_items(10)
            .send()
            .await
            .context(|| format!("looking up the Route 53 hosted zone of {candidate}"))?;
        let public: Vec<Zone> = out
            .hosted_zones()
            .iter()
            .filter(|z| fqdn(z.name()) == candidate)
            .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
            .map(|z| Zone {
                id: zone_id(z.id()),
                name: candidate.trim_end_matches('.').to_string(),
            })
            .collect();
        match public.as_slice() {
            [] => continue,
            [one] => return Ok(Some(one.clone())),
            several => {
                let ids: Vec<&str> = several.iter().map(|z| z.id.as_str()).collect();
                return Err(StepError::msg(format!(
                    "the account has {} public hosted zones named {candidate} ({}): set [domain] zone-id to the one viewers resolve",
                    several.len(),
                    ids.join(", ")
                )));
            }
        }
    }
    Ok(None)
}

/// The record set `name` of type `kind` in `zone`, if there is one.
pub async fn live(
    ctx: &StackContext,
    zone: &Zone,
    name: &str,
    kind: RrType,
) -> Result<Option<ResourceRecordSet>, StepError> {
    let name = fqdn(name);
    let out = ctx
        .clients
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .start_record_name(&name)
        .start_record_type(kind.clone())
        .max_items(1)
        .send()
        .await
        .context(|| format!("reading the {kind} record {name} in zone {}", zone.id))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| fqdn(r.name()) == name && *r.r#type() == kind)
        .cloned())
}

/// A validation CNAME: `name` → `value`.
pub fn cname(name: &str, value: &str) -> Result<ResourceRecordSet, StepError> {
    ResourceRecordSet::builder()
        .name(fqdn(name))
        .r#type(RrType::Cname)
        .ttl(VALIDATION_TTL)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .map_err(|e| StepError::with_source("building a DNS record", e))?,
        )
        .build()
        .map_err(|e| StepError::with_source("building a DNS record", e))
}

/// An alias record (`A` or `AAAA`) of `name` to the distribution at `domain`.
pub fn alias(name: &str, kind: RrType, domain: &str) -> Result<ResourceRecordSet, StepError> {
    ResourceRecordSet::builder()
        .name(fqdn(name))
        .r#type(kind)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(CLOUDFRONT_ZONE)
                .dns_name(fqdn(domain))
                .evaluate_target_health(false)
                .build()
                .map_err(|e| StepError::with_source("building a DNS alias", e))?,
        )
        .build()
        .map_err(|e| StepError::with_source("building a DNS record", e))
}

/// What a record set points to, for comparing and printing: the CNAME's value or the
/// alias's target, lowercase without the final dot.
pub fn target(record: &ResourceRecordSet) -> String {
    match record.alias_target() {
        Some(alias) => alias.dns_name().trim_end_matches('.').to_ascii_lowercase(),
        None => record
            .resource_records()
            .first()
            .map(|r| r.value().trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_default(),
    }
}

/// Sends one change batch to `zone` (Route 53 applies it atomically).
pub async fn change(
    ctx: &StackContext,
    zone: &Zone,
    action: ChangeAction,
    records: Vec<ResourceRecordSet>,
) -> Result<(), StepError> {
    if records.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = records
        .iter()
        .map(|r| format!("{} {}", r.r#type(), r.name()))
        .collect();
    let changes = records
        .into_iter()
        .map(|record| {
            Change::builder()
                .action(action.clone())
                .resource_record_set(record)
                .build()
                .map_err(|e| StepError::with_source("building a DNS change", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let batch = ChangeBatch::builder()
        .comment(format!("cattube stack {}", ctx.stack))
        .set_changes(Some(changes))
        .build()
        .map_err(|e| StepError::with_source("building a DNS change", e))?;
    ctx.clients
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone.id)
        .change_batch(batch)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            StepError::with_source(
                format!("{action} {} in zone {}", shown.join(", "), zone.name),
                AwsError::from_sdk(&e),
            )
        })
}

/// How the state remembers the records a resource created: `TYPE name` per line.
pub fn remembered(records: &[(RrType, String)]) -> String {
    records
        .iter()
        .map(|(kind, name)| format!("{kind} {}", fqdn(name)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The records [`remembered`] wrote.
pub fn recalled(text: &str) -> Vec<(RrType, String)> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(kind, name)| (RrType::from(kind), name.to_string()))
        .collect()
}

/// Deletes the records the state says this resource created, each as it is now; one that
/// is gone, or whose target `still_ours(name, target)` refuses, is left alone (someone
/// changed it since). Returns how many it deleted.
pub async fn delete_remembered(
    ctx: &StackContext,
    remembered: &str,
    still_ours: impl Fn(&str, &str) -> bool,
) -> Result<usize, StepError> {
    let mut deleted = 0;
    for (kind, name) in recalled(remembered) {
        let Some(zone) = zone_for(ctx, &name).await? else {
            continue;
        };
        let Some(record) = live(ctx, &zone, &name, kind.clone()).await? else {
            continue;
        };
        if !still_ours(&name, &target(&record)) {
            continue;
        }
        change(ctx, &zone, ChangeAction::Delete, vec![record]).await?;
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_as_dns_does() {
        assert_eq!(fqdn("Videos.Example.com"), "videos.example.com.");
        assert!(within("videos.example.com", "example.com"));
        assert!(within("example.com.", "example.com"));
        assert!(!within("videos.badexample.com", "example.com"));
        let text = remembered(&[(RrType::A, "a.example.com".into())]);
        assert_eq!(recalled(&text), vec![(RrType::A, "a.example.com.".into())]);
    }
}
