//! Leak checks: what is left of a stack, as its steps find it and in the whole account.

use std::collections::BTreeMap;

use cattube_stages::{Clients, Registry, StackContext};

use super::{stack_clients, stack_context, Emulators, Ran, Sandbox};

/// What is left of the default stack `cattube` in `region`: every registered step's
/// [`Step::find_owned`], so a new resource kind is covered by every leak check.
pub async fn leftovers(emulators: &Emulators, region: &str) -> Vec<String> {
    let registry = Registry::standard();
    let ctx = stack_context(emulators, region, "cattube", &BTreeMap::new(), &registry).await;
    found_owned(&registry, &ctx).await
}

/// `down --yes` in `sandbox` succeeds and leaves nothing of the default stack: the end of
/// every test that stands one up. What `down` did.
pub async fn down_leaves_nothing(emulators: &Emulators, sandbox: &Sandbox) -> Ran {
    let down = sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    let left = leftovers(emulators, &sandbox.region).await;
    assert!(left.is_empty(), "left behind {left:?}");
    down
}

/// What each step of `registry` finds of its own in the stack of `ctx`, one `id name` line each. A
/// lookup that fails is a line too: a leak check that cannot look must not pass.
pub async fn found_owned(registry: &Registry, ctx: &StackContext) -> Vec<String> {
    let mut left = Vec::new();
    for step in registry.steps() {
        match step.find_owned(ctx).await {
            Ok(found) => left.extend(found.iter().map(|f| format!("{} {}", step.id(), f.name))),
            Err(e) => left.push(format!("{} (cannot look: {e:#})", step.id())),
        }
    }
    left
}

/// Nothing of any kind the stack makes is left in the account ([`account_inventory`]).
pub async fn assert_account_empty(emulators: &Emulators, region: &str) {
    let left = account_inventory(emulators, region).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Everything of the stack's kinds in the whole emulated account, whoever owns it, one
/// `kind name` line each: buckets, CloudFront distributions and origin access controls, IAM
/// roles, Lambda functions, MediaConvert queues (but the account's `Default`) and job
/// templates. For what [`leftovers`] cannot tell: what someone else owns (adopted resources
/// that must survive `down`) and how many of a kind exist (a duplicate made by a crash).
pub async fn account_inventory(emulators: &Emulators, region: &str) -> Vec<String> {
    let Clients {
        s3,
        iam,
        lambda,
        mediaconvert,
        cloudfront,
        ..
    } = stack_clients(emulators, region).await;
    let mut left = Vec::new();
    for bucket in s3.list_buckets().send().await.unwrap().buckets() {
        left.push(format!("bucket {}", bucket.name().unwrap_or_default()));
    }
    let distributions = cloudfront.list_distributions().send().await.unwrap();
    if let Some(list) = distributions.distribution_list() {
        for d in list.items() {
            left.push(format!("distribution {}", d.id()));
        }
    }
    let oacs = cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    if let Some(list) = oacs.origin_access_control_list() {
        for o in list.items() {
            left.push(format!("origin-access-control {}", o.name()));
        }
    }
    for role in iam.list_roles().send().await.unwrap().roles() {
        left.push(format!("role {}", role.role_name()));
    }
    for function in lambda.list_functions().send().await.unwrap().functions() {
        left.push(format!(
            "function {}",
            function.function_name().unwrap_or_default()
        ));
    }
    for queue in mediaconvert.list_queues().send().await.unwrap().queues() {
        let name = queue.name().unwrap_or_default();
        if name != "Default" {
            left.push(format!("queue {name}"));
        }
    }
    for template in mediaconvert
        .list_job_templates()
        .send()
        .await
        .unwrap()
        .job_templates()
    {
        left.push(format!(
            "job-template {}",
            template.name().unwrap_or_default()
        ));
    }
    left
}
