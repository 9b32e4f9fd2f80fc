//! `[delivery] private = true` (issue 26, item 2) against moto's server, through the built
//! binary: the secret, public keys and key group the stack owns, the distribution that
//! trusts the group, signed URLs and cookies checked by an independent implementation of
//! CloudFront's check (`tests/support/cloudfront_signed.py`: Python's `cryptography`,
//! AWS's documented policy formats and base64 substitutions), key rotation and its grace
//! period, and the private key kept out of everything cattube writes or prints.
//!
//! moto lacks UpdateKeyGroup and DeleteKeyGroup and deletes a public key still in a group;
//! `tests/support/cloudfront_keys.py` makes it answer as CloudFront does.

use std::collections::BTreeMap;
use std::process::Command;

use crate::support::distribution::distribution_config;
use crate::support::names::REGION;
use crate::support::{
    down_leaves_nothing, field_strings, has_stack_tag, repo_root, resource, stack_clients,
    venv_python, Emulators, Sandbox,
};
use cattube_stages::Clients;

const KEY: &str = "cats/tabby cat.mp4";

fn config(profile: &str) -> String {
    format!("[delivery]\nprivate = true\n\n[job]\nprofile = \"{profile}\"\n")
}

/// The public keys (id -> PEM) of the stack's key group, as CloudFront trusts them.
async fn trusted_keys(clients: &Clients, group_id: &str) -> BTreeMap<String, String> {
    let group = clients
        .cloudfront
        .get_key_group()
        .id(group_id)
        .send()
        .await
        .unwrap();
    let mut keys = BTreeMap::new();
    for id in group
        .key_group()
        .unwrap()
        .key_group_config()
        .unwrap()
        .items()
    {
        let key = clients
            .cloudfront
            .get_public_key()
            .id(id)
            .send()
            .await
            .unwrap();
        let config = key.public_key().unwrap().public_key_config().unwrap();
        keys.insert(id.clone(), config.encoded_key().to_string());
    }
    keys
}

