//! Stage 6, with `[domain]`: the DNS names viewers type, pointed at the distribution. For
//! each name a Route 53 public hosted zone of the account holds (or `[domain] zone-id`),
//! an alias `A` and `AAAA` record to the distribution (the distribution is dual-stack);
//! for a name no zone holds, `up` prints the record to create. Written only once the
//! distribution answers for the names (its certificate attached), with `CREATE`: a record
//! someone else wrote is an error naming it, never overwritten. Records carry no tags: the
//! state remembers the ones this stack created, and `down` deletes exactly those.

use crate::resources::prelude::*;
use std::collections::BTreeMap;

use aws_sdk_route53::types::{ChangeAction, RrType};

use crate::resources::dns;
use crate::{distribution, Settings};

pub struct DomainRecords;

/// This resource's registry entry.
pub const SPEC: Spec = Spec {
    id: ID,
    stage: "6",
    // The alias target is the distribution's domain, generated when it is created, and
    // the records are written only once it answers for the names.
    depends_on: &[crate::distribution::ID],
    service: Service::Route53,
    permissions: &[
        distribution::LOOKUP[0],
        distribution::LOOKUP[1],
        dns::GRANTS[0],
        dns::GRANTS[1],
        dns::GRANTS[2],
        dns::GRANTS[3],
        dns::GRANTS[4],
    ],
    ..Spec::DEFAULT
};

/// This resource's id (the key of its state and facts).
pub const ID: ResourceId = ResourceId::new("domain-records");

const DRIFT_RECORDS: &str = "records";
/// The state's list of the records this stack created ([`dns::remembered`]).
const WROTE: &str = "records";
const KINDS: [RrType; 2] = [RrType::A, RrType::Aaaa];

/// The names the distribution answers for and its own domain, once attached.
async fn attached(ctx: &StackContext) -> Result<Option<(Vec<String>, String)>, StepError> {
    let Some(dist) = distribution::live(ctx).await? else {
        return Ok(None);
    };
    let aliases: Vec<String> = dist
        .distribution_config()
        .and_then(|c| c.aliases())
        .map(|a| a.items().iter().map(|n| n.to_ascii_lowercase()).collect())
        .unwrap_or_default();
    Ok((!aliases.is_empty()).then(|| (aliases, dist.domain_name().to_string())))
}

/// What the names need: `(zone, name, kind)` records to create, records to print, and
/// whether every zoned record is there.
struct Wanted {
    missing: Vec<(dns::Zone, String, RrType)>,
    to_print: Vec<String>,
    present: usize,
}

async fn wanted(ctx: &StackContext, names: &[String], target: &str) -> Result<Wanted, StepError> {
    let mut wanted = Wanted {
        missing: Vec::new(),
        to_print: Vec::new(),
        present: 0,
    };
    let target = target.trim_end_matches('.').to_ascii_lowercase();
    for name in names {
        let Some(zone) = dns::zone_for(ctx, name).await? else {
            wanted
                .to_print
                .push(format!("CNAME {} -> {target}", dns::fqdn(name)));
            continue;
        };
        for kind in KINDS {
            match dns::live(ctx, &zone, name, kind.clone()).await? {
                Some(record) if dns::target(&record) == target => wanted.present += 1,
                Some(record) => {
                    return Err(StepError::msg(format!(
                        "{kind} {} in zone {} already points to {}, not this stack's distribution {target}: cattube does not write over it",
                        dns::fqdn(name),
                        zone.name,
                        dns::target(&record)
                    )))
                }
                None => wanted.missing.push((zone.clone(), name.clone(), kind)),
            }
        }
    }
    // A CNAME at the name would make an alias record impossible: Route 53 says so itself.
    Ok(wanted)
}

#[async_trait]
impl Step for DomainRecords {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn shown_name(&self, ctx: &StackContext) -> String {
        ctx.settings
            .domain
            .as_ref()
            .map(|d| d.names().join(", "))
            .unwrap_or_else(|| "DNS records".to_string())
    }

    fn wanted(&self, settings: &Settings) -> bool {
        settings.domain.is_some()
    }

