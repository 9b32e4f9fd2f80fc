//! The `player-page` resource and what goes with it, against moto through the built binary:
//! the page and its assets in the destination bucket (Content-Type, Cache-Control, the
//! SHA-256 in their metadata), uploaded only when their bytes change, the distribution's
//! default root object (created, its drift seen and repaired), `[player] enabled = false`
//! (no page, CloudFront denied `catalog.json`), and `down` leaving none of it.
//! The page itself in a browser: tests/browser.rs.

use crate::support;

use cattube_stages::player_page::{body, sha256_hex, FILES, SOURCE_URL_SLOT, UPLOAD_KEY};
use support::distribution::{distribution_config, edit_distribution};
use support::{
    assert_drifted, down_leaves_nothing, put_bucket_policy, resource, stack_clients, Emulators,
};

use support::names::{DESTINATION, REGION};

async fn policy(s3: &aws_sdk_s3::Client) -> serde_json::Value {
    serde_json::from_str(&support::bucket_policy(s3, DESTINATION).await).unwrap()
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
    let clients = stack_clients(&emulators, REGION).await;

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

    // The source bucket's URL, as upload grants name it: the one place the upload page may
    // send a file.
    let grant = sandbox
        .run()
        .args(["upload-url", "cats/a.mp4"])
        .expect_code(0)
        .json();
    let source_url = grant.doc["grant"]["url"].as_str().unwrap().to_string();
    for file in FILES {
        let head = clients
            .s3
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
            Some(&sha256_hex(&body(file, &source_url))),
            "{}",
            file.key
        );
        let body = clients
            .s3
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
        assert_eq!(
            &body[..],
            &self::body(file, &source_url)[..],
            "{}",
            file.key
        );
        if file.key == UPLOAD_KEY {
            // The upload page may send files to the stack's source bucket, and nowhere else.
            let page = String::from_utf8_lossy(&body);
            assert!(!page.contains(SOURCE_URL_SLOT), "{page}");
            assert!(
                page.contains(&format!("connect-src 'self' {source_url};")),
                "{page}"
            );
        }
    }
    assert!(FILES[0].content_type.starts_with("text/html"));
    assert_eq!(FILES[0].key, "index.html");
    let dist_id = doc["outputs"]["distribution_id"].as_str().unwrap();
    let config = distribution_config(&clients.cloudfront, dist_id).await;
    assert_eq!(config.default_root_object(), Some("index.html"));
    assert!(has_sid(&policy(&clients.s3).await, "cattube-cloudfront-no-catalog").is_none());

    // Converged: no write (the page's bytes did not change).
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert!(out.writes().is_empty(), "{:?}", out.writes());

    // Drift: player.js changed by hand, and the default root object cleared.
    clients
        .s3
        .put_object()
        .bucket(DESTINATION)
        .key("player/player.js")
        .body(b"alert('not ours')".to_vec().into())
        .content_type("text/javascript; charset=utf-8")
        .cache_control("no-cache")
        .send()
        .await
        .unwrap();
    edit_distribution(&clients.cloudfront, dist_id, |changed| {
        changed.default_root_object = Some(String::new());
    })
    .await;
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert_drifted(&doc, "player-page", "player/player.js differs");
    let wanted = "default root object is none, wanted index.html";
    assert_drifted(&doc, "distribution", wanted);
    // up repairs exactly that: one object, one distribution update.
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    let writes: Vec<String> = out.writes().iter().map(|w| w.to_string()).collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes.iter().any(|w| w.contains("player.js")), "{writes:?}");
    let config = distribution_config(&clients.cloudfront, dist_id).await;
    assert_eq!(config.default_root_object(), Some("index.html"));
    sandbox.run().args(["status"]).expect_code(0).output();

    // down removes the page with the rest.
    down_leaves_nothing(&emulators, &sandbox).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_player_off_there_is_no_page_and_cloudfront_may_not_read_the_catalog() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let clients = stack_clients(&emulators, REGION).await;

    // On first, then off: the page goes, the catalog is denied to CloudFront.
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let dist_id = doc["outputs"]["distribution_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(page_keys(&clients.s3).await.len(), FILES.len());
    sandbox.write("cattube.toml", "[player]\nenabled = false\n");
    let out = sandbox.run().args(["up"]).expect_code(0).output();
    let text = out.text();
    assert!(text.contains("player: off"), "{text}");
    assert!(
        page_keys(&clients.s3).await.is_empty(),
        "the page is still there"
    );
    let deny = has_sid(&policy(&clients.s3).await, "cattube-cloudfront-no-catalog")
        .expect("a statement denying CloudFront the catalog");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(deny["Action"], "s3:GetObject");
    assert_eq!(
        deny["Resource"],
        format!("arn:aws:s3:::{DESTINATION}/catalog.json")
    );
    let config = distribution_config(&clients.cloudfront, &dist_id).await;
    assert_eq!(config.default_root_object(), Some(""));
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert!(out.writes().is_empty(), "{:?}", out.writes());
    let doc = sandbox.run().args(["status"]).expect_code(0).json().doc;
    assert!(doc["outputs"]["player_url"].is_null(), "{doc}");

    // The deny removed by hand is drift, repaired by up.
    let mut widened = policy(&clients.s3).await;
    widened["Statement"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["Sid"] != "cattube-cloudfront-no-catalog");
    put_bucket_policy(&clients.s3, DESTINATION, &widened.to_string()).await;
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert_drifted(
        &doc,
        "destination-bucket-policy",
        "CloudFront may read catalog.json",
    );
    sandbox.run().args(["up"]).expect_code(0).output();
    assert!(has_sid(&policy(&clients.s3).await, "cattube-cloudfront-no-catalog").is_some());

    // On again: page back, deny gone.
    sandbox.write("cattube.toml", "[player]\nenabled = true\n");
    sandbox.run().args(["up"]).expect_code(0).output();
    assert_eq!(page_keys(&clients.s3).await.len(), FILES.len());
    assert!(has_sid(&policy(&clients.s3).await, "cattube-cloudfront-no-catalog").is_none());

    down_leaves_nothing(&emulators, &sandbox).await;
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