/// CloudFront's verdict on a request to `url` with `cookie` (a `Cookie:` header or ""), by
/// the independent checker: "ok" or its reason (MissingKey, InvalidKey, AccessDenied).
fn verdict(sandbox: &Sandbox, keys: &BTreeMap<String, String>, url: &str, cookie: &str) -> String {
    let file = sandbox.path().join("trusted-keys.json");
    std::fs::write(&file, serde_json::to_string(keys).unwrap()).unwrap();
    let out = Command::new(venv_python())
        .arg(repo_root().join("tests/support/cloudfront_signed.py"))
        .arg(&file)
        .arg(url)
        .arg(cookie)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !said.is_empty(),
        "the checker said nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

fn urls(doc: &serde_json::Value) -> Vec<String> {
    field_strings(&doc["urls"], "url")
        .into_iter()
        .map(String::from)
        .collect()
}

/// The base64 body of a PEM: what would show wherever the key leaked, whatever its lines.
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// Every private key the stack's secret holds.
async fn private_keys(clients: &Clients, doc: &serde_json::Value) -> Vec<String> {
    let arn = doc["outputs"]["signing_secret_arn"].as_str().unwrap();
    let value = clients
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap();
    let ring: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    field_strings(&ring["keys"], "private_key")
        .into_iter()
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_stack_serves_only_what_its_key_signed() {
    let emulators = Emulators::start();
    let clients = stack_clients(&emulators, REGION).await;
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &config("web"));
    // Everything cattube printed, to look for the private key in at the end.
    let mut printed = Vec::new();

    let up = sandbox.run().args(["up"]).expect_code(0).json();
    printed.push(up.stdout.clone() + &up.stderr);
    let doc = up.doc;
    for id in ["signing-secret", "public-keys", "key-group"] {
        assert_eq!(resource(&doc, id)["action"], "create", "{id}: {doc}");
    }
    let group = doc["outputs"]["key_group_id"].as_str().unwrap().to_string();
    let dist = doc["outputs"]["distribution_id"].as_str().unwrap();
    the_distribution_trusts_the_group_but_for_the_page(&clients, dist, &group).await;
    only_the_caller_reads_the_secret(&clients, &doc).await;

    // Converged: no write.
    sandbox.run().args(["up"]).expect_read_only().json();

    let keys = trusted_keys(&clients, &group).await;
    assert_eq!(keys.len(), 1);
    printed.push(signed_urls_verify_and_nothing_else_does(&sandbox, &keys));
    printed.push(open_hands_the_player_signed_cookies(&sandbox, &keys));

    // Bad input: one line, exit 2, naming the flag.
    let bad = sandbox
        .run()
        .args(["url", KEY, "--expires", "1h"])
        .expect_code(2)
        .output();
    assert!(bad.stderr.contains("--expires"), "{}", bad.stderr);

    // `status` shows the key and its age.
    let status = sandbox.run().args(["status"]).expect_code(0).json();
    let shown = status.doc["keys"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{}", status.doc);
    assert_eq!(shown[0]["signing"], true);
    assert_eq!(shown[0]["id"], *keys.keys().next().unwrap());
    let text = sandbox.run().args(["status"]).expect_code(0).output();
    assert!(text.stdout.contains("signing keys"), "{}", text.stdout);
    printed.push(status.stdout + &text.stdout + &text.stderr);

    the_private_key_is_nowhere_cattube_wrote_or_printed(&clients, &doc, &sandbox, &printed).await;
    down_leaves_nothing(&emulators, &sandbox).await;
}

/// The distribution trusts the key group for everything but the player page and its scripts.
async fn the_distribution_trusts_the_group_but_for_the_page(
    clients: &Clients,
    dist: &str,
    group: &str,
) {
    let config = distribution_config(&clients.cloudfront, dist).await;
    let trusted = config
        .default_cache_behavior()
        .unwrap()
        .trusted_key_groups()
        .unwrap();
    assert!(trusted.enabled());
    assert_eq!(trusted.items(), [group.to_string()]);
    let public: Vec<&str> = config
        .cache_behaviors()
        .unwrap()
        .items()
        .iter()
        .map(|b| b.path_pattern())
        .collect();
    assert_eq!(public, ["index.html", "player/*"]);
}

/// The signing secret is tagged as the stack's, and nobody but the caller reads its value.
async fn only_the_caller_reads_the_secret(clients: &Clients, doc: &serde_json::Value) {
    let secret = clients
        .secrets
        .describe_secret()
        .secret_id(doc["outputs"]["signing_secret_arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let pairs = secret.tags().iter().map(|t| (t.key(), t.value()));
    assert!(has_stack_tag(pairs), "{secret:?}");
    let policy = clients
        .secrets
        .get_resource_policy()
        .secret_id(secret.arn().unwrap())
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(policy.resource_policy().unwrap()).unwrap();
    let caller = clients.sts.get_caller_identity().send().await.unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Effect"], "Deny", "{policy}");
    assert!(statement["Action"]
        .as_array()
        .unwrap()
        .contains(&"secretsmanager:GetSecretValue".into()));
    assert_eq!(
        statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!([caller.arn().unwrap()]),
        "{policy}"
    );
}

/// A signed URL verifies against the group's public key; unsigned, for another object,
/// with a later expiry, or expired, it does not. What `url --signed` printed.
fn signed_urls_verify_and_nothing_else_does(
    sandbox: &Sandbox,
    keys: &BTreeMap<String, String>,
) -> String {
    let signed = sandbox
        .run()
        .args(["url", KEY, "--signed", "--expires", "1h"])
        .expect_code(0)
        .json();
    let signed_urls = urls(&signed.doc);
    assert!(!signed_urls.is_empty());
    for url in &signed_urls {
        assert!(
            url.contains("Expires=") && url.contains("Key-Pair-Id="),
            "{url}"
        );
        assert_eq!(verdict(sandbox, keys, url, ""), "ok", "{url}");
        let unsigned = url.split('?').next().unwrap();
        assert_eq!(verdict(sandbox, keys, unsigned, ""), "MissingKey");
        // Another object with the same signature; a later expiry with the same signature.
        let other = url.replacen("tabby%20cat", "tabby%20dog", 1);
        assert_eq!(
            verdict(sandbox, keys, &other, ""),
            "AccessDenied",
            "{other}"
        );
        let (head, expires) = url.split_once("Expires=").unwrap();
        let (when, rest) = expires.split_once('&').unwrap();
        let later = format!("{head}Expires={}&{rest}", when.parse::<u64>().unwrap() + 60);
        assert_eq!(
            verdict(sandbox, keys, &later, ""),
            "AccessDenied",
            "{later}"
        );
    }
    let short = sandbox
        .run()
        .args(["url", KEY, "--signed", "--expires", "1s"])
        .expect_code(0)
        .json();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for url in urls(&short.doc) {
        assert_eq!(
            verdict(sandbox, keys, &url, ""),
            "AccessDenied",
            "expired {url}"
        );
    }
    signed.stdout + &signed.stderr
}

/// `open` hands the player the signed cookies in the page's fragment, and they open the
/// catalog (an empty one here: nothing converts in moto). What `open` printed.
fn open_hands_the_player_signed_cookies(
    sandbox: &Sandbox,
    keys: &BTreeMap<String, String>,
) -> String {
    let open = sandbox.run().args(["open", KEY]).expect_code(0).json();
    let player = open.doc["player_url"].as_str().unwrap();
    assert!(player.contains("/index.html#cf="), "{player}");
    let (_, fragment) = player.split_once("#cf=").unwrap();
    let (values, key) = fragment.split_once("&v=").unwrap();
    assert_eq!(key, "cats%2Ftabby%20cat.mp4");
    let values: Vec<&str> = values.split('.').collect();
    let cookie = format!(
        "Cookie: CloudFront-Policy={}; CloudFront-Signature={}; CloudFront-Key-Pair-Id={}",
        values[0], values[1], values[2]
    );
    let site = player.split("/index.html").next().unwrap();
    assert_eq!(
        verdict(sandbox, keys, &format!("{site}/catalog.json"), &cookie),
        "ok"
    );
    open.stdout + &open.stderr
}

/// No line of the secret's private keys is in the state file, any file of the working
/// directory, or anything cattube `printed`.
async fn the_private_key_is_nowhere_cattube_wrote_or_printed(
    clients: &Clients,
    doc: &serde_json::Value,
    sandbox: &Sandbox,
    printed: &[String],
) {
    let state = std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap();
    for pem in private_keys(clients, doc).await {
        let body = pem_body(&pem);
        assert!(body.len() > 1000, "a 2048-bit key");
        // Any 64-character line of it is proof enough of a leak.
        let line = &body[64..128];
        assert!(
            !state.contains(line),
            "the state file holds the private key"
        );
        for out in printed {
            assert!(!out.contains(line), "the private key was printed: {out}");
        }
        for entry in std::fs::read_dir(sandbox.path()).unwrap() {
            let text = std::fs::read(entry.unwrap().path()).unwrap_or_default();
            assert!(!String::from_utf8_lossy(&text).contains(line));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hls_cookies_cover_the_videos_segments_and_nothing_outside_its_folder() {
    let emulators = Emulators::start();
    let clients = stack_clients(&emulators, REGION).await;
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &config("hls"));
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let keys = trusted_keys(&clients, doc["outputs"]["key_group_id"].as_str().unwrap()).await;

    let ran = sandbox
        .run()
        .args(["url", KEY, "--cookies"])
        .expect_code(0)
        .json();
    let cookie = ran.doc["cookies"]["header"].as_str().unwrap().to_string();
    let playlists = urls(&ran.doc);
    let master = &playlists[0];
    assert!(master.ends_with("/cats/tabby%20cat.m3u8"), "{master}");
    let text = sandbox
        .run()
        .args(["url", KEY, "--cookies"])
        .expect_code(0)
        .output();
    assert_eq!(
        text.stdout.lines().next().unwrap().split('=').next(),
        Some("Cookie: CloudFront-Policy")
    );

    // What MediaConvert writes for the hls profile: a playlist per rendition and its
    // segments, named after the source's base name in its folder.
    let site = master.trim_end_matches("/cats/tabby%20cat.m3u8");
    let mut covered = vec![master.clone()];
    for rendition in ["_1080p", "_720p", "_480p", "_360p"] {
        covered.push(format!("{site}/cats/tabby%20cat{rendition}.m3u8"));
        for n in 1..=3 {
            covered.push(format!("{site}/cats/tabby%20cat{rendition}_{n:05}.ts"));
        }
    }
    for url in &covered {
        assert_eq!(verdict(&sandbox, &keys, url, &cookie), "ok", "{url}");
        assert_eq!(verdict(&sandbox, &keys, url, ""), "MissingKey", "{url}");
    }
    for outside in [
        format!("{site}/catalog.json"),
        format!("{site}/dogs/tabby%20cat.m3u8"),
        format!("{site}/cats/other.m3u8"),
        format!("{site}/tabby%20cat.m3u8"),
    ] {
        assert_eq!(
            verdict(&sandbox, &keys, &outside, &cookie),
            "AccessDenied",
            "{outside}"
        );
    }
    sandbox.run().args(["down", "--yes"]).expect_code(0).json();
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_keeps_the_previous_key_until_its_grace_period_ends() {
    let emulators = Emulators::start();
    let clients = stack_clients(&emulators, REGION).await;
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", &config("web"));
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let group = doc["outputs"]["key_group_id"].as_str().unwrap().to_string();
    let sign = || {
        urls(
            &sandbox
                .run()
                .args(["url", KEY, "--signed"])
                .expect_code(0)
                .json()
                .doc,
        )[0]
        .clone()
    };
    let first = sign();

    let rotated = sandbox
        .run()
        .args(["keys", "rotate", "--grace", "3s"])
        .expect_code(0)
        .json();
    assert_eq!(
        rotated.doc["keys"].as_array().unwrap().len(),
        2,
        "{}",
        rotated.doc
    );
    let keys = trusted_keys(&clients, &group).await;
    assert_eq!(keys.len(), 2);
    // The URL signed before the rotation still plays; a new one is signed by the new key.
    assert_eq!(verdict(&sandbox, &keys, &first, ""), "ok");
    let second = sign();
    let key_of = |url: &str| url.rsplit("Key-Pair-Id=").next().unwrap().to_string();
    assert_ne!(key_of(&first), key_of(&second));
    assert_eq!(verdict(&sandbox, &keys, &second, ""), "ok");

    // Past the grace period, the next rotation removes the first key, not the second.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    sandbox
        .run()
        .args(["keys", "rotate", "--grace", "3s"])
        .expect_code(0)
        .json();
    let keys = trusted_keys(&clients, &group).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(verdict(&sandbox, &keys, &first, ""), "InvalidKey");
    assert_eq!(verdict(&sandbox, &keys, &second, ""), "ok");
    let gone = clients
        .cloudfront
        .get_public_key()
        .id(key_of(&first))
        .send()
        .await;
    assert!(gone.is_err(), "the first public key is deleted");

    // A group holds at most 5 keys: within the grace period a sixth is refused, naming it.
    for _ in 0..3 {
        sandbox.run().args(["keys", "rotate"]).expect_code(0).json();
    }
    let full = sandbox
        .run()
        .args(["keys", "rotate"])
        .expect_code(1)
        .output();
    assert!(full.stderr.contains("5 keys"), "{}", full.stderr);
    assert_eq!(trusted_keys(&clients, &group).await.len(), 5);

    down_leaves_nothing(&emulators, &sandbox).await;
}
