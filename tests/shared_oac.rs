//! Many stacks per account (issue 26 item 3) against moto's server, through the built
//! binary: `[delivery] shared-oac` (or `CATTUBE_SHARED_OAC`) gives every stack of the account
//! one origin access control; `down` deletes it only when no distribution uses it, whoever
//! made that distribution; and `up` refuses, naming the quota, before creating anything when
//! the account is full. moto deletes an OAC in use; the launcher refuses as CloudFront does
//! (`tests/support/moto_server.py`).

use crate::support;

use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, Origin, OriginAccessControlConfig,
    OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors,
    OriginAccessControlSigningProtocols, Origins, S3OriginConfig, ViewerProtocolPolicy,
};
use support::aws_errors::AwsErrorReply;
use support::distribution::distribution_config;
use support::names::REGION;
use support::proxy::Answer;
use support::{resource, Emulators, Sandbox};

const SHARED: &str = cattube_stages::origin_access_control::SHARED_NAME;

async fn cloudfront(endpoint: &str) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&support::sdk_config(endpoint, "us-east-1").await)
}

/// Every OAC of the account: `(id, name)`.
async fn oacs(cf: &aws_sdk_cloudfront::Client) -> Vec<(String, String)> {
    let out = cf.list_origin_access_controls().send().await.unwrap();
    out.origin_access_control_list()
        .map(|l| {
            l.items()
                .iter()
                .map(|s| (s.id().to_string(), s.name().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A new OAC (SigV4, always, S3) named `name`: its id.
async fn create_oac(cf: &aws_sdk_cloudfront::Client, name: &str, description: &str) -> String {
    let config = OriginAccessControlConfig::builder()
        .name(name)
        .description(description)
        .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
        .signing_behavior(OriginAccessControlSigningBehaviors::Always)
        .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
        .build()
        .unwrap();
    let out = cf
        .create_origin_access_control()
        .origin_access_control_config(config)
        .send()
        .await
        .unwrap();
    out.origin_access_control().unwrap().id().to_string()
}

/// How a refusal names `quota` at its documented default.
fn refusal(quota: &cattube_stages::quota::Quota) -> String {
    format!(
        "\"{}\" ({}, the documented default)",
        quota.name, quota.default
    )
}

/// The OAC id of a distribution's first origin.
async fn oac_of(cf: &aws_sdk_cloudfront::Client, distribution: &str) -> String {
    distribution_config(cf, distribution)
        .await
        .origins()
        .unwrap()
        .items()[0]
        .origin_access_control_id()
        .unwrap_or_default()
        .to_string()
}

/// A distribution made outside cattube (no tags), whose origin uses OAC `oac`.
async fn foreign_distribution(cf: &aws_sdk_cloudfront::Client, oac: &str) -> String {
    foreign_distribution_numbered(cf, oac, 0).await
}

/// The `n`-th such distribution (each needs its own caller reference).
async fn foreign_distribution_numbered(
    cf: &aws_sdk_cloudfront::Client,
    oac: &str,
    n: u64,
) -> String {
    let origin = Origin::builder()
        .id("theirs")
        .domain_name("someone-elses-bucket.s3.eu-west-1.amazonaws.com")
        .origin_access_control_id(oac)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference(format!("not-cattube-{n}"))
        .comment("made by someone else")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("theirs")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let out = cf
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    out.distribution().unwrap().id().to_string()
}

/// A sandbox for stack `stack` sharing the emulators (its own working directory and state).
fn stack(emulators: &Emulators, stack: &str) -> Sandbox {
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &format!("stack = \"{stack}\"\n"));
    sandbox
}

#[tokio::test(flavor = "multi_thread")]
async fn two_stacks_share_one_oac_and_the_last_down_removes_it() {
    let emulators = Emulators::start();
    let cf = cloudfront(&emulators.moto.url).await;
    // One stack opts in in its file, the other through the account-wide variable CI sets.
    let alpha = stack(&emulators, "alpha");
    alpha.write(
        "cattube.toml",
        "stack = \"alpha\"\n[delivery]\nshared-oac = true\n",
    );
    let beta = stack(&emulators, "beta");
    let shared_env = ("CATTUBE_SHARED_OAC", "true");

    let plan = alpha.run().arg("plan").expect_code(3).json().doc;
    assert_eq!(resource(&plan, "origin-access-control")["name"], SHARED);

    let up_alpha = alpha.run().arg("up").expect_code(0).json().doc;
    let row = resource(&up_alpha, "origin-access-control");
    assert_eq!(
        (row["name"].as_str(), row["action"].as_str()),
        (Some(SHARED), Some("create"))
    );
    let up_beta = beta
        .run()
        .env(shared_env.0, shared_env.1)
        .arg("up")
        .expect_code(0)
        .json()
        .doc;
    let row = resource(&up_beta, "origin-access-control");
    assert_eq!(
        (
            row["name"].as_str(),
            row["action"].as_str(),
            row["status"].as_str()
        ),
        (Some(SHARED), Some("none"), Some("ok")),
        "beta uses the OAC alpha made: {row}"
    );

    let all = oacs(&cf).await;
    assert_eq!(all.len(), 1, "one OAC for two stacks: {all:?}");
    let shared_id = all[0].0.clone();
    let dist = |doc: &serde_json::Value| {
        doc["outputs"]["distribution_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (dist_alpha, dist_beta) = (dist(&up_alpha), dist(&up_beta));
    assert_ne!(dist_alpha, dist_beta);
    assert_eq!(oac_of(&cf, &dist_alpha).await, shared_id);
    assert_eq!(oac_of(&cf, &dist_beta).await, shared_id);

    // Converged: a second up of either writes nothing.
    beta.run()
        .env(shared_env.0, shared_env.1)
        .arg("up")
        .expect_read_only()
        .json();

    // The first down keeps it for beta, names who uses it, and forgets it.
    let down = alpha.run().args(["down", "--yes"]).expect_code(0).output();
    assert!(
        down.stdout
            .contains(&format!("shared: still used by distribution {dist_beta}")),
        "the note names beta's distribution: {}",
        down.text()
    );
    assert_eq!(oacs(&cf).await.len(), 1, "beta's OAC survives alpha's down");
    assert!(
        !alpha.path().join("cattube.state.json").exists(),
        "alpha is gone: no state left"
    );
    beta.run()
        .env(shared_env.0, shared_env.1)
        .arg("status")
        .expect_code(0)
        .json();

    // The last down removes it, even run without the setting: the state says it is shared.
    let down = beta.run().args(["down", "--yes"]).expect_code(0).json().doc;
    assert_eq!(resource(&down, "origin-access-control")["action"], "delete");
    assert_eq!(oacs(&cf).await, Vec::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oac_used_outside_cattube_is_never_deleted() {
    let emulators = Emulators::start();
    let cf = cloudfront(&emulators.moto.url).await;
    let alpha = stack(&emulators, "alpha");
    alpha
        .run()
        .env("CATTUBE_SHARED_OAC", "1")
        .arg("up")
        .expect_code(0)
        .json();
    let shared_id = oacs(&cf).await[0].0.clone();
    let theirs = foreign_distribution(&cf, &shared_id).await;

    let down = alpha
        .run()
        .env("CATTUBE_SHARED_OAC", "1")
        .args(["down", "--yes"])
        .expect_code(0)
        .json()
        .doc;
    let row = resource(&down, "origin-access-control");
    assert_eq!(
        (row["action"].as_str(), row["status"].as_str()),
        (Some("skip"), Some("ok")),
        "{row}"
    );
    assert_eq!(oacs(&cf).await.len(), 1, "their distribution keeps its OAC");
    assert_eq!(oac_of(&cf, &theirs).await, shared_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn up_refuses_naming_the_quota_before_creating_anything() {
    let emulators = Emulators::start();
    let cf = cloudfront(&emulators.moto.url).await;
    let quota = cattube_stages::quota::ORIGIN_ACCESS_CONTROLS;
    // The account holds as many OACs as the quota allows (the documented default: moto's
    // Service Quotas knows no CloudFront quota).
    for i in 0..quota.default {
        create_oac(&cf, &format!("someone-{i}"), "").await;
    }
    let sandbox = stack(&emulators, "full");
    for command in ["plan", "up"] {
        let ran = sandbox.run().arg(command).expect_refused().output();
        assert!(
            ran.stderr.contains(&refusal(&quota)) && ran.stderr.contains("shared-oac"),
            "{command} names the quota and the remedy: {}",
            ran.text()
        );
    }
    assert_eq!(oacs(&cf).await.len() as u64, quota.default);
    assert!(
        !sandbox.path().join("cattube.state.json").exists(),
        "nothing recorded"
    );

    // AWS raised the quota for this account: Service Quotas' applied value wins.
    emulators.faults.answer(Answer::new(
        AwsErrorReply::json_ok(serde_json::json!({ "Quotas": [{
            "ServiceCode": "cloudfront",
            "QuotaName": quota.name,
            "QuotaCode": "L-EXAMPLE",
            "Value": (quota.default + 1) as f64,
        }]})),
        usize::MAX,
        |service, _| service == "servicequotas",
    ));
    let ran = sandbox
        .run()
        .arg("plan")
        .expect_code(3)
        .expect_writes(0)
        .output();
    assert!(!ran.stderr.contains(quota.name), "{}", ran.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn up_refuses_when_the_shared_oac_serves_its_quota_of_distributions() {
    let emulators = Emulators::start();
    let cf = cloudfront(&emulators.moto.url).await;
    let quota = cattube_stages::quota::DISTRIBUTIONS_PER_ORIGIN_ACCESS_CONTROL;
    let description = cattube_stages::origin_access_control::SHARED_DESCRIPTION;
    let shared = create_oac(&cf, SHARED, description).await;
    for n in 0..quota.default {
        foreign_distribution_numbered(&cf, &shared, n).await;
    }
    let sandbox = stack(&emulators, "one-too-many");
    let ran = sandbox
        .run()
        .env("CATTUBE_SHARED_OAC", "true")
        .arg("up")
        .expect_refused()
        .output();
    assert!(ran.stderr.contains(&refusal(&quota)), "{}", ran.text());
}

#[test]
fn bad_shared_oac_settings_exit_2_naming_them() {
    let emulators = Emulators::start();
    let sandbox = stack(&emulators, "alpha");
    let ran = sandbox
        .run()
        .env("CATTUBE_SHARED_OAC", "maybe")
        .arg("plan")
        .expect_refused()
        .output();
    assert!(
        ran.stderr.contains("CATTUBE_SHARED_OAC: 'maybe'"),
        "{}",
        ran.text()
    );
    sandbox.write(
        "cattube.toml",
        "[delivery]\nshared-oac = true\n[names]\norigin-access-control = \"mine\"\n",
    );
    let ran = sandbox.run().arg("plan").expect_code(2).output();
    assert!(
        ran.stderr.contains("origin-access-control"),
        "{}",
        ran.text()
    );
    sandbox.write("cattube.toml", "[delivery]\nshared-oac = \"yes\"\n");
    let ran = sandbox.run().arg("plan").expect_code(2).output();
    assert!(ran.stderr.contains("shared-oac"), "{}", ran.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_stack_refuses_at_the_key_group_quota() {
    use aws_sdk_cloudfront::types::{KeyGroupConfig, PublicKeyConfig};
    let emulators = Emulators::start();
    let cf = cloudfront(&emulators.moto.url).await;
    let quota = cattube_stages::quota::KEY_GROUPS;
    // Someone else's key groups fill the account's quota (the documented default).
    let pair = cattube_stages::signing::generate().unwrap();
    let key = cf
        .create_public_key()
        .public_key_config(
            PublicKeyConfig::builder()
                .caller_reference("someone")
                .name("someone")
                .encoded_key(pair.public_pem)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let key_id = key.public_key().unwrap().id().to_string();
    for i in 0..quota.default {
        cf.create_key_group()
            .key_group_config(
                KeyGroupConfig::builder()
                    .name(format!("someone-{i}"))
                    .items(key_id.clone())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    let sandbox = stack(&emulators, "private");
    sandbox.write(
        "cattube.toml",
        "stack = \"private\"\n\n[delivery]\nprivate = true\n",
    );
    let ran = sandbox.run().arg("up").expect_refused().output();
    assert!(
        ran.stderr.contains(&refusal(&quota)),
        "up names the key-group quota: {}",
        ran.text()
    );
    let groups = cf.list_key_groups().send().await.unwrap();
    let count = groups.key_group_list().map_or(0, |l| l.items().len()) as u64;
    assert_eq!(count, quota.default, "no key group was added");
}
