//! Issue 29, first part: cattube never damages what it adopts. Against moto through the
//! built binary, a user's resources are named under `[names]`, then `up` and `down --yes`
//! run; everything the account says about those resources (every setting each API reads
//! back, every object's bytes) is compared as a whole before and after:
//!
//! - a destination bucket that is a public website (public-access block off, a public-read
//!   policy, a website configuration, the user's `index.html`): `plan` and `up` refuse (exit
//!   2, naming `index.html`) before anything is written; without the player page, `up`
//!   secures it, `plan` says what `down` restores, and `down` leaves it as it was;
//! - a bucket with the user's objects and no page: `down` deletes only the page cattube
//!   wrote, and a page file the user replaced after `up` is theirs and stays;
//! - a role (trust, inline and attached policies) and a function (role, code, runtime,
//!   handler, memory, timeout, environment): `down` puts back what `up` changed, and the
//!   function no longer points at the converter role `down` deletes.

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use sha2::{Digest, Sha256};
use support::names::REGION;
use support::{
    account_inventory, attached_policies, create_bucket, function_configuration, inline_policies,
    lambda_notifications, put_bucket_policy, stack_clients, Emulators,
};

/// Every setting of a bucket the S3 API reads back, and every object (key, bytes' SHA-256,
/// ETag, Content-Type, metadata): what a user would miss.
async fn bucket_snapshot(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, String> {
    fn either<T: std::fmt::Debug, E: ProvideErrorMetadata>(r: Result<T, E>) -> String {
        match r {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error {}", e.code().unwrap_or("?")),
        }
    }
    let mut snap = BTreeMap::new();
    let pab = s3.get_public_access_block().bucket(bucket).send().await;
    snap.insert(
        "public-access-block".into(),
        either(pab.map(|o| o.public_access_block_configuration().cloned())),
    );
    let sse = s3.get_bucket_encryption().bucket(bucket).send().await;
    snap.insert(
        "encryption".into(),
        either(sse.map(|o| o.server_side_encryption_configuration().cloned())),
    );
    let own = s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await;
    snap.insert(
        "ownership".into(),
        either(own.map(|o| o.ownership_controls().cloned())),
    );
    let policy = s3.get_bucket_policy().bucket(bucket).send().await;
    snap.insert(
        "policy".into(),
        either(policy.map(|o| o.policy().map(str::to_string))),
    );
    let website = s3.get_bucket_website().bucket(bucket).send().await;
    snap.insert(
        "website".into(),
        either(website.map(|o| {
            (
                o.index_document().cloned(),
                o.error_document().cloned(),
                o.routing_rules().to_vec(),
                o.redirect_all_requests_to().cloned(),
            )
        })),
    );
    let tags = s3.get_bucket_tagging().bucket(bucket).send().await;
    snap.insert("tags".into(), either(tags.map(|o| o.tag_set().to_vec())));
    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await;
    snap.insert(
        "notification".into(),
        either(notification.map(|o| {
            (
                o.lambda_function_configurations().to_vec(),
                o.queue_configurations().to_vec(),
                o.topic_configurations().to_vec(),
            )
        })),
    );
    let versioning = s3.get_bucket_versioning().bucket(bucket).send().await;
    snap.insert(
        "versioning".into(),
        either(versioning.map(|o| o.status().cloned())),
    );
    let cors = s3.get_bucket_cors().bucket(bucket).send().await;
    snap.insert("cors".into(), either(cors.map(|o| o.cors_rules().to_vec())));
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    for object in listed.contents() {
        let key = object.key().unwrap();
        let got = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        let described = format!(
            "etag {:?} type {:?} metadata {:?}",
            got.e_tag(),
            got.content_type(),
            got.metadata()
        );
        let bytes = got.body.collect().await.unwrap().into_bytes();
        snap.insert(
            format!("object {key}"),
            format!("sha256 {:x} {described}", Sha256::digest(&bytes)),
        );
    }
    snap
}

/// A role as IAM describes it: trust policy, description, tags, every inline policy with
/// its document, every attached managed policy, its boundary.
async fn role_snapshot(iam: &aws_sdk_iam::Client, role: &str) -> BTreeMap<String, String> {
    let mut snap = BTreeMap::new();
    let got = iam.get_role().role_name(role).send().await.unwrap();
    let got = got.role().unwrap();
    let decode = |doc: &str| -> serde_json::Value {
        serde_json::from_str(&urlencoding_decode(doc)).unwrap()
    };
    snap.insert(
        "trust".into(),
        decode(got.assume_role_policy_document().unwrap()).to_string(),
    );
    snap.insert("description".into(), format!("{:?}", got.description()));
    snap.insert("tags".into(), format!("{:?}", got.tags()));
    snap.insert(
        "boundary".into(),
        format!("{:?}", got.permissions_boundary()),
    );
    for (name, document) in inline_policies(iam, role).await {
        snap.insert(format!("inline {name}"), decode(&document).to_string());
    }
    let attached = attached_policies(iam, role).await;
    snap.insert("attached".into(), format!("{attached:?}"));
    snap
}

/// IAM answers documents URL-encoded; moto sometimes does not. Either reads back the same.
fn urlencoding_decode(doc: &str) -> String {
    if doc.trim_start().starts_with('{') {
        return doc.to_string();
    }
    let bytes = doc.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&doc[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A function as Lambda describes it: its configuration (role, runtime, handler, code,
/// memory, timeout, environment, architectures…), tags, versions and resource policy.
async fn function_snapshot(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> BTreeMap<String, String> {
    let mut snap = BTreeMap::new();
    let c = function_configuration(lambda, function).await;
    for (key, value) in [
        ("role", format!("{:?}", c.role())),
        ("runtime", format!("{:?}", c.runtime())),
        ("handler", format!("{:?}", c.handler())),
        ("code-sha256", format!("{:?}", c.code_sha256())),
        ("code-size", format!("{:?}", c.code_size())),
        ("memory", format!("{:?}", c.memory_size())),
        ("timeout", format!("{:?}", c.timeout())),
        (
            "environment",
            format!(
                "{:?}",
                c.environment()
                    .and_then(|e| e.variables())
                    .map(|v| v.iter().collect::<BTreeMap<_, _>>())
            ),
        ),
        ("architectures", format!("{:?}", c.architectures())),
        ("description", format!("{:?}", c.description())),
        ("layers", format!("{:?}", c.layers())),
    ] {
        snap.insert(key.to_string(), value);
    }
    let got = lambda
        .get_function()
        .function_name(function)
        .send()
        .await
        .unwrap();
    snap.insert(
        "tags".into(),
        format!(
            "{:?}",
            got.tags().map(|t| t.iter().collect::<BTreeMap<_, _>>())
        ),
    );
    let versions = lambda
        .list_versions_by_function()
        .function_name(function)
        .send()
        .await
        .unwrap();
    let versions: Vec<String> = versions
        .versions()
        .iter()
        .map(|v| {
            format!(
                "{:?} {:?} {:?}",
                v.version(),
                v.code_sha256(),
                v.description()
            )
        })
        .collect();
    snap.insert("versions".into(), format!("{versions:?}"));
    let invoke = lambda
        .get_function_event_invoke_config()
        .function_name(function)
        .send()
        .await;
    snap.insert(
        "event-invoke-config".into(),
        match invoke {
            Ok(c) => format!(
                "retries {:?} age {:?} destinations {:?}",
                c.maximum_retry_attempts(),
                c.maximum_event_age_in_seconds(),
                c.destination_config()
            ),
            Err(e) => format!(
                "error {:?}",
                aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
            ),
        },
    );
    let policy = lambda.get_policy().function_name(function).send().await;
    snap.insert(
        "policy".into(),
        match policy {
            Ok(p) => format!("{:?}", p.policy()),
            Err(e) => format!(
                "error {:?}",
                aws_sdk_lambda::error::ProvideErrorMetadata::code(&e)
            ),
        },
    );
    snap
}

/// `plan`'s text line of resource `id` says that `down` restores what `up` changes on it.
#[track_caller]
fn assert_plan_says_restored(plan: &str, id: &str) {
    assert!(
        plan.lines().any(|l| l.contains(&format!(" {id} "))
            && l.ends_with("adopted: changed on an adopted resource, restored by `down`")),
        "plan does not say {id} is restored by down:\n{plan}"
    );
}

/// Where two snapshots differ, one line per key.
fn differences(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| {
            format!(
                "{k}:\n  before {:?}\n  after  {:?}",
                before.get(k),
                after.get(k)
            )
        })
        .collect()
}

const PUBLIC_SITE: &str = "my-public-site";
const USERS_PAGE: &[u8] = b"<!doctype html><title>My site</title><p>Welcome to my site.";

/// A public website as people make one: public-access block off, a public-read policy, a
/// website configuration, an index page and a style sheet.
async fn make_public_site(s3: &aws_sdk_s3::Client) {
    create_bucket(s3, PUBLIC_SITE, REGION).await;
    s3.put_public_access_block()
        .bucket(PUBLIC_SITE)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(false)
                .ignore_public_acls(false)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicReadGetObject",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{PUBLIC_SITE}/*")
        }]
    });
    put_bucket_policy(s3, PUBLIC_SITE, &policy.to_string()).await;
    s3.put_bucket_website()
        .bucket(PUBLIC_SITE)
        .website_configuration(
            aws_sdk_s3::types::WebsiteConfiguration::builder()
                .index_document(
                    aws_sdk_s3::types::IndexDocument::builder()
                        .suffix("index.html")
                        .build()
                        .unwrap(),
                )
                .error_document(
                    aws_sdk_s3::types::ErrorDocument::builder()
                        .key("error.html")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    for (key, body, content_type) in [
        ("index.html", USERS_PAGE, "text/html"),
        ("style.css", b"body { color: teal }".as_slice(), "text/css"),
    ] {
        s3.put_object()
            .bucket(PUBLIC_SITE)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from_static(body))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_adopted_public_site_is_never_overwritten_and_down_leaves_it_as_it_was() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let clients = stack_clients(&emulators, REGION).await;
    make_public_site(&clients.s3).await;
    sandbox.write(
        "cattube.toml",
        &format!("[names]\ndestination-bucket = \"{PUBLIC_SITE}\"\n"),
    );
    let before = bucket_snapshot(&clients.s3, PUBLIC_SITE).await;
    let inventory = account_inventory(&emulators, REGION).await;

    // The player page would go where the user's index.html is: refused, nothing written.
    for command in ["plan", "up"] {
        let out = sandbox.run().arg(command).expect_code(2).output();
        assert!(
            out.stderr
                .contains(&format!("s3://{PUBLIC_SITE}/index.html"))
                && out.stderr.contains("not written by cattube"),
            "{command} must name the user's object: {}",
            out.text()
        );
    }
    assert!(
        differences(&before, &bucket_snapshot(&clients.s3, PUBLIC_SITE).await).is_empty(),
        "a refused up changed the bucket"
    );
    assert_eq!(
        account_inventory(&emulators, REGION).await,
        inventory,
        "a refused up created something"
    );
    assert!(
        !sandbox.path().join("cattube.state.json").exists()
            || support::checked_state(&sandbox.path().join("cattube.state.json"), "cattube")
                .is_none_or(|s| s["resources"].as_object().is_none_or(|r| r.is_empty())),
        "a refused up recorded resources"
    );

    // Without the page: the bucket is secured, and plan says what down puts back.
    sandbox.write(
        "cattube.toml",
        &format!("[names]\ndestination-bucket = \"{PUBLIC_SITE}\"\n\n[player]\nenabled = false\n"),
    );
    let plan = sandbox.run().arg("plan").expect_code(3).output();
    assert_plan_says_restored(&plan.stdout, "destination-bucket");
    sandbox.run().arg("up").expect_code(0).output();
    let secured = bucket_snapshot(&clients.s3, PUBLIC_SITE).await;
    assert_eq!(
        secured["object index.html"], before["object index.html"],
        "up wrote over the user's index.html"
    );
    assert!(
        !differences(&before, &secured).is_empty(),
        "up changed nothing on the adopted bucket: the test proves nothing"
    );
    let state = support::checked_state(&sandbox.path().join("cattube.state.json"), "cattube")
        .expect("a state after up");
    let extra = &state["resources"]["destination-bucket"]["extra"];
    for setting in ["public-access-block", "encryption", "ownership", "policy"] {
        assert!(
            extra.get(format!("original:{setting}")).is_some(),
            "the state does not record the original {setting}: {extra}"
        );
    }

    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    let after = bucket_snapshot(&clients.s3, PUBLIC_SITE).await;
    let differ = differences(&before, &after);
    assert!(
        differ.is_empty(),
        "down left the site changed:\n{}",
        differ.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn down_deletes_only_the_page_objects_cattube_wrote() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let clients = stack_clients(&emulators, REGION).await;
    let bucket = "my-archive";
    create_bucket(&clients.s3, bucket, REGION).await;
    support::put_object(
        &clients.s3,
        bucket,
        "videos/holiday.mp4",
        b"not really a video",
    )
    .await;
    sandbox.write(
        "cattube.toml",
        &format!("[names]\ndestination-bucket = \"{bucket}\"\n"),
    );
    let before = bucket_snapshot(&clients.s3, bucket).await;
    sandbox.run().arg("up").expect_code(0).output();
    let state = support::checked_state(&sandbox.path().join("cattube.state.json"), "cattube")
        .expect("a state after up");
    let etags = &state["resources"]["player-page"]["extra"];
    for file in cattube_stages::player_page::FILES {
        assert!(
            etags.get(format!("etag:{}", file.key)).is_some(),
            "no ETag recorded for {}: {etags}",
            file.key
        );
    }
    // The user replaces cattube's style sheet with their own after `up`: theirs now.
    let replaced = "player/player.css";
    support::put_object(&clients.s3, bucket, replaced, b"body { color: red }").await;
    let mut wanted = before.clone();
    wanted.insert(
        format!("object {replaced}"),
        bucket_snapshot(&clients.s3, bucket).await[&format!("object {replaced}")].clone(),
    );

    let down = sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    assert!(
        down.stdout
            .lines()
            .any(|l| l.contains("player-page") && l.contains(replaced)),
        "down does not say it kept {replaced}: {}",
        down.text()
    );
    let after = bucket_snapshot(&clients.s3, bucket).await;
    let differ = differences(&wanted, &after);
    assert!(differ.is_empty(), "down left:\n{}", differ.join("\n"));
}

const ROLE: &str = "my-mediaconvert-role";
const FUNCTION: &str = "my-converter";
const FUNCTION_ROLE: &str = "my-function-role";

/// The user's zip: their own handler, not cattube's.
fn users_zip() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        zip.start_file::<_, ()>(
            "lambda_function.py",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(b"def lambda_handler(event, context):\n    return 'mine'\n")
            .unwrap();
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// A MediaConvert role and a converter function as a user makes them by hand.
async fn make_users_role_and_function(clients: &cattube_stages::Clients) {
    let iam = &clients.iam;
    let trust = |service: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": service },
                "Action": "sts:AssumeRole"
            }]
        })
        .to_string()
    };
    iam.create_role()
        .role_name(ROLE)
        .description("made by hand")
        .assume_role_policy_document(trust("mediaconvert.amazonaws.com"))
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(ROLE)
        .policy_name("user-inline")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let managed = iam
        .create_policy()
        .policy_name("users-own")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name(ROLE)
        .policy_arn(managed.policy().unwrap().arn().unwrap())
        .send()
        .await
        .unwrap();
    let function_role = iam
        .create_role()
        .role_name(FUNCTION_ROLE)
        .assume_role_policy_document(trust("lambda.amazonaws.com"))
        .send()
        .await
        .unwrap();
    // Only the user's own role may send to the user's queue: Lambda accepts that
    // destination only while the function runs as this role (tests/support/moto_server.py).
    iam.put_role_policy()
        .role_name(FUNCTION_ROLE)
        .policy_name("send-failures")
        .policy_document(
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": "sqs:SendMessage",
                    "Resource": USERS_FAILURES
                }]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    clients
        .lambda
        .create_function()
        .function_name(FUNCTION)
        .runtime(aws_sdk_lambda::types::Runtime::Python39)
        .handler("lambda_function.lambda_handler")
        .role(function_role.role().unwrap().arn())
        .memory_size(128)
        .timeout(3)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("USER_SETTING", "mine")
                .build(),
        )
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(users_zip()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The user's own asynchronous settings: one retry, an hour, failures to their queue.
    clients
        .lambda
        .put_function_event_invoke_config()
        .function_name(FUNCTION)
        .maximum_retry_attempts(1)
        .maximum_event_age_in_seconds(3600)
        .destination_config(
            aws_sdk_lambda::types::DestinationConfig::builder()
                .on_failure(
                    aws_sdk_lambda::types::OnFailure::builder()
                        .destination(USERS_FAILURES)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Where the user's function sent its failed invocations before cattube adopted it.
const USERS_FAILURES: &str = "arn:aws:sqs:eu-west-1:123456789012:users-failures";

#[tokio::test(flavor = "multi_thread")]
async fn an_adopted_role_and_function_are_as_they_were_after_up_then_down() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let clients = stack_clients(&emulators, REGION).await;
    make_users_role_and_function(&clients).await;
    sandbox.write(
        "cattube.toml",
        &format!("[names]\nmediaconvert-role = \"{ROLE}\"\nconverter-function = \"{FUNCTION}\"\n"),
    );
    let snapshot = || async {
        merged([
            ("role", role_snapshot(&clients.iam, ROLE).await),
            (
                "function-role",
                role_snapshot(&clients.iam, FUNCTION_ROLE).await,
            ),
            (
                "function",
                function_snapshot(&clients.lambda, FUNCTION).await,
            ),
        ])
    };
    let before = snapshot().await;

    let plan = sandbox.run().arg("plan").expect_code(3).output();
    for id in [
        "mediaconvert-role",
        "converter-function",
        "failure-destination",
    ] {
        assert_plan_says_restored(&plan.stdout, id);
    }
    sandbox.run().arg("up").expect_code(0).output();
    let up = snapshot().await;
    let converter_role = format!("cattube-{REGION}-converter");
    assert!(
        up["function role"].contains(&converter_role),
        "up did not move the function to cattube's role: the test proves nothing: {}",
        up["function role"]
    );
    assert_ne!(up["function code-sha256"], before["function code-sha256"]);
    assert!(
        before["function event-invoke-config"].contains(USERS_FAILURES)
            && up["function event-invoke-config"].contains("cattube-failures-"),
        "up did not replace the function's on-failure destination: {} -> {}",
        before["function event-invoke-config"],
        up["function event-invoke-config"]
    );
    assert_ne!(up["role trust"], before["role trust"]);
    // The function's environment is restored, but its values are not in the state.
    let state = support::checked_state(&sandbox.path().join("cattube.state.json"), "cattube")
        .expect("a state after up");
    let config: serde_json::Value = serde_json::from_str(
        state["resources"]["converter-function"]["extra"]["original:configuration"]
            .as_str()
            .expect("the function's original configuration"),
    )
    .unwrap();
    let kept = config["Environment"]["USER_SETTING"].as_str().unwrap();
    assert!(
        kept.starts_with("sha256:") && !kept.contains("mine"),
        "the state keeps the environment's value, not its fingerprint: {config}"
    );

    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    let after = snapshot().await;
    let differ = differences(&before, &after);
    assert!(differ.is_empty(), "down left:\n{}", differ.join("\n"));
    let inventory = account_inventory(&emulators, REGION).await;
    assert!(
        !inventory.contains(&format!("role {converter_role}")),
        "cattube's own converter role is left: {inventory:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_wide_mediaconvert_role_is_never_adopted() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let clients = stack_clients(&emulators, REGION).await;
    let shared = "MediaConvert_Default_Role";
    clients
        .iam
        .create_role()
        .role_name(shared)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"mediaconvert.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    sandbox.write(
        "cattube.toml",
        &format!("[names]\nmediaconvert-role = \"{shared}\"\n"),
    );
    let before = role_snapshot(&clients.iam, shared).await;
    let inventory = account_inventory(&emulators, REGION).await;
    let out = sandbox.run().arg("up").expect_code(2).output();
    assert!(
        out.stderr.contains(shared) && out.stderr.contains("never rewrites"),
        "{}",
        out.text()
    );
    assert!(differences(&before, &role_snapshot(&clients.iam, shared).await).is_empty());
    assert_eq!(account_inventory(&emulators, REGION).await, inventory);
    // The example for the tutorial's names does not name it.
    let example =
        std::fs::read_to_string(support::repo_root().join("examples/tutorial.toml")).unwrap();
    let config: toml_names::Example = toml_names::parse(&example);
    assert!(!config.names.values().any(|n| n == shared), "{example}");
}

/// Reads the `[names]` table of an example config.
mod toml_names {
    #[derive(serde::Deserialize)]
    pub struct Example {
        #[serde(default)]
        pub names: std::collections::BTreeMap<String, String>,
    }

    pub fn parse(text: &str) -> Example {
        toml::from_str(text).unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Issue 29, the takeover: `adopt --from-tutorial` against the stack the console tutorial
// builds (tests/support/tutorial_stack.py: stages 1-7 as the console makes them).

/// What `tutorial_stack.py` made.
#[derive(serde::Deserialize, Debug)]
struct Tutorial {
    function_role: String,
    oac_id: String,
    oac_name: String,
    distribution_id: String,
    distribution_domain: String,
    second_distribution_id: Option<String>,
}

/// Builds the tutorial's stack in the sandbox's emulators with boto3 (`args` as the
/// script takes them).
fn build_tutorial(sandbox: &support::Sandbox, args: &[&str]) -> Tutorial {
    let out = support::succeeded(
        sandbox
            .command_for(&support::venv_python())
            .arg(support::repo_root().join("tests/support/tutorial_stack.py"))
            .args(args),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A distribution as CloudFront describes it: domain, status and every setting.
async fn distribution_snapshot(
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
) -> BTreeMap<String, String> {
    let got = cf.get_distribution().id(id).send().await.unwrap();
    let dist = got.distribution().unwrap();
    BTreeMap::from([
        ("domain".to_string(), dist.domain_name().to_string()),
        (
            "config".to_string(),
            format!("{:?}", dist.distribution_config()),
        ),
    ])
}

/// Several snapshots as one, each key prefixed by what its snapshot is of.
fn merged<const N: usize>(
    snapshots: [(&str, BTreeMap<String, String>); N],
) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    for (prefix, snap) in snapshots {
        all.extend(snap.into_iter().map(|(k, v)| (format!("{prefix} {k}"), v)));
    }
    all
}

/// Everything of the tutorial's stack a user would miss, keyed by where it is.
async fn tutorial_snapshot(
    clients: &cattube_stages::Clients,
    made: &Tutorial,
    source: &str,
    destination: &str,
    function: &str,
) -> BTreeMap<String, String> {
    let mut all = merged([
        ("source", bucket_snapshot(&clients.s3, source).await),
        (
            "destination",
            bucket_snapshot(&clients.s3, destination).await,
        ),
        (
            "function",
            function_snapshot(&clients.lambda, function).await,
        ),
        (
            "function-role",
            role_snapshot(&clients.iam, &made.function_role).await,
        ),
        (
            "shared-role",
            role_snapshot(&clients.iam, "MediaConvert_Default_Role").await,
        ),
        (
            "distribution",
            distribution_snapshot(&clients.cloudfront, &made.distribution_id).await,
        ),
    ]);
    let oac = clients
        .cloudfront
        .get_origin_access_control()
        .id(&made.oac_id)
        .send()
        .await
        .unwrap();
    all.insert("oac".into(), format!("{:?}", oac.origin_access_control()));
    let queue = clients
        .mediaconvert
        .get_queue()
        .name("catqueue")
        .send()
        .await;
    all.insert(
        "queue".into(),
        format!(
            "{:?}",
            queue
                .ok()
                .and_then(|q| q.queue().map(|q| q.arn().map(str::to_string)))
        ),
    );
    all
}

const TUTORIAL_REGION: &str = "ap-southeast-2";

#[tokio::test(flavor = "multi_thread")]
async fn the_tutorials_stack_is_taken_over_then_left_as_found() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(TUTORIAL_REGION);
    let clients = stack_clients(&emulators, TUTORIAL_REGION).await;
    let (source, destination, function) = (
        "cattube-source",
        "cattube-destination",
        "cattube-converter-function",
    );
    let made = build_tutorial(&sandbox, &["--videos", "tabbycat.mp4", "kitten.mp4"]);
    let snapshot = || tutorial_snapshot(&clients, &made, source, destination, function);
    let before = snapshot().await;
    for key in ["tabbycat.mp4", "kitten.mp4"] {
        assert!(
            before.contains_key(&format!("source object {key}")),
            "{before:?}"
        );
    }
    assert!(before.contains_key("destination object tabbycat-hd.mp4"));

    // Without --yes and without a terminal: the plan, nothing recorded.
    let shown = sandbox
        .run()
        .args(["adopt", "--from-tutorial"])
        .expect_code(3)
        .output();
    for said in [
        "replaced (left in place, never changed or deleted by cattube):",
        "MediaConvert_Default_Role (by mediaconvert-role)",
        &format!("{} (by converter-role)", made.function_role),
        "runtime python3.9, not python3.13",
    ] {
        assert!(
            shown.stdout.contains(said),
            "plan lacks {said:?}:\n{}",
            shown.stdout
        );
    }
    let state_path = sandbox.path().join("cattube.state.json");
    assert!(
        support::checked_state(&state_path, "cattube")
            .is_none_or(|s| s["resources"].as_object().is_none_or(|r| r.is_empty())),
        "adopt without --yes recorded resources"
    );

    adopt_keeps_changes_or_replaces_each_and_records_it(&sandbox, &made, &state_path);

    sandbox.run().arg("up").expect_code(0).output();
    let up = snapshot().await;
    for (key, value) in before.iter().filter(|(k, _)| k.contains(" object ")) {
        assert_eq!(up.get(key), Some(value), "up changed {key}");
    }
    assert_eq!(up["distribution domain"], made.distribution_domain);
    let distributions = clients
        .cloudfront
        .list_distributions()
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = distributions
        .distribution_list()
        .unwrap()
        .items()
        .iter()
        .map(|d| d.id())
        .collect();
    assert_eq!(
        ids,
        [made.distribution_id.as_str()],
        "up made another distribution"
    );
    let converter_role = format!("cattube-{TUTORIAL_REGION}-converter");
    assert!(
        up["function role"].contains(&converter_role),
        "{}",
        up["function role"]
    );
    assert!(
        up["function runtime"] == "Some(Python313)",
        "{}",
        up["function runtime"]
    );
    assert_ne!(up["function code-sha256"], before["function code-sha256"]);
    for key in before.keys().filter(|k| k.starts_with("shared-role ")) {
        assert_eq!(
            up[key], before[key],
            "up changed MediaConvert_Default_Role: {key}"
        );
    }
    for bucket in [source, destination] {
        support::assert_secure_bucket(&clients.s3, bucket).await;
    }
    sandbox.run().arg("status").expect_code(0).output();

    let down = sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    let replaced = format!(
        "left in place what cattube replaced (role {}, role MediaConvert_Default_Role)",
        made.function_role
    );
    assert!(
        down.stdout
            .lines()
            .any(|l| l.contains("converter-function") && l.contains(&replaced)),
        "down does not list the replaced roles:\n{}",
        down.stdout
    );
    let after = snapshot().await;
    let differ = differences(&before, &after);
    assert!(
        differ.is_empty(),
        "down left the tutorial's stack changed:\n{}",
        differ.join("\n")
    );
    let inventory = account_inventory(&emulators, TUTORIAL_REGION).await;
    assert!(
        !inventory.contains(&format!("role {converter_role}")),
        "cattube's own converter role is left: {inventory:?}"
    );
}

/// `adopt --from-tutorial --yes`: a verdict per resource (kept, changed, replaced), and the
/// taken-over resources recorded as adopted.
fn adopt_keeps_changes_or_replaces_each_and_records_it(
    sandbox: &support::Sandbox,
    made: &Tutorial,
    state_path: &std::path::Path,
) {
    let adopted = sandbox
        .run()
        .args(["adopt", "--from-tutorial", "--yes"])
        .expect_code(0)
        .json();
    let verdict = |id: &str, verdict: &str| {
        adopted.doc["takeover"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id && t["verdict"] == verdict)
            .cloned()
            .unwrap_or_else(|| panic!("no {verdict} {id}: {}", adopted.doc["takeover"]))
    };
    assert_eq!(verdict("queue", "kept")["name"], "catqueue");
    assert_eq!(
        verdict("origin-access-control", "kept")["name"],
        made.oac_name.as_str()
    );
    assert_eq!(
        verdict("source-notification", "kept")["name"],
        "cattube-notifications"
    );
    assert_eq!(
        verdict("distribution", "changed")["name"],
        made.distribution_domain.as_str()
    );
    assert!(verdict("converter-function", "changed")["reasons"]
        .to_string()
        .contains("python3.9"));
    assert_eq!(
        verdict("mediaconvert-role", "replaced")["name"],
        "MediaConvert_Default_Role"
    );
    assert_eq!(
        verdict("converter-role", "replaced")["name"],
        made.function_role.as_str()
    );
    let state = support::checked_state(state_path, "cattube").expect("a state after adopt");
    for id in [
        "source-bucket",
        "destination-bucket",
        "queue",
        "converter-function",
        "origin-access-control",
        "distribution",
        "source-notification",
    ] {
        assert_eq!(
            state["resources"][id]["ownership"], "adopted",
            "{id}: {state}"
        );
    }
    assert_eq!(
        support::checked_state(state_path, "cattube").unwrap()["resources"]["distribution"]
            ["extra"]["id"],
        made.distribution_id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_names_in_another_region_and_clear_refusals() {
    let region = "us-west-2";
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(region);
    let names = [
        "--source",
        "my-uploads",
        "--destination",
        "my-videos",
        "--queue",
        "myqueue",
        "--function",
        "my-converter",
    ];
    let made = build_tutorial(&sandbox, &[&names[..], &["--videos", "clip.mp4"]].concat());

    // Nothing by the tutorial's default names here: refused, naming what was looked for.
    let none = sandbox
        .run()
        .args(["adopt", "--from-tutorial", "--yes"])
        .expect_code(2)
        .output();
    assert!(
        none.stderr
            .contains("no source bucket named cattube-source")
            && none
                .stderr
                .contains("no Lambda function named cattube-converter-function"),
        "{}",
        none.text()
    );
    // One missing among the found: named, with what was found.
    let one = sandbox
        .run()
        .args(["adopt", "--from-tutorial", "--yes"])
        .args(&names[..6])
        .expect_code(2)
        .output();
    assert!(
        one.stderr
            .contains("no Lambda function named cattube-converter-function")
            && one.stderr.contains(
                "found: source bucket my-uploads, destination bucket my-videos, queue myqueue"
            )
            && one.stderr.lines().filter(|l| l.contains("error")).count() == 1,
        "{}",
        one.text()
    );
    assert!(
        !sandbox.path().join("cattube.state.json").exists()
            || support::checked_state(&sandbox.path().join("cattube.state.json"), "cattube")
                .is_none_or(|s| s["resources"].as_object().is_none_or(|r| r.is_empty()))
    );

    let adopted = sandbox
        .run()
        .args(["adopt", "--from-tutorial", "--yes"])
        .args(names)
        .expect_code(0)
        .json();
    assert_eq!(adopted.doc["region"], region);
    let state = support::checked_state(&sandbox.path().join("cattube.state.json"), "cattube")
        .expect("a state after adopt");
    assert_eq!(state["resources"]["source-bucket"]["name"], "my-uploads");
    assert_eq!(
        state["resources"]["converter-function"]["name"],
        "my-converter"
    );
    assert_eq!(
        state["resources"]["distribution"]["extra"]["id"],
        made.distribution_id.as_str()
    );
    // Later runs use the adopted names with no flags.
    let plan = sandbox.run().arg("plan").expect_code(3).output();
    assert!(
        plan.stdout.contains("my-videos") && plan.stdout.contains("myqueue"),
        "{}",
        plan.stdout
    );

    // `down --including-adopted`: the tutorial's function, its event entry and the roles
    // cattube replaced go too; buckets, objects, queue and distribution stay.
    let clients = stack_clients(&emulators, region).await;
    let objects = bucket_snapshot(&clients.s3, "my-videos").await;
    sandbox.run().arg("up").expect_code(0).output();
    let down = sandbox
        .run()
        .args(["down", "--yes", "--including-adopted"])
        .expect_code(0)
        .output();
    let inventory = account_inventory(&emulators, region).await;
    for gone in [
        "function my-converter".to_string(),
        format!("role {}", made.function_role),
        "role MediaConvert_Default_Role".to_string(),
    ] {
        assert!(
            !inventory.contains(&gone),
            "{gone} is left: {inventory:?}\n{}",
            down.stdout
        );
    }
    assert!(lambda_notifications(&clients.s3, "my-uploads")
        .await
        .is_empty());
    assert!(
        differences(&objects, &bucket_snapshot(&clients.s3, "my-videos").await)
            .iter()
            .all(|d| !d.starts_with("object "))
    );
    clients
        .cloudfront
        .get_distribution()
        .id(&made.distribution_id)
        .send()
        .await
        .expect("the tutorial's distribution stays");
    clients
        .mediaconvert
        .get_queue()
        .name("myqueue")
        .send()
        .await
        .expect("the queue stays");
}

/// Two distributions in front of one destination bucket: both named, nothing recorded.
#[tokio::test(flavor = "multi_thread")]
async fn two_distributions_in_front_of_one_bucket_are_refused() {
    let region = "us-west-2";
    let emulators = Emulators::start();
    let other = emulators.sandbox(region);
    let two = build_tutorial(
        &other,
        &[
            "--source",
            "two-uploads",
            "--destination",
            "two-videos",
            "--queue",
            "twoqueue",
            "--function",
            "two-converter",
            "--second-distribution",
        ],
    );
    let refused = other
        .run()
        .args(["adopt", "--from-tutorial", "--yes"])
        .args(["--source", "two-uploads", "--destination", "two-videos"])
        .args(["--queue", "twoqueue", "--function", "two-converter"])
        .expect_code(2)
        .output();
    let second = two.second_distribution_id.expect("a second distribution");
    assert!(
        refused.stderr.contains(&two.distribution_id) && refused.stderr.contains(&second),
        "{}",
        refused.text()
    );
    assert!(
        !other.path().join("cattube.state.json").exists()
            || support::checked_state(&other.path().join("cattube.state.json"), "cattube")
                .is_none_or(|s| s["resources"].as_object().is_none_or(|r| r.is_empty()))
    );
}