    fn unwanted_reason(&self) -> &'static str {
        "not configured ([domain] name is not set)"
    }

    /// Records carry no tags: the stack's are the alias records, in the account's zones,
    /// of the names its (tagged) distribution answers for, pointing at that distribution.
    async fn find_owned(&self, ctx: &StackContext) -> Result<Vec<crate::step::Found>, StepError> {
        let Some((names, target)) = attached(ctx).await? else {
            return Ok(Vec::new());
        };
        let target = target.trim_end_matches('.').to_ascii_lowercase();
        let mut found = Vec::new();
        for name in names {
            let Some(zone) = dns::zone_for(ctx, &name).await? else {
                continue;
            };
            for kind in KINDS {
                let record = dns::live(ctx, &zone, &name, kind.clone()).await?;
                if record.is_some_and(|r| dns::target(&r) == target) {
                    found.push(crate::step::Found {
                        name: format!("{kind} {}", dns::fqdn(&name)),
                        arn: format!("arn:{}:route53:::hostedzone/{}", ctx.partition(), zone.id),
                    });
                }
            }
        }
        Ok(found)
    }

    async fn observe(&self, ctx: &ObserveContext<'_>) -> StepResult<Observation> {
        let name = self.shown_name(ctx);
        // Without `[domain]` only what the state says was written is looked at: no call.
        let attached = match ctx.settings.domain {
            Some(_) => attached(ctx).await?,
            None => None,
        };
        let Some((names, target)) = attached else {
            // Nothing to point yet (or any more): what the state says was written stands.
            return Ok(match ctx.recorded.filter(|r| r.extra.contains_key(WROTE)) {
                Some(r) => Observation::Present(Present::ours(name, r.arn.clone(), Vec::new())),
                None => Observation::Missing,
            });
        };
        let wanted = wanted(ctx, &names, &target).await?;
        if wanted.present == 0 && wanted.to_print.is_empty() {
            return Ok(Observation::Missing);
        }
        let mut drift = Vec::new();
        if !wanted.missing.is_empty() {
            let shown: Vec<String> = wanted
                .missing
                .iter()
                .map(|(_, n, k)| format!("{k} {}", dns::fqdn(n)))
                .collect();
            drift.push(Drift::new(
                DRIFT_RECORDS,
                format!("missing: {}", shown.join(", ")),
            ));
        }
        let pending = (!wanted.to_print.is_empty()).then(|| {
            format!(
                "no Route 53 hosted zone of this account holds these names: create {}",
                wanted.to_print.join("; ")
            )
        });
        // The records point at this stack's distribution: the stack's to keep or delete.
        Ok(Observation::Present(Present {
            pending,
            ..Present::ours(name, "", drift)
        }))
    }

    async fn apply(&self, ctx: &ApplyContext<'_>) -> StepResult<Applied> {
        let mut applied = Applied::default();
        let Some((names, target)) = attached(ctx).await? else {
            applied.notice = Some(
                "waiting for the certificate: the records are written once the distribution answers for the domain"
                    .to_string(),
            );
            return Ok(applied);
        };
        let wanted = wanted(ctx, &names, &target).await?;
        let mut by_zone: BTreeMap<String, (dns::Zone, Vec<_>)> = BTreeMap::new();
        let mut wrote = Vec::new();
        for (zone, name, kind) in wanted.missing {
            let record = dns::alias(&name, kind.clone(), &target)?;
            by_zone
                .entry(zone.id.clone())
                .or_insert_with(|| (zone, Vec::new()))
                .1
                .push(record);
            wrote.push((kind, name));
        }
        for (zone, records) in by_zone.into_values() {
            let count = records.len();
            dns::change(ctx, &zone, ChangeAction::Create, records).await?;
            applied.changes.push(format!(
                "wrote {count} alias record(s) to {target} in zone {}",
                zone.name
            ));
        }
        if !wanted.to_print.is_empty() {
            applied.notice = Some(format!(
                "no Route 53 hosted zone of this account holds these names; create at the domain's DNS provider: {}",
                wanted.to_print.join("; ")
            ));
        }
        if !wrote.is_empty() {
            applied
                .extra
                .insert(WROTE.to_string(), dns::remembered(&wrote));
        }
        Ok(applied)
    }

    async fn destroy(&self, ctx: &DestroyContext<'_>) -> StepResult<Destroyed> {
        let Some(wrote) = ctx.recorded.and_then(|r| r.extra.get(WROTE)) else {
            return Ok(Destroyed::AlreadyGone);
        };
        // Deleted as they are, while they still point at a CloudFront distribution: one
        // pointed elsewhere since is someone else's now.
        let deleted =
            dns::delete_remembered(ctx, wrote, |_, target| target.ends_with(".cloudfront.net"))
                .await?;
        Ok(if deleted == 0 {
            Destroyed::AlreadyGone
        } else {
            Destroyed::Deleted
        })
    }
}
