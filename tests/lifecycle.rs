//! The whole life of a stack against moto's server and the MediaConvert stand-in, through
//! the built binary: up → status → up (no writes) → drift → status (3) → up (repairs) →
//! down → nothing left.

use crate::support;

use cattube_stages::Clients;

use aws_sdk_s3::types::{
    BucketVersioningStatus, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, VersioningConfiguration,
};
use support::{
    assert_account_empty, assert_drifted, assert_every_action, attached_policies, bucket_policy,
    bucket_tags, down_leaves_nothing, field_strings, function_configuration, function_policy,
    has_stack_tag, inline_policies, lambda_notifications, put_bucket_policy, resource, s3_client,
    sdk_config, stack_clients, strings, Emulators, RESOURCES,
};

use support::names::{ACCOUNT, DESTINATION, REGION, SOURCE};

/// The whole life of a stack with every resource: plan, up, status, drift of each kind
/// repaired, down. One stack walked through in order; each step proves one thing below.
#[tokio::test(flavor = "multi_thread")]
async fn lifecycle() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let Clients {
        s3,
        iam,
        lambda,
        mediaconvert,
        route53,
        ..
    } = stack_clients(&emulators, REGION).await;

    // Every resource wanted, the optional ones included ([notify] email, [domain] with its
    // Route 53 zone in the account, [uploads] for the CORS rule, [delivery] private).
    sandbox.write(
        "cattube.toml",
        "[notify]\nemail = [\"cat@example.com\"]\n[domain]\nname = \"videos.example.com\"\n\
         [uploads]\nallowed-origins = [\"https://cats.example\"]\n[delivery]\nprivate = true\n",
    );
    route53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("lifecycle")
        .send()
        .await
        .unwrap();
    let walk = Walk {
        emulators,
        sandbox,
        s3,
        iam,
        lambda,
        mediaconvert,
    };
    let wanted = plan_on_an_empty_account_lists_every_resource_to_create(&walk).await;
    up_from_nothing_creates_every_resource_securely(&walk, &wanted).await;
    a_converged_up_writes_nothing(&walk).await;
    a_public_access_block_drift_is_named_and_repaired(&walk).await;
    each_secure_setting_drift_is_repaired_by_one_write(&walk).await;
    the_conversion_half_drift_is_repaired(&walk).await;
    down_cancels_queued_jobs_and_leaves_nothing(&walk).await;
}

/// The stack [`lifecycle`] walks, and the test's own clients for arranging drift and
/// checking from outside.
struct Walk {
    emulators: Emulators,
    sandbox: support::Sandbox,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    mediaconvert: aws_sdk_mediaconvert::Client,
}

async fn plan_on_an_empty_account_lists_every_resource_to_create(walk: &Walk) -> Vec<String> {
    let Walk { sandbox, .. } = walk;
    // plan on an empty account lists every resource, in dependency order, to create.
    let doc = sandbox.run().args(["plan"]).expect_code(3).json().doc;
    // With [notify] the function waits for the distribution (its domain is the messages'
    // PLAYBACK_DOMAIN), so it is listed after it, and its failure destination after it.
    let mut wanted: Vec<String> = RESOURCES.iter().map(|(id, _)| id.to_string()).collect();
    let after_function: Vec<String> = ["converter-function", "failure-destination"]
        .iter()
        .map(|moved| {
            let at = wanted.iter().position(|id| id == moved).unwrap();
            wanted.remove(at)
        })
        .collect();
    let distribution = wanted.iter().position(|id| id == "distribution").unwrap();
    for (i, moved) in after_function.into_iter().enumerate() {
        wanted.insert(distribution + 1 + i, moved);
    }
    assert_eq!(field_strings(&doc["resources"], "id"), wanted);
    assert_every_action(&doc, "create");
    assert!(walk.emulators.writes().is_empty());
    walk.emulators.reset();
    wanted
}

