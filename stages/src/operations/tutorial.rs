//! `cattube adopt --from-tutorial`: finds the console tutorial's hand-built stack (stages
//! 1-7 of `../shared/tutorial.md`) so that the stack can adopt it. Read only.
//!
//! By name (the session's resolved names, which the CLI fills from `examples/tutorial.toml`
//! and the flags): both buckets, the queue, the function (and from it the role the console
//! made for it). By what it points at: the distribution whose origin is the destination
//! bucket, the origin access control attached to that origin, the source bucket's event
//! entry that invokes the function. Also `MediaConvert_Default_Role`, which cattube replaces
//! with its own role and never touches.
//!
//! One finding per resource or a refusal (exit 2): two candidates for one resource, or none
//! for a resource the tutorial always makes, named together with everything found.

use aws_sdk_cloudfront::types::DistributionSummary;

use crate::error::{AwsContext, AwsError, AwsFound};
use crate::grant::{Grant, Target};
use crate::naming::ResourceId;
use crate::resources::iam_role::SHARED_ROLES;
use crate::step::{Ownership, Recorded, Service};
use crate::{
    arn, converter_function, converter_role, destination_bucket, distribution, mediaconvert_role,
    origin_access_control, queue, source_bucket, source_notification, StackContext, StepError,
};

/// What the stack adopts from the tutorial's stack, and what it replaces with its own.
#[derive(Clone, Debug, Default)]
pub struct Takeover {
    /// Each adopted resource's state record (ownership `Adopted`): its live name, ARN and,
    /// for CloudFront's generated ids, `extra["id"]`.
    pub adopted: Vec<(ResourceId, Recorded)>,
    /// What cattube replaces with a resource of its own, left in place.
    pub replaced: Vec<Replaced>,
}

/// A tutorial resource that a resource cattube creates takes the place of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replaced {
    /// The cattube resource that takes its place.
    pub by: ResourceId,
    /// `role`: what kind of thing it is, for the text.
    pub kind: &'static str,
    pub name: String,
    pub arn: String,
    /// Why cattube makes its own, and what happens to this one.
    pub reason: String,
}

impl Takeover {
    pub fn record(&self, id: ResourceId) -> Option<&Recorded> {
        self.adopted
            .iter()
            .find(|(adopted, _)| *adopted == id)
            .map(|(_, r)| r)
    }
}

fn adopted(name: impl Into<String>, arn: impl Into<String>) -> Recorded {
    Recorded {
        name: name.into(),
        arn: arn.into(),
        ownership: Ownership::Adopted,
        extra: Default::default(),
    }
}

/// What the search adopts and replaces, and for the one line of a refusal what it found and
/// what it did not.
#[derive(Default)]
struct Search {
    takeover: Takeover,
    found: Vec<String>,
    problems: Vec<String>,
}

impl Search {
    /// `what` was found, and the stack adopts it as `id`.
    fn adopt(&mut self, what: String, id: ResourceId, record: Recorded) {
        self.found.push(what);
        self.takeover.adopted.push((id, record));
    }

    fn refusal(self, ctx: &StackContext) -> StepError {
        let found = if self.found.is_empty() {
            "nothing".to_string()
        } else {
            self.found.join(", ")
        };
        StepError::refused(format!(
            "adopt --from-tutorial: {} in {} (found: {found}); nothing was changed",
            self.problems.join("; "),
            ctx.region
        ))
    }
}

/// A read of [`discover`]'s.
const fn reads(actions: &'static [&'static str], on: Target) -> Grant {
    Grant::observe(actions, on)
}

/// The reads of [`discover`], for `cattube permissions --for adopt`.
pub const DISCOVER: &[Grant] = &[
    // HeadBucket, for the bucket's region.
    reads(&["s3:ListBucket"], Target::Bucket(source_bucket::ID)),
    reads(&["s3:ListBucket"], Target::Bucket(destination_bucket::ID)),
    reads(
        &["s3:GetBucketNotification"],
        Target::Bucket(source_bucket::ID),
    ),
    reads(&["mediaconvert:GetQueue"], Target::Queue(queue::ID)),
    reads(
        &["lambda:GetFunctionConfiguration"],
        Target::Function(converter_function::ID),
    ),
    // `MediaConvert_Default_Role`, and the function's role, known only from the function.
    reads(&["iam:GetRole"], Target::Roles),
    // Listing the distributions, as the distribution's own lookup does (on `*`).
    crate::resources::distribution::LOOKUP[0],
    reads(
        &["cloudfront:GetOriginAccessControl"],
        Target::OriginAccessControls,
    ),
];

/// Finds the tutorial's stack under the session's names. Never writes.
pub async fn discover(ctx: &StackContext) -> Result<Takeover, StepError> {
    let mut search = Search::default();
    search.buckets(ctx).await?;
    search.queue(ctx).await?;
    let function_arn = search.function(ctx).await?;
    search.shared_roles(ctx).await?;
    if let Some(function_arn) = &function_arn {
        if search.takeover.record(source_bucket::ID).is_some() {
            search.notification(ctx, function_arn).await?;
        }
    }
    if search.takeover.record(destination_bucket::ID).is_some() {
        search.distribution(ctx).await?;
    }
    if !search.problems.is_empty() {
        return Err(search.refusal(ctx));
    }
    Ok(search.takeover)
}

