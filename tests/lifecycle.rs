//! The whole life of a stack against moto's server, through the built binary:
//! up → status → up (no writes) → drift → status (3) → up (repairs) → down → nothing left.

mod support;

use aws_sdk_s3::types::{
    BucketVersioningStatus, PublicAccessBlockConfiguration, VersioningConfiguration,
};
use support::{json, s3_client, Moto, RecordingProxy, Sandbox};

const REGION: &str = "eu-west-1";
const SOURCE: &str = "cattube-source-123456789012-eu-west-1";
const DESTINATION: &str = "cattube-destination-123456789012-eu-west-1";

fn resource<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {doc}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_lifecycle() {
    let moto = Moto::start();
    let proxy = RecordingProxy::start(&moto.url);
    let sandbox = Sandbox::new(&proxy.url, REGION);
    let s3 = s3_client(&moto.url, REGION).await;

    // up from nothing creates both buckets with their secure settings.
    let out = sandbox
        .cattube()
        .args(["--output", "json", "up"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(doc["command"], "up");
    assert_eq!(doc["account"], "123456789012");
    assert_eq!(doc["error"], serde_json::Value::Null);
    for (id, stage, name) in [
        ("source-bucket", "1", SOURCE),
        ("destination-bucket", "2", DESTINATION),
    ] {
        let r = resource(&doc, id);
        assert_eq!(
            (
                r["action"].as_str(),
                r["status"].as_str(),
                r["stage"].as_str()
            ),
            (Some("create"), Some("ok"), Some(stage))
        );
        assert_eq!(r["name"], name);
        assert_eq!(r["arn"], format!("arn:aws:s3:::{name}"));
    }
    assert_eq!(doc["outputs"]["source_bucket"], SOURCE);
    eprintln!(
        "full up: {} requests, {} writes",
        proxy.requests().len(),
        proxy.writes().len()
    );
    let pab = s3
        .get_public_access_block()
        .bucket(SOURCE)
        .send()
        .await
        .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .unwrap()
            .block_public_acls(),
        Some(true)
    );
    let policy = s3
        .get_bucket_policy()
        .bucket(DESTINATION)
        .send()
        .await
        .unwrap();
    assert!(policy.policy().unwrap().contains("aws:SecureTransport"));
    let tags = s3.get_bucket_tagging().bucket(SOURCE).send().await.unwrap();
    assert!(tags
        .tag_set()
        .iter()
        .any(|t| t.key() == "cattube:stack" && t.value() == "cattube"));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["resources"]["source-bucket"]["ownership"], "created");

    // status: everything ok.
    sandbox.cattube().arg("status").assert().code(0);

    // A converged up makes no write request at all.
    proxy.reset();
    let out = sandbox
        .cattube()
        .args(["--output", "json", "up"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(json(&out)["resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["action"] == "none"));
    let writes = proxy.writes();
    assert!(writes.is_empty(), "a converged up wrote: {writes:?}");
    eprintln!(
        "converged up: {} requests, 0 writes",
        proxy.requests().len()
    );

    // Drift: someone turns part of the public access block off.
    s3.put_public_access_block()
        .bucket(SOURCE)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let out = sandbox
        .cattube()
        .args(["--output", "json", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc = json(&out);
    let source = resource(&doc, "source-bucket");
    assert_eq!(source["status"], "drifted");
    let drift = source["drift"].to_string();
    assert!(
        drift.contains("BlockPublicAcls") && drift.contains("BlockPublicPolicy"),
        "{drift}"
    );
    assert_eq!(resource(&doc, "destination-bucket")["status"], "ok");
    let text = sandbox.cattube().arg("status").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("public access block off"));

    // plan names the repair and changes nothing.
    proxy.reset();
    let out = sandbox
        .cattube()
        .args(["--output", "json", "plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(resource(&json(&out), "source-bucket")["action"], "update");
    assert!(proxy.writes().is_empty());

    // up repairs exactly that.
    proxy.reset();
    let out = sandbox
        .cattube()
        .args(["--output", "json", "up"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(resource(&json(&out), "source-bucket")["action"], "update");
    let writes = proxy.writes();
    assert_eq!(writes.len(), 1, "one write repairs one drift: {writes:?}");
    assert!(
        writes[0].query.contains("publicAccessBlock"),
        "{}",
        writes[0]
    );
    sandbox.cattube().arg("status").assert().code(0);

    // Videos with history: versions and a delete marker.
    s3.put_bucket_versioning()
        .bucket(DESTINATION)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for body in ["one", "two", "three"] {
        s3.put_object()
            .bucket(DESTINATION)
            .key("cats/tabby cat-hd.mp4")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    s3.delete_object()
        .bucket(DESTINATION)
        .key("cats/tabby cat-hd.mp4")
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(SOURCE)
        .key("cats/tabby cat.mp4")
        .body(b"video".to_vec().into())
        .send()
        .await
        .unwrap();

    // down without a terminal and without --yes refuses and changes nothing.
    proxy.reset();
    sandbox.cattube().arg("down").assert().code(2);
    assert!(proxy.requests().is_empty());

    // down --yes removes both buckets, versions and all, and the state file.
    let out = sandbox
        .cattube()
        .args(["--output", "json", "down", "--yes"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert!(
        doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] == "delete"),
        "{doc}"
    );
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(
        buckets.buckets().is_empty(),
        "left behind: {:?}",
        buckets.buckets()
    );
    assert!(!sandbox.path().join("cattube.state.json").exists());

    // A second down has nothing to do and says so.
    let out = sandbox
        .cattube()
        .args(["--output", "json", "down", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(json(&out)["resources"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["action"] == "none"));
}

/// us-east-1 is the region whose CreateBucket must not carry a LocationConstraint; moto
/// refuses one, as S3 does.
#[tokio::test(flavor = "multi_thread")]
async fn us_east_1_and_custom_names() {
    let moto = Moto::start();
    let sandbox = Sandbox::new(&moto.url, "us-east-1");
    sandbox.write(
        "cattube.toml",
        "stack = \"demo\"\n[names]\nsource-bucket = \"demo-in\"\ndestination-bucket = \"demo-out\"\n[tags]\nteam = \"video\"\n",
    );
    let out = sandbox
        .cattube()
        .args(["--output", "json", "up"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(
        (doc["stack"].as_str(), doc["region"].as_str()),
        (Some("demo"), Some("us-east-1"))
    );
    let s3 = s3_client(&moto.url, "us-east-1").await;
    let tags = s3
        .get_bucket_tagging()
        .bucket("demo-out")
        .send()
        .await
        .unwrap();
    let has = |k: &str, v: &str| {
        tags.tag_set()
            .iter()
            .any(|t| t.key() == k && t.value() == v)
    };
    assert!(has("team", "video") && has("cattube:stack", "demo") && has("managed-by", "cattube"));
    sandbox.cattube().args(["down", "--yes"]).assert().code(0);
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
}

/// A bucket that existed before `up` is adopted: secured, reported, and kept by `down` with
/// its objects and its owner's policy statements.
#[tokio::test(flavor = "multi_thread")]
async fn adopted_bucket_survives_down() {
    let moto = Moto::start();
    let sandbox = Sandbox::new(&moto.url, REGION);
    let s3 = s3_client(&moto.url, REGION).await;
    s3.create_bucket()
        .bucket("my-videos")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let theirs = r#"{"Version":"2012-10-17","Statement":[{"Sid":"theirs","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::my-videos"}]}"#;
    s3.put_bucket_policy()
        .bucket("my-videos")
        .policy(theirs)
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("my-videos")
        .key("keep.mp4")
        .body(b"mine".to_vec().into())
        .send()
        .await
        .unwrap();
    sandbox.write("cattube.toml", "[names]\nsource-bucket = \"my-videos\"\n");

    let out = sandbox
        .cattube()
        .args(["--output", "json", "up"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(resource(&json(&out), "source-bucket")["action"], "update");
    let policy = s3
        .get_bucket_policy()
        .bucket("my-videos")
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("\"theirs\"") && policy.contains("cattube-deny-insecure-transport"),
        "{policy}"
    );
    let state = std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap();
    assert!(state.contains("\"adopted\""), "{state}");
    let status = sandbox.cattube().arg("status").output().unwrap();
    assert_eq!(status.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&status.stdout).contains("adopted"));

    let out = sandbox.cattube().args(["down", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("adopted"),
        "down says what it kept"
    );
    let kept = s3
        .get_object()
        .bucket("my-videos")
        .key("keep.mp4")
        .send()
        .await
        .unwrap();
    assert_eq!(
        kept.body.collect().await.unwrap().into_bytes().as_ref(),
        b"mine"
    );
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["my-videos".to_string()]);
}
