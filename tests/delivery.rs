//! Stage 6 and its teardown (stage 9) against moto's server, through the built binary: the
//! origin access control, the distribution and the destination bucket's policy, their drift,
//! its repair, and a `down` (also `--no-wait` then `down`) that leaves nothing behind.
//!
//! What moto cannot show is covered by the aws-smithy-mocks tests in
//! `stages/tests/delivery.rs`: moto deletes an enabled distribution (no
//! DistributionNotDisabled), ignores ETags, never refuses to delete an OAC in use, and says
//! `Deployed` right after a create. moto also drops `OriginAccessControlId` from origins;
//! the test launcher (`tests/support/moto_server.py`) keeps it, so the OAC link is checked
//! here for real.

use crate::support;

use aws_sdk_cloudfront::types::ViewerProtocolPolicy;
use support::distribution::{cloudfront_client, distribution_config, edit_distribution};
use support::{
    assert_account_empty, assert_drifted, bucket_policy, down_leaves_nothing, has_stack_tag,
    lambda_notifications, put_bucket_policy, resource, s3_client, Emulators,
};

use support::names::{DESTINATION, REGION, SOURCE};

#[tokio::test(flavor = "multi_thread")]
async fn delivery_lifecycle() {
    // Every request of both emulators, as the full stack now needs MediaConvert too.
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let cf = cloudfront_client(&emulators.moto.url).await;

    // up from nothing.
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    for id in [
        "source-bucket",
        "destination-bucket",
        "origin-access-control",
        "distribution",
        "destination-bucket-policy",
    ] {
        let r = resource(&doc, id);
        assert_eq!(r["action"], "create", "{id}: {r}");
        assert_eq!(r["status"], "ok", "{id}: {r}");
    }
    assert_eq!(
        resource(&doc, "origin-access-control")["name"],
        "cattube-eu-west-1-oac"
    );
    let dist_id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();
    let domain = doc["outputs"]["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(domain.ends_with(".cloudfront.net"), "{domain}");
    assert!(doc["outputs"]["distribution_status"].is_string());
    eprintln!(
        "full up: {} requests, {} writes",
        emulators.requests().len(),
        emulators.writes().len()
    );
    let delivery = Delivery {
        emulators,
        sandbox,
        s3,
        cf,
    };
    let (oac_id, policy) = what_up_made_reads_back_right(&delivery, &dist_id).await;
    a_converged_up_writes_nothing_and_says_where_videos_play(&delivery, &domain);
    drift_by_hand_is_named(&delivery, &dist_id, &policy).await;
    up_repairs_exactly_the_drift(&delivery, &dist_id, &oac_id).await;

    let Delivery {
        emulators, sandbox, ..
    } = &delivery;
    // down removes everything, in reverse.
    let doc = down_leaves_nothing(emulators, sandbox).await.doc;
    assert!(
        doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            // The optional resources are not configured here (no `[notify]`, no
            // `[uploads]`): nothing to delete.
            .all(|r| r["action"]
                == if support::WANTED_BY_DEFAULT.contains(&r["id"].as_str().unwrap()) {
                    "delete"
                } else {
                    "none"
                }),
        "{doc}"
    );
    assert_account_empty(emulators, REGION).await;
    assert!(!sandbox.path().join("cattube.state.json").exists());
}

/// The stack [`delivery_lifecycle`] walks, and the test's own clients.
struct Delivery {
    emulators: Emulators,
    sandbox: support::Sandbox,
    s3: aws_sdk_s3::Client,
    cf: aws_sdk_cloudfront::Client,
}

/// What was created, read back: returns the origin access control's id and the bucket
/// policy as `up` wrote it.
async fn what_up_made_reads_back_right(
    delivery: &Delivery,
    dist_id: &str,
) -> (String, serde_json::Value) {
    let Delivery {
        sandbox, s3, cf, ..
    } = delivery;
    // What was created, read back from the emulator.
    let config = distribution_config(cf, dist_id).await;
    let origin = &config.origins().unwrap().items()[0];
    assert_eq!(
        origin.domain_name(),
        format!("{DESTINATION}.s3.{REGION}.amazonaws.com")
    );
    let oac_id = origin
        .origin_access_control_id()
        .unwrap_or_default()
        .to_string();
    assert!(!oac_id.is_empty(), "the origin uses the OAC");
    assert_eq!(
        origin
            .s3_origin_config()
            .map(|s| s.origin_access_identity()),
        Some(""),
        "no legacy OAI"
    );
    let oac = cf
        .get_origin_access_control()
        .id(&oac_id)
        .send()
        .await
        .unwrap();
    let oac = oac
        .origin_access_control()
        .unwrap()
        .origin_access_control_config()
        .unwrap();
    assert_eq!(
        (
            oac.name(),
            oac.signing_protocol().as_str(),
            oac.signing_behavior().as_str(),
            oac.origin_access_control_origin_type().as_str()
        ),
        ("cattube-eu-west-1-oac", "sigv4", "always", "s3")
    );
    let behavior = config.default_cache_behavior().unwrap();
    assert_eq!(
        behavior.viewer_protocol_policy(),
        &ViewerProtocolPolicy::RedirectToHttps
    );
    assert_eq!(
        behavior.cache_policy_id(),
        Some("658327ea-f89d-4fab-a63d-7e88639e58f6")
    );
    let methods: Vec<&str> = behavior
        .allowed_methods()
        .unwrap()
        .items()
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(methods, ["GET", "HEAD"]);
    assert_eq!(config.http_version().unwrap().as_str(), "http2and3");
    assert_eq!(config.is_ipv6_enabled(), Some(true));
    assert_eq!(config.price_class().unwrap().as_str(), "PriceClass_All");
    assert_eq!(config.comment(), "cattube stack cattube (eu-west-1)");
    assert!(config.enabled());
    let dist_arn = format!("arn:aws:cloudfront::123456789012:distribution/{dist_id}");
    let tags = cf
        .list_tags_for_resource()
        .resource(&dist_arn)
        .send()
        .await
        .unwrap();
    let items = tags.tags().unwrap().items();
    assert!(has_stack_tag(items.iter().map(|t| (t.key(), t.value()))));
    let policy = bucket_policy(s3, DESTINATION).await;
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(
        statements.len(),
        3,
        "TLS-only, CloudFront read and no claims for CloudFront: {policy}"
    );
    let no_claims = statements
        .iter()
        .find(|s| s["Sid"] == "cattube-cloudfront-no-claims")
        .unwrap();
    assert_eq!(no_claims["Effect"], "Deny");
    assert_eq!(
        no_claims["Resource"],
        format!("arn:aws:s3:::{DESTINATION}/_cattube/claims/*")
    );
    let read = statements
        .iter()
        .find(|s| s["Sid"] == "cattube-cloudfront-read")
        .unwrap();
    assert_eq!(read["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(read["Action"], "s3:GetObject");
    assert_eq!(read["Resource"], format!("arn:aws:s3:::{DESTINATION}/*"));
    assert_eq!(read["Condition"]["StringEquals"]["AWS:SourceArn"], dist_arn);
    let state = std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap();
    assert!(state.contains(dist_id), "the distribution id is recorded");
    (oac_id, policy)
}

fn a_converged_up_writes_nothing_and_says_where_videos_play(delivery: &Delivery, domain: &str) {
    let Delivery {
        emulators, sandbox, ..
    } = delivery;
    // status: all ok.
    sandbox.run().args(["status"]).expect_code(0).json();

    // A converged up makes no write, and the text summary ends with where videos play.
    emulators.reset();
    let out = sandbox.run().arg("up").output();
    assert_eq!(out.code, Some(0));
    let writes = emulators.writes();
    assert!(writes.is_empty(), "a converged up wrote: {writes:?}");
    eprintln!(
        "converged up: {} requests, {} writes",
        emulators.requests().len(),
        writes.len()
    );
    let text = out.stdout.as_str().to_string();
    assert!(
        text.trim_end().ends_with(&format!(
            "playback URLs: https://{domain}/<output> (`cattube url <key>` names them)"
        )),
        "{text}"
    );
}

async fn drift_by_hand_is_named(delivery: &Delivery, dist_id: &str, policy: &serde_json::Value) {
    let Delivery {
        sandbox, s3, cf, ..
    } = delivery;
    // Drift, by hand: viewer policy allow-all, OAC detached, distribution disabled…
    edit_distribution(cf, dist_id, |changed| {
        changed.enabled = false;
        changed
            .default_cache_behavior
            .as_mut()
            .unwrap()
            .viewer_protocol_policy = ViewerProtocolPolicy::AllowAll;
        changed.origins.as_mut().unwrap().items[0].origin_access_control_id = None;
    })
    .await;
    // …and the bucket policy widened to another account.
    let mut widened = policy.clone();
    widened["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "someone", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{DESTINATION}/*")
        }));
    put_bucket_policy(s3, DESTINATION, &widened.to_string()).await;

    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    for needle in [
        "viewer protocol policy is allow-all",
        "distribution is disabled",
        "origin access control detached",
    ] {
        assert_drifted(&doc, "distribution", needle);
    }
    assert_drifted(&doc, "destination-bucket-policy", "bucket policy widened");
    assert_eq!(resource(&doc, "origin-access-control")["status"], "ok");
}