async fn up_from_nothing_creates_every_resource_securely(walk: &Walk, wanted: &[String]) {
    let Walk { sandbox, s3, .. } = walk;
    // up from nothing creates both buckets with their secure settings.
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    // Every registered kind finds its resource as the stack's: the leak check after `down`
    // covers each of them.
    let found = support::leftovers(&walk.emulators, REGION).await;
    for id in support::IDS.iter() {
        assert!(
            found.iter().any(|line| line.starts_with(&format!("{id} "))),
            "{id} not found as the stack's: {found:?}"
        );
    }
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
    assert_eq!(field_strings(&doc["resources"], "id"), wanted);
    for (id, stage) in RESOURCES.iter() {
        let r = resource(&doc, id);
        assert_eq!(
            (
                r["action"].as_str(),
                r["status"].as_str(),
                r["stage"].as_str()
            ),
            (Some("create"), Some("ok"), Some(*stage)),
            "{id}"
        );
    }
    assert_eq!(
        doc["outputs"]["queue_arn"],
        format!("arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/cattube-queue")
    );
    assert_eq!(doc["outputs"]["job_template"], "cattube-job");
    assert_eq!(
        doc["outputs"]["function_arn"],
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:cattube-converter")
    );
    eprintln!(
        "full up: {} requests, {} writes",
        walk.emulators.requests().len(),
        walk.emulators.writes().len()
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
    let policy = bucket_policy(s3, DESTINATION).await;
    assert!(policy.contains("aws:SecureTransport"), "{policy}");
    for bucket in [SOURCE, DESTINATION] {
        assert_tls_only(s3, bucket).await;
    }
    let tags = bucket_tags(s3, SOURCE).await;
    let pairs = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    assert!(has_stack_tag(pairs), "{tags:?}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["resources"]["source-bucket"]["ownership"], "created");
    check_conversion(walk).await;
    assert_job_template_request_is_valid(&walk.emulators.standin.url);
}

async fn a_converged_up_writes_nothing(walk: &Walk) {
    let Walk { sandbox, .. } = walk;
    // status: everything ok.
    sandbox.run().arg("status").expect_code(0).output();

    // A converged up makes no write request at all.
    walk.emulators.reset();
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert_every_action(&out.doc, "none");
    let writes = walk.emulators.writes();
    assert!(writes.is_empty(), "a converged up wrote: {writes:?}");
    eprintln!(
        "converged up: {} requests, 0 writes",
        walk.emulators.requests().len()
    );
}

async fn a_public_access_block_drift_is_named_and_repaired(walk: &Walk) {
    let Walk { sandbox, s3, .. } = walk;
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
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert_drifted(&doc, "source-bucket", "BlockPublicAcls");
    assert_drifted(&doc, "source-bucket", "BlockPublicPolicy");
    assert_eq!(resource(&doc, "destination-bucket")["status"], "ok");
    let text = sandbox.run().arg("status").output().stdout;
    assert!(text.contains("public access block off"), "{text}");

    // plan names the repair and changes nothing.
    walk.emulators.reset();
    let out = sandbox.run().args(["plan"]).expect_code(3).json();
    assert_eq!(resource(&out.doc, "source-bucket")["action"], "update");
    assert!(walk.emulators.writes().is_empty());

    // up repairs exactly that.
    walk.emulators.reset();
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert_eq!(resource(&out.doc, "source-bucket")["action"], "update");
    let writes = walk.emulators.writes();
    assert_eq!(writes.len(), 1, "one write repairs one drift: {writes:?}");
    assert!(
        writes[0].query.contains("publicAccessBlock"),
        "{}",
        writes[0]
    );
    sandbox.run().arg("status").expect_code(0).output();
}

async fn each_secure_setting_drift_is_repaired_by_one_write(walk: &Walk) {
    let Walk { sandbox, s3, .. } = walk;
    // Drift of the bucket's other secure settings: default encryption removed, ACLs
    // enabled again (ObjectWriter), the TLS-only statement deleted. status names each, and
    // up repairs each with one write, after which plain HTTP is denied again.
    s3.delete_bucket_encryption()
        .bucket(SOURCE)
        .send()
        .await
        .unwrap();
    let object_writer = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::ObjectWriter)
        .build()
        .unwrap();
    let controls = OwnershipControls::builder().rules(object_writer);
    s3.put_bucket_ownership_controls()
        .bucket(SOURCE)
        .ownership_controls(controls.build().unwrap())
        .send()
        .await
        .unwrap();
    s3.delete_bucket_policy()
        .bucket(SOURCE)
        .send()
        .await
        .unwrap();
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    let source = resource(&doc, "source-bucket");
    assert_eq!(source["status"], "drifted");
    let drift: Vec<&str> = strings(&source["drift"]);
    assert_eq!(
        drift,
        [
            "no default encryption",
            "object ownership is not BucketOwnerEnforced (ACLs enabled)",
            "bucket policy does not deny non-TLS requests"
        ]
    );
    walk.emulators.reset();
    let ran = sandbox.run().args(["-v", "up"]).expect_code(0).json();
    assert_eq!(resource(&ran.doc, "source-bucket")["action"], "update");
    // `-v` names each repair, one line per write.
    for line in [
        "source-bucket: default encryption SSE-S3",
        "source-bucket: object ownership BucketOwnerEnforced",
        "source-bucket: bucket policy denies non-TLS requests",
    ] {
        assert!(ran.stderr.contains(line), "{line:?} not in {}", ran.stderr);
    }
    let mut repaired: Vec<String> = walk
        .emulators
        .writes()
        .iter()
        .map(|w| format!("{} {}", w.method, w.query))
        .collect();
    repaired.sort();
    assert_eq!(
        repaired,
        ["PUT encryption", "PUT ownershipControls", "PUT policy"],
        "one write per drifted setting"
    );
    sandbox.run().arg("status").expect_code(0).output();
    assert_tls_only(s3, SOURCE).await;
}

async fn the_conversion_half_drift_is_repaired(walk: &Walk) {
    let Walk { sandbox, s3, .. } = walk;
    // Drift in the conversion half: the notification removed, the function's environment
    // changed, a role's policy widened.
    support::remove_notifications(s3, SOURCE).await;
    support::drift_function_environment(&walk.lambda, "cattube-converter").await;
    let widening = support::widen_role(&walk.iam, "cattube-eu-west-1-converter").await;
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    assert_eq!(resource(&doc, "source-notification")["status"], "missing");
    assert_drifted(
        &doc,
        "converter-function",
        "environment differs: DESTINATION_BUCKET",
    );
    assert_drifted(
        &doc,
        "converter-role",
        "role policy widened: extra inline policy everything",
    );
    assert_drifted(
        &doc,
        "converter-role",
        &format!("managed policy {widening} attached"),
    );
    for (id, _) in RESOURCES.iter() {
        if ![
            "source-notification",
            "converter-function",
            "converter-role",
        ]
        .contains(id)
        {
            assert_eq!(resource(&doc, id)["status"], "ok", "{id}");
        }
    }
    let text = sandbox.run().arg("status").output().stdout;
    for id in [
        "source-notification",
        "converter-function",
        "converter-role",
    ] {
        assert!(text.contains(id), "{text}");
    }
    walk.emulators.reset();
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    assert_eq!(resource(&doc, "source-notification")["action"], "create");
    assert_eq!(resource(&doc, "converter-function")["action"], "update");
    assert_eq!(resource(&doc, "converter-role")["action"], "update");
    let writes: Vec<String> = walk
        .emulators
        .writes()
        .iter()
        .map(|w| w.to_string())
        .collect();
    // One write per drift; the role's two: the extra inline policy deleted, the managed
    // policy detached.
    assert_eq!(writes.len(), 4, "one write per drift: {writes:?}");
    sandbox.run().arg("status").expect_code(0).output();
    let attached = attached_policies(&walk.iam, "cattube-eu-west-1-converter").await;
    assert!(attached.is_empty(), "{attached:?}");
    check_conversion(walk).await;
}

async fn down_cancels_queued_jobs_and_leaves_nothing(walk: &Walk) {
    let Walk { sandbox, s3, .. } = walk;
    // A job still waiting in the queue: down cancels it before deleting the queue.
    let source = format!("s3://{SOURCE}/cats/tabby cat.mp4");
    let job_id = support::submit_job(&walk.mediaconvert, REGION, &source).await;

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
        support::put_object(s3, DESTINATION, "cats/tabby cat-hd.mp4", body.as_bytes()).await;
    }
    s3.delete_object()
        .bucket(DESTINATION)
        .key("cats/tabby cat-hd.mp4")
        .send()
        .await
        .unwrap();
    support::put_object(s3, SOURCE, "cats/tabby cat.mp4", b"video").await;

    // down without a terminal and without --yes refuses and changes nothing.
    walk.emulators.reset();
    sandbox.run().arg("down").expect_code(2).output();
    assert!(walk.emulators.requests().is_empty());

    // down --yes removes both buckets, versions and all, and the state file.
    let doc = down_leaves_nothing(&walk.emulators, sandbox).await.doc;
    assert_every_action(&doc, "delete");
    let cancelled = walk
        .mediaconvert
        .get_job()
        .id(&job_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancelled.job().and_then(|j| j.status()).map(|s| s.as_str()),
        Some("CANCELED")
    );
    assert_account_empty(&walk.emulators, REGION).await;
    assert!(!sandbox.path().join("cattube.state.json").exists());

    // A second down has nothing to do and says so.
    let out = sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    assert_every_action(&out.doc, "none");
}

