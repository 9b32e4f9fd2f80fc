//! The `player-page` resource and what goes with it, against moto through the built binary:
//! the page and its assets in the destination bucket (Content-Type, Cache-Control, the
//! SHA-256 in their metadata), uploaded only when their bytes change, the distribution's
//! default root object (created, its drift seen and repaired), `[player] enabled = false`
//! (no page, CloudFront denied `catalog.json`), and `down` leaving none of it.
//! The page itself in a browser: tests/browser.rs.

use crate::support;

use aws_sdk_cloudfront::types::DistributionConfig;
use cattube_stages::player_page::{sha256_hex, FILES};
use support::{leftovers, resource, s3_client, Emulators};

const REGION: &str = "eu-west-1";
const DESTINATION: &str = "cattube-destination-123456789012-eu-west-1";

async fn cloudfront_client(endpoint: &str) -> aws_sdk_cloudfront::Client {
    let config = support::sdk_config(endpoint, "us-east-1").await;
    aws_sdk_cloudfront::Client::new(&config)
}

async fn distribution(cf: &aws_sdk_cloudfront::Client, id: &str) -> (DistributionConfig, String) {
    let got = cf.get_distribution_config().id(id).send().await.unwrap();
    (
        got.distribution_config().cloned().unwrap(),
        got.e_tag().unwrap().to_string(),
    )
}

async fn policy(s3: &aws_sdk_s3::Client) -> serde_json::Value {
    let text = s3
        .get_bucket_policy()
        .bucket(DESTINATION)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .to_string();
    serde_json::from_str(&text).unwrap()
}

fn has_sid(policy: &serde_json::Value, sid: &str) -> Option<serde_json::Value> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .cloned()
}