async fn up_repairs_exactly_the_drift(delivery: &Delivery, dist_id: &str, oac_id: &str) {
    let Delivery {
        emulators,
        sandbox,
        s3,
        cf,
        ..
    } = delivery;
    // up repairs exactly that: one distribution update, one policy write.
    emulators.reset();
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    assert_eq!(resource(&doc, "distribution")["action"], "update");
    assert_eq!(
        resource(&doc, "destination-bucket-policy")["action"],
        "update"
    );
    let writes = emulators.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    sandbox.run().args(["status"]).expect_code(0).json();
    let config = distribution_config(cf, dist_id).await;
    assert!(config.enabled());
    assert_eq!(
        config.origins().unwrap().items()[0].origin_access_control_id(),
        Some(oac_id)
    );
    let policy = bucket_policy(s3, DESTINATION).await;
    assert!(!policy.contains("someone"), "{policy}");
    assert!(
        policy.contains("cattube-deny-insecure-transport")
            && policy.contains("cattube-cloudfront-read"),
        "{policy}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn down_no_wait_then_down() {
    let emulators = Emulators::start();
    let moto = &emulators.moto;
    let sandbox = emulators.sandbox(REGION);
    let cf = cloudfront_client(&moto.url).await;
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let dist_id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();

    // --no-wait: the distribution is disabled and recorded; what it uses waits for it.
    let doc = sandbox
        .run()
        .args(["down", "--yes", "--no-wait"])
        .expect_code(0)
        .json()
        .doc;
    for id in [
        "distribution",
        "origin-access-control",
        "destination-bucket",
    ] {
        assert_eq!(resource(&doc, id)["status"], "pending", "{id}: {doc}");
    }
    assert_eq!(
        resource(&doc, "destination-bucket-policy")["action"],
        "delete"
    );
    assert_eq!(resource(&doc, "source-bucket")["status"], "missing");
    assert!(!distribution_config(&cf, &dist_id).await.enabled());
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        state["resources"]["distribution"]["extra"]["disabling"],
        "true"
    );
    // The source bucket (nothing waits on it) is really gone, not just reported so.
    let head = s3_client(&moto.url, REGION)
        .await
        .head_bucket()
        .bucket(SOURCE)
        .send()
        .await;
    assert!(
        head.as_ref()
            .is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_not_found())),
        "the source bucket is still there: {head:?}"
    );

    // status says why the distribution is disabled.
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert_drifted(&doc, "distribution", "down --no-wait");

    // The next down finishes.
    sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    assert_account_empty(&emulators, REGION).await;
    assert!(!sandbox.path().join("cattube.state.json").exists());
}