/// The HTTP status of an S3 call that failed (None when it succeeded, 0 when it never got an
/// answer).
fn refused_with<T, E>(
    result: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> Option<u16> {
    let err = result.err()?;
    Some(err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0))
}

/// Marks every request of a client as made over plain HTTP, with the test-only header the
/// launcher reads `aws:SecureTransport` from (`tests/support/moto_server.py`).
#[derive(Debug)]
struct PlainHttp;

impl aws_sdk_s3::config::Intercept for PlainHttp {
    fn name(&self) -> &'static str {
        "PlainHttp"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _: &aws_sdk_s3::config::RuntimeComponents,
        _: &mut aws_sdk_s3::config::ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-cattube-test-secure-transport", "false");
        Ok(())
    }
}

/// The bucket's TLS-only statement denies plain-HTTP requests ([`PlainHttp`]), on its objects
/// and on the bucket itself, and lets TLS requests through (a request without the header
/// counts as made over TLS).
async fn assert_tls_only(s3: &aws_sdk_s3::Client, bucket: &str) {
    const KEY: &str = "tls-probe.txt";
    s3.put_object()
        .bucket(bucket)
        .key(KEY)
        .body(b"probe".to_vec().into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{bucket}: a TLS PutObject was refused: {e:?}"));
    let plain =
        aws_sdk_s3::Client::from_conf(s3.config().to_builder().interceptor(PlainHttp).build());
    let plain_requests = [
        (
            "GetObject",
            refused_with(plain.get_object().bucket(bucket).key(KEY).send().await),
        ),
        (
            "PutObject",
            refused_with(
                plain
                    .put_object()
                    .bucket(bucket)
                    .key("plain.txt")
                    .body(b"plain".to_vec().into())
                    .send()
                    .await,
            ),
        ),
        (
            "ListObjectsV2 (on the bucket)",
            refused_with(plain.list_objects_v2().bucket(bucket).send().await),
        ),
    ];
    for (request, status) in plain_requests {
        assert_eq!(
            status,
            Some(403),
            "{bucket}: a plain-HTTP {request} was not denied"
        );
    }
    // Over TLS the same requests go through.
    s3.get_object()
        .bucket(bucket)
        .key(KEY)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{bucket}: a TLS GetObject was refused: {e:?}"));
    let listed = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    assert!(
        listed.contents().iter().any(|o| o.key() == Some(KEY)),
        "{bucket}: {listed:?}"
    );
    s3.delete_object()
        .bucket(bucket)
        .key(KEY)
        .send()
        .await
        .unwrap();
}

/// What `up` made of the conversion half, checked from outside.
async fn check_conversion(walk: &Walk) {
    let Walk {
        s3,
        iam,
        lambda,
        mediaconvert,
        ..
    } = walk;
    let config = function_configuration(lambda, "cattube-converter").await;
    assert_eq!(config.runtime().map(|r| r.as_str()), Some("python3.13"));
    assert_eq!(config.handler(), Some("handler.lambda_handler"));
    assert_eq!(
        config
            .architectures()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        vec!["arm64"]
    );
    let env = config.environment().unwrap().variables().unwrap();
    assert_eq!(env["DESTINATION_BUCKET"], DESTINATION);
    assert_eq!(env["JOB_TEMPLATE"], "cattube-job");
    assert_eq!(env["STACK"], "cattube");
    assert_eq!(
        env["MEDIACONVERT_ROLE_ARN"],
        format!("arn:aws:iam::{ACCOUNT}:role/cattube-eu-west-1-mediaconvert")
    );
    let policy = function_policy(lambda, "cattube-converter")
        .await
        .to_string();
    assert!(
        policy.contains("cattube-s3-invoke") && policy.contains(&format!("arn:aws:s3:::{SOURCE}")),
        "{policy}"
    );
    let notifications = lambda_notifications(s3, SOURCE).await;
    let entry = &notifications[0];
    assert_eq!(entry.id(), Some("cattube-notifications"));
    assert_eq!(entry.lambda_function_arn(), config.function_arn().unwrap());
    for role in [
        "cattube-eu-west-1-mediaconvert",
        "cattube-eu-west-1-converter",
    ] {
        let inline = inline_policies(iam, role).await;
        assert_eq!(inline.keys().collect::<Vec<_>>(), ["cattube"], "{role}");
        let document = &inline["cattube"];
        assert!(!document.contains("%22%2A%22"), "{role}: a * in {document}");
    }
    let template = mediaconvert
        .get_job_template()
        .name("cattube-job")
        .send()
        .await
        .unwrap();
    let template = template.job_template().unwrap();
    assert!(template.queue().unwrap().ends_with("queues/cattube-queue"));
    let settings = template.settings().unwrap();
    let group = &settings.output_groups()[0];
    assert_eq!(
        group
            .output_group_settings()
            .and_then(|s| s.file_group_settings())
            .and_then(|f| f.destination()),
        Some(format!("s3://{DESTINATION}/").as_str())
    );
    assert_eq!(group.outputs().len(), 2);
}

/// The CreateJobTemplate body cattube really sent (kept by the stand-in): valid for the
/// operation's input shape in botocore's model (no unknown field such as an input's
/// `fileInput`, every enum and bound respected), its inputs without `fileInput`, on the
/// stack's queue, its outputs in the destination bucket.
fn assert_job_template_request_is_valid(standin: &str) {
    let body = support::sent_template(standin);
    let inputs = body["settings"]["inputs"].as_array().unwrap();
    assert!(!inputs.is_empty(), "{body}");
    for input in inputs {
        assert!(
            input.get("fileInput").is_none(),
            "a template input with a file: {input}"
        );
    }
    assert_eq!(body["name"], "cattube-job");
    assert_eq!(
        body["queue"],
        format!("arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/cattube-queue")
    );
    for group in body["settings"]["outputGroups"].as_array().unwrap() {
        assert_eq!(
            group["outputGroupSettings"]["fileGroupSettings"]["destination"],
            format!("s3://{DESTINATION}/"),
            "{group}"
        );
    }
    assert!(body["description"]
        .as_str()
        .unwrap()
        .starts_with("cattube sha256:"));
}

/// us-east-1 is the region whose CreateBucket must not carry a LocationConstraint; moto
/// refuses one, as S3 does.
#[tokio::test(flavor = "multi_thread")]
async fn us_east_1_and_custom_names() {
    let emulators = Emulators::start();
    let moto = &emulators.moto;
    let sandbox = emulators.sandbox("us-east-1");
    sandbox.write(
        "cattube.toml",
        "stack = \"demo\"\n[names]\nsource-bucket = \"demo-in\"\ndestination-bucket = \"demo-out\"\nqueue = \"catqueue\"\n[tags]\nteam = \"video\"\n",
    );
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    let doc = out.doc;
    assert_eq!(
        (doc["stack"].as_str(), doc["region"].as_str()),
        (Some("demo"), Some("us-east-1"))
    );
    assert!(doc["outputs"]["queue_arn"]
        .as_str()
        .unwrap()
        .ends_with(":queues/catqueue"));
    let s3 = s3_client(&moto.url, "us-east-1").await;
    let tags = bucket_tags(&s3, "demo-out").await;
    for (key, value) in [
        ("team", "video"),
        ("cattube:stack", "demo"),
        ("managed-by", "cattube"),
    ] {
        assert_eq!(tags.get(key).map(String::as_str), Some(value), "{tags:?}");
    }
    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    assert!(s3.list_buckets().send().await.unwrap().buckets().is_empty());
}

/// A bucket that existed before `up` is adopted: secured, reported, and kept by `down` with
/// its objects and its owner's policy statements.
#[tokio::test(flavor = "multi_thread")]
async fn adopted_bucket_survives_down() {
    let emulators = Emulators::start();
    let moto = &emulators.moto;
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&moto.url, REGION).await;
    support::create_bucket(&s3, "my-videos", REGION).await;
    let theirs = r#"{"Version":"2012-10-17","Statement":[{"Sid":"theirs","Effect":"Deny","Principal":"*","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::my-videos"}]}"#;
    put_bucket_policy(&s3, "my-videos", theirs).await;
    support::put_object(&s3, "my-videos", "keep.mp4", b"mine").await;
    // Someone else's notification on the bucket: cattube merges its own next to it.
    let theirs_entry = aws_sdk_s3::types::LambdaFunctionConfiguration::builder()
        .id("theirs")
        .lambda_function_arn(format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:thumbnailer"
        ))
        .events(aws_sdk_s3::types::Event::from("s3:ObjectRemoved:*"))
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("my-videos")
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .lambda_function_configurations(theirs_entry)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // The ids of the bucket's notifications to Lambda, sorted.
    let entries = || async {
        let notifications = lambda_notifications(&s3, "my-videos").await;
        let mut ids: Vec<String> = notifications
            .iter()
            .filter_map(|c| c.id().map(str::to_string))
            .collect();
        ids.sort();
        ids
    };
    sandbox.write("cattube.toml", "[names]\nsource-bucket = \"my-videos\"\n");

    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert_eq!(resource(&out.doc, "source-bucket")["action"], "update");
    let policy = bucket_policy(&s3, "my-videos").await;
    assert!(
        policy.contains("\"theirs\"") && policy.contains("cattube-deny-insecure-transport"),
        "{policy}"
    );
    let state = std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap();
    assert!(state.contains("\"adopted\""), "{state}");
    // The adopted bucket got every secure setting, and its TLS-only statement works.
    support::assert_secure_bucket(&s3, "my-videos").await;
    assert_tls_only(&s3, "my-videos").await;
    assert_eq!(entries().await, ["cattube-notifications", "theirs"]);
    let status = sandbox.run().arg("status").expect_code(0).output().stdout;
    assert!(status.contains("adopted"), "{status}");

    let out = sandbox.run().args(["down", "--yes"]).output();
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.as_str().contains("adopted"),
        "down says what it kept"
    );
    // The first down leaves no state: the adopted bucket was forgotten, the rest deleted.
    assert!(
        !sandbox.path().join("cattube.state.json").exists(),
        "state left after down"
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
    assert_eq!(entries().await, ["theirs"], "down removes only ours");
}