async fn page_keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let mut keys = Vec::new();
    for file in FILES {
        if s3
            .head_object()
            .bucket(DESTINATION)
            .key(file.key)
            .send()
            .await
            .is_ok()
        {
            keys.push(file.key.to_string());
        }
    }
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_uploaded_once_served_at_the_root_and_removed() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let cf = cloudfront_client(&emulators.moto.url).await;

    let out = sandbox.run().args(["up"]).expect_code(0).output();
    let text = out.text();
    let doc: serde_json::Value = {
        let out = sandbox.run().args(["status"]).expect_code(0).json();
        out.doc
    };
    assert_eq!(resource(&doc, "player-page")["status"], "ok", "{doc}");
    let domain = doc["outputs"]["distribution_domain"].as_str().unwrap();
    assert_eq!(doc["outputs"]["player_url"], format!("https://{domain}/"));
    // `up` says plainly what the catalog makes public.
    assert!(
        text.contains(&format!("player: https://{domain}/"))
            && text.contains("lists every video to anyone with the URL"),
        "{text}"
    );

    for file in FILES {
        let head = s3
            .head_object()
            .bucket(DESTINATION)
            .key(file.key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} not uploaded: {e:?}", file.key));
        assert_eq!(head.content_type(), Some(file.content_type), "{}", file.key);
        assert_eq!(
            head.cache_control(),
            Some(file.cache_control),
            "{}",
            file.key
        );
        assert_eq!(
            head.metadata().unwrap().get("cattube-sha256"),
            Some(&sha256_hex(file.bytes)),
            "{}",
            file.key
        );
        let body = s3
            .get_object()
            .bucket(DESTINATION)
            .key(file.key)
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(&body[..], file.bytes, "{}", file.key);
    }
    assert!(FILES[0].content_type.starts_with("text/html"));
    assert_eq!(FILES[0].key, "index.html");
    let dist_id = doc["outputs"]["distribution_id"].as_str().unwrap();
    let (config, etag) = distribution(&cf, dist_id).await;
    assert_eq!(config.default_root_object(), Some("index.html"));
    assert!(has_sid(&policy(&s3).await, "cattube-cloudfront-no-catalog").is_none());

    // Converged: no write (the page's bytes did not change).
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert!(out.writes().is_empty(), "{:?}", out.writes());

    // Drift: player.js changed by hand, and the default root object cleared.
    s3.put_object()
        .bucket(DESTINATION)
        .key("player/player.js")
        .body(b"alert('not ours')".to_vec().into())
        .content_type("text/javascript; charset=utf-8")
        .cache_control("no-cache")
        .send()
        .await
        .unwrap();
    let mut changed = config.clone();
    changed.default_root_object = Some(String::new());
    cf.update_distribution()
        .id(dist_id)
        .if_match(etag)
        .distribution_config(changed)
        .send()
        .await
        .unwrap();
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    let page = resource(&doc, "player-page");
    assert_eq!(page["status"], "drifted", "{page}");
    assert!(
        page["drift"]
            .to_string()
            .contains("player/player.js differs"),
        "{page}"
    );
    let dist = resource(&doc, "distribution");
    assert!(
        dist["drift"]
            .to_string()
            .contains("default root object is none, wanted index.html"),
        "{dist}"
    );
    // up repairs exactly that: one object, one distribution update.
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    let writes: Vec<String> = out.writes().iter().map(|w| w.to_string()).collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes.iter().any(|w| w.contains("player.js")), "{writes:?}");
    let (config, _) = distribution(&cf, dist_id).await;
    assert_eq!(config.default_root_object(), Some("index.html"));
    sandbox.run().args(["status"]).expect_code(0).output();

    // down removes the page with the rest.
    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    let left = leftovers(&emulators, REGION).await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_player_off_there_is_no_page_and_cloudfront_may_not_read_the_catalog() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let cf = cloudfront_client(&emulators.moto.url).await;

    // On first, then off: the page goes, the catalog is denied to CloudFront.
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let dist_id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(page_keys(&s3).await.len(), FILES.len());
    sandbox.write("cattube.toml", "[player]\nenabled = false\n");
    let out = sandbox.run().args(["up"]).expect_code(0).output();
    let text = out.text();
    assert!(text.contains("player: off"), "{text}");
    assert!(page_keys(&s3).await.is_empty(), "the page is still there");
    let deny = has_sid(&policy(&s3).await, "cattube-cloudfront-no-catalog")
        .expect("a statement denying CloudFront the catalog");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(deny["Action"], "s3:GetObject");
    assert_eq!(
        deny["Resource"],
        format!("arn:aws:s3:::{DESTINATION}/catalog.json")
    );
    let (config, _) = distribution(&cf, &dist_id).await;
    assert_eq!(config.default_root_object(), Some(""));
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert!(out.writes().is_empty(), "{:?}", out.writes());
    let doc = sandbox.run().args(["status"]).expect_code(0).json().doc;
    assert!(doc["outputs"]["player_url"].is_null(), "{doc}");

    // The deny removed by hand is drift, repaired by up.
    let mut widened = policy(&s3).await;
    widened["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "cattube-cloudfront-no-catalog");
    s3.put_bucket_policy()
        .bucket(DESTINATION)
        .policy(widened.to_string())
        .send()
        .await
        .unwrap();
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert!(
        resource(&doc, "destination-bucket-policy")["drift"]
            .to_string()
            .contains("CloudFront may read catalog.json"),
        "{doc}"
    );
    sandbox.run().args(["up"]).expect_code(0).output();
    assert!(has_sid(&policy(&s3).await, "cattube-cloudfront-no-catalog").is_some());

    // On again: page back, deny gone.
    sandbox.write("cattube.toml", "[player]\nenabled = true\n");
    sandbox.run().args(["up"]).expect_code(0).output();
    assert_eq!(page_keys(&s3).await.len(), FILES.len());
    assert!(has_sid(&policy(&s3).await, "cattube-cloudfront-no-catalog").is_none());

    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    assert!(leftovers(&emulators, REGION).await.is_empty());
}

#[test]
fn a_bad_player_setting_is_refused_naming_it() {
    for (toml, needle) in [
        ("[player]\nenabled = \"yes\"\n", "player.enabled"),
        ("[player]\nenable = true\n", "enable"),
        ("[job]\nprofile = \"4k\"\n", "job.profile"),
    ] {
        let sandbox = support::Sandbox::new("http://127.0.0.1:9", REGION);
        sandbox.write("cattube.toml", toml);
        let out = sandbox.run().arg("plan").output();
        let stderr = out.stderr.as_str();
        assert_eq!(out.code, Some(2), "{toml}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{toml}: {stderr}");
    }
}