impl Search {
    async fn buckets(&mut self, ctx: &StackContext) -> Result<(), StepError> {
        for (id, what, flag) in [
            (source_bucket::ID, "source bucket", "--source"),
            (
                destination_bucket::ID,
                "destination bucket",
                "--destination",
            ),
        ] {
            let name = ctx.name(id).to_string();
            match bucket_region(ctx, &name).await? {
                Some(region) if region == ctx.region => {
                    self.adopt(
                        format!("{what} {name}"),
                        id,
                        adopted(&name, arn::bucket(ctx, id)),
                    );
                }
                Some(region) => self.problems.push(format!(
                    "{what} {name} is in {region}, not here (pass --region {region})"
                )),
                None => self
                    .problems
                    .push(format!("no {what} named {name} ({flag} NAME)")),
            }
        }
        Ok(())
    }

    async fn queue(&mut self, ctx: &StackContext) -> Result<(), StepError> {
        let queue_name = ctx.name(queue::ID).to_string();
        match ctx
            .clients
            .mediaconvert
            .get_queue()
            .name(&queue_name)
            .send()
            .await
            .found(Service::MediaConvert, || {
                format!("reading MediaConvert queue {queue_name}")
            })? {
            Some(out) => {
                let arn = out
                    .queue()
                    .and_then(|q| q.arn())
                    .map(str::to_string)
                    .unwrap_or_else(|| arn::queue(ctx, queue::ID));
                self.adopt(
                    format!("queue {queue_name}"),
                    queue::ID,
                    adopted(&queue_name, arn),
                );
            }
            None => self.problems.push(format!(
                "no MediaConvert queue named {queue_name} (--queue NAME)"
            )),
        }
        Ok(())
    }

    /// The converter function, and the role the console made for it (replaced by
    /// cattube's); its ARN when found.
    async fn function(&mut self, ctx: &StackContext) -> Result<Option<String>, StepError> {
        let function = ctx.name(converter_function::ID).to_string();
        let Some(config) = ctx
            .clients
            .lambda
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
            .found(Service::Lambda, || {
                format!("reading Lambda function {function}")
            })?
        else {
            self.problems.push(format!(
                "no Lambda function named {function} (--function NAME)"
            ));
            return Ok(None);
        };
        let arn = config
            .function_arn()
            .map(str::to_string)
            .unwrap_or_else(|| arn::function(ctx, converter_function::ID));
        self.adopt(
            format!("function {function}"),
            converter_function::ID,
            adopted(&function, arn.clone()),
        );
        if let Some(role_arn) = config.role().filter(|r| !r.is_empty()) {
            let role = crate::arn::last_segment(role_arn).unwrap_or(role_arn);
            if role != ctx.name(converter_role::ID) {
                self.takeover.replaced.push(Replaced {
                    by: converter_role::ID,
                    kind: "role",
                    name: role.to_string(),
                    arn: role_arn.to_string(),
                    reason: format!(
                        "the function's role: cattube runs the function as its own \
                         least-privilege role {}; this one is left in place (`down` puts \
                         the function back on it)",
                        ctx.name(converter_role::ID)
                    ),
                });
            }
        }
        Ok(Some(arn))
    }

    async fn shared_roles(&mut self, ctx: &StackContext) -> Result<(), StepError> {
        for shared in SHARED_ROLES {
            let found = ctx
                .clients
                .iam
                .get_role()
                .role_name(*shared)
                .send()
                .await
                .found(Service::Iam, || format!("reading IAM role {shared}"))?;
            if let Some(out) = found {
                self.takeover.replaced.push(Replaced {
                    by: mediaconvert_role::ID,
                    kind: "role",
                    name: shared.to_string(),
                    arn: out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                    reason: format!(
                        "MediaConvert's account-wide default role: other jobs in the account \
                         may use it, so cattube never changes it and runs its jobs as its own \
                         least-privilege role {}",
                        ctx.name(mediaconvert_role::ID)
                    ),
                });
            }
        }
        Ok(())
    }

    /// The source bucket's one event entry that invokes the function.
    async fn notification(
        &mut self,
        ctx: &StackContext,
        function_arn: &str,
    ) -> Result<(), StepError> {
        match notification_entries(ctx, function_arn).await?.as_slice() {
            [] => {}
            [entry] => self.adopt(
                format!("event notification {entry}"),
                source_notification::ID,
                adopted(
                    entry,
                    format!("{}#{entry}", arn::bucket(ctx, source_bucket::ID)),
                ),
            ),
            several => self.problems.push(format!(
                "{} event notifications of bucket {} invoke {} ({}): cattube keeps one",
                several.len(),
                ctx.name(source_bucket::ID),
                ctx.name(converter_function::ID),
                several.join(", ")
            )),
        }
        Ok(())
    }