/// `[trigger] suffixes` gives one notification entry per suffix; a multipart upload whose
/// part fails is aborted (no parts left stored, no object); `down --keep-buckets` removes
/// everything but the two buckets, and a later `down` removes those too.
#[tokio::test(flavor = "multi_thread")]
async fn suffixes_a_failed_multipart_upload_and_keep_buckets() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    sandbox.write(
        "cattube.toml",
        "[trigger]\nsuffixes = [\".mp4\", \".mov\"]\n",
    );
    sandbox.run().args(["up"]).expect_code(0).json();

    let mut entries: Vec<(String, Vec<String>)> = lambda_notifications(&s3, SOURCE)
        .await
        .iter()
        .map(|c| {
            let rules = c
                .filter()
                .and_then(|f| f.key())
                .map(|k| k.filter_rules())
                .unwrap_or_default();
            (
                c.id().unwrap_or_default().to_string(),
                rules
                    .iter()
                    .map(|r| format!("{:?}={}", r.name(), r.value().unwrap_or_default()))
                    .collect(),
            )
        })
        .collect();
    entries.sort();
    assert_eq!(
        entries
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["cattube-notifications", "cattube-notifications-2"]
    );
    let suffixes: Vec<String> = entries.iter().flat_map(|(_, r)| r.clone()).collect();
    assert!(
        suffixes.len() == 2
            && suffixes.iter().any(|r| r.ends_with("=.mp4"))
            && suffixes.iter().any(|r| r.ends_with("=.mov")),
        "{entries:?}"
    );

    // A 17 MiB file goes up in parts; the second part is refused (AccessDenied, not
    // retried): the upload fails and is aborted.
    let big = vec![7u8; 17 * 1024 * 1024];
    std::fs::write(sandbox.path().join("big.mp4"), &big).unwrap();
    emulators.faults.clear();
    sandbox
        .run()
        .args(["upload", "big.mp4"])
        .expect_code(0)
        .json();
    let parts: Vec<String> = emulators
        .faults
        .operations()
        .into_iter()
        .filter(|op| op.contains("partNumber"))
        .collect();
    assert!(parts.len() >= 2, "not a multipart upload: {parts:?}");
    s3.delete_object()
        .bucket(SOURCE)
        .key("big.mp4")
        .send()
        .await
        .unwrap();
    emulators.faults.fail_operation(&parts[1]);
    let doc = sandbox
        .run()
        .args(["upload", "big.mp4"])
        .expect_code(1)
        .json()
        .doc;
    assert_eq!(emulators.faults.denied(), std::slice::from_ref(&parts[1]));
    assert!(
        doc["error"]
            .to_string()
            .contains("the multipart upload was aborted"),
        "{doc}"
    );
    emulators.faults.clear();
    let unfinished = s3
        .list_multipart_uploads()
        .bucket(SOURCE)
        .send()
        .await
        .unwrap();
    assert!(
        unfinished.uploads().is_empty(),
        "parts left stored: {:?}",
        unfinished.uploads()
    );
    let head = s3.head_object().bucket(SOURCE).key("big.mp4").send().await;
    assert!(head.is_err(), "the failed upload left an object");

    // --keep-buckets: everything else goes, the buckets stay (with their objects): the
    // videos, and the failed deliveries' records `jobs --retry-failed` replays.
    support::put_object(&s3, DESTINATION, "cats/kept.mp4", b"kept").await;
    sandbox
        .run()
        .args(["down", "--yes", "--keep-buckets"])
        .expect_code(0)
        .json();
    let mut left = support::leftovers(&emulators, REGION).await;
    left.sort();
    assert_eq!(
        left,
        [
            format!("destination-bucket {DESTINATION}"),
            "failures-bucket cattube-failures-123456789012-eu-west-1".to_string(),
            format!("source-bucket {SOURCE}")
        ]
    );
    s3.head_object()
        .bucket(DESTINATION)
        .key("cats/kept.mp4")
        .send()
        .await
        .expect("--keep-buckets kept the videos");
    sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    assert_account_empty(&emulators, REGION).await;
}