/// A job.json MediaConvert refuses fails `up` with MediaConvert's own message, and the
/// function that would have used it is not deployed.
#[tokio::test(flavor = "multi_thread")]
async fn a_template_mediaconvert_rejects_stops_before_the_function() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let job = cattube_job_with_codec("H_266");
    sandbox.write("my-job.json", &job);
    sandbox.write("cattube.toml", "[job]\ntemplate = \"my-job.json\"\n");
    let doc = sandbox.run().args(["up"]).expect_code(1).json().doc;
    let error = doc["error"].to_string();
    assert!(
        error.contains("job-template") && error.contains("BadRequestException"),
        "{error}"
    );
    assert!(error.contains("H_266"), "MediaConvert's message: {error}");
    assert_eq!(resource(&doc, "converter-function")["action"], "skip");
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(&emulators.moto.url, REGION).await);
    let functions = lambda.list_functions().send().await.unwrap();
    assert!(functions.functions().is_empty());
}

/// The built-in job.json with the first output's video codec replaced.
fn cattube_job_with_codec(codec: &str) -> String {
    let text =
        std::fs::read_to_string(support::repo_root().join("lambda-artifact/job.json")).unwrap();
    let mut job: serde_json::Value = serde_json::from_str(&text).unwrap();
    job["Settings"]["OutputGroups"][0]["Outputs"][0]["VideoDescription"]["CodecSettings"]
        ["Codec"] = serde_json::Value::String(codec.into());
    job.to_string()
}