    /// The one distribution whose origin is the destination bucket, and its origin access
    /// control.
    async fn distribution(&mut self, ctx: &StackContext) -> Result<(), StepError> {
        let bucket = ctx.name(destination_bucket::ID);
        match distributions_of(ctx, bucket).await?.as_slice() {
            [] => self.problems.push(format!(
                "no CloudFront distribution has bucket {bucket} as its origin"
            )),
            [(dist, oac)] => {
                let mut record = adopted(dist.domain_name(), dist.arn());
                record.extra.insert("id".into(), dist.id().to_string());
                self.adopt(
                    format!("distribution {} ({})", dist.id(), dist.domain_name()),
                    distribution::ID,
                    record,
                );
                if let Some(oac) = oac {
                    let name = oac_name(ctx, oac).await?;
                    let mut record = adopted(
                        &name,
                        format!(
                            "arn:{}:cloudfront::{}:origin-access-control/{oac}",
                            ctx.partition(),
                            ctx.account
                        ),
                    );
                    record.extra.insert("id".into(), oac.clone());
                    self.adopt(
                        format!("origin access control {name} ({oac})"),
                        origin_access_control::ID,
                        record,
                    );
                }
            }
            several => self.problems.push(format!(
                "{} CloudFront distributions have bucket {bucket} as their origin ({}): \
                 cattube adopts one; delete or re-point the others",
                several.len(),
                several
                    .iter()
                    .map(|(d, _)| format!("{} {}", d.id(), d.domain_name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        Ok(())
    }
}

/// The region of a bucket of this account, `None` when there is none by that name (or it is
/// someone else's).
async fn bucket_region(ctx: &StackContext, bucket: &str) -> Result<Option<String>, StepError> {
    match ctx
        .clients
        .s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(&ctx.account)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.bucket_region()
                .map(str::to_string)
                .unwrap_or_else(|| ctx.region.clone()),
        )),
        // 403: another account's bucket by that name; 301: this account's, in another
        // region (HeadBucket says where in its x-amz-bucket-region header).
        Err(e) => {
            let region = e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_string);
            let status = e.raw_response().map(|r| r.status().as_u16());
            match (status, region) {
                (Some(301), Some(region)) => Ok(Some(region)),
                (Some(404 | 403), _) => Ok(None),
                _ if Service::S3.not_found(&e) => Ok(None),
                _ => Err(StepError::with_source(
                    format!("looking for bucket {bucket}"),
                    AwsError::from_sdk(&e),
                )),
            }
        }
    }
}

/// The ids of the source bucket's event entries that invoke the function.
async fn notification_entries(
    ctx: &StackContext,
    function_arn: &str,
) -> Result<Vec<String>, StepError> {
    let Some(current) = source_notification::read(ctx).await? else {
        return Ok(Vec::new());
    };
    // An entry may name the function by its unqualified ARN or with `:$LATEST`.
    let invokes =
        |arn: &str| arn == function_arn || arn.strip_suffix(":$LATEST") == Some(function_arn);
    Ok(current
        .lambda_function_configurations()
        .iter()
        .filter(|c| invokes(c.lambda_function_arn()))
        .map(|c| c.id().unwrap_or_default().to_string())
        .collect())
}

/// The S3 domains CloudFront's console offers for a bucket as an origin.
fn bucket_domains(bucket: &str, region: &str) -> [String; 3] {
    [
        format!("{bucket}.s3.{region}.amazonaws.com"),
        format!("{bucket}.s3.amazonaws.com"),
        format!("{bucket}.s3-{region}.amazonaws.com"),
    ]
}

/// Every distribution with an origin on `bucket`, and the OAC attached to that origin.
async fn distributions_of(
    ctx: &StackContext,
    bucket: &str,
) -> Result<Vec<(DistributionSummary, Option<String>)>, StepError> {
    let domains = bucket_domains(bucket, &ctx.region);
    let mut found = Vec::new();
    for summary in crate::aws::all_distributions(&ctx.clients.cloudfront).await? {
        let origin = summary.origins().and_then(|o| {
            o.items()
                .iter()
                .find(|o| domains.iter().any(|d| d == o.domain_name()))
        });
        let oac = origin.map(|origin| {
            origin
                .origin_access_control_id()
                .filter(|id| !id.is_empty())
                .map(str::to_string)
        });
        if let Some(oac) = oac {
            found.push((summary, oac));
        }
    }
    Ok(found)
}

async fn oac_name(ctx: &StackContext, id: &str) -> Result<String, StepError> {
    let out = ctx
        .clients
        .cloudfront
        .get_origin_access_control()
        .id(id)
        .send()
        .await
        .context(|| format!("reading origin access control {id}"))?;
    out.origin_access_control()
        .and_then(|o| o.origin_access_control_config())
        .map(|c| c.name().to_string())
        .ok_or_else(|| StepError::msg(format!("origin access control {id} has no configuration")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consoles_origin_domains_for_a_bucket() {
        let domains = bucket_domains("cattube-destination", "ap-southeast-2");
        assert!(domains.contains(&"cattube-destination.s3.ap-southeast-2.amazonaws.com".into()));
        assert!(domains.contains(&"cattube-destination.s3.amazonaws.com".into()));
    }
}
