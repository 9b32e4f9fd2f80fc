//! Issue 13, the job events: the EventBridge rule (pattern and target), its invoke
//! permission, the optional SNS topic with `[notify] email`, the catalog the converter
//! function keeps (run for real against moto and the MediaConvert stand-in, on events shaped
//! like AWS's), and `videos`, `jobs --wait` (both exit codes) and `open` on top of it;
//! bad `[notify]` input is exit 2 with nothing created, and `down` leaves nothing behind.

use crate::support;

use serde_json::{json, Value};
use support::{
    down_leaves_nothing, function_environment, function_policy, has_stack_tag, leftovers, resource,
    s3_client, sdk_config, standin_post, Emulators, Sandbox,
};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const SOURCE: &str = "cattube-source-123456789012-us-east-1";
const DESTINATION: &str = "cattube-destination-123456789012-us-east-1";
const FUNCTION: &str = "cattube-converter";
const NOTIFY: &str = "[notify]\nemail = [\"cat@example.com\", \"dog@example.org\"]\n";

/// Runs the converter function's handler on `event` with the function's own environment,
/// against moto (S3, SNS) and the stand-in (MediaConvert).
async fn run_handler(emulators: &Emulators, sandbox: &Sandbox, event: &Value) -> Value {
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(&emulators.moto.url, REGION).await);
    let env = function_environment(&lambda, FUNCTION).await;
    support::run_converter(
        emulators,
        sandbox,
        &env,
        &[("AWS_ENDPOINT_URL", &emulators.moto.url)],
        REGION,
        &event.to_string(),
    )
}

fn upload_event(key: &str) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-12-02T05:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": SOURCE,
               "arn": format!("arn:aws:s3:::{SOURCE}")},
               "object": {"key": key.replace(' ', "+"), "size": 1024,
                          "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B2C"}}}]})
}

/// A "MediaConvert Job State Change" event as EventBridge delivers it (the shape of AWS's
/// documented examples), for the stack's queue.
fn job_event(job: &Value, detail: Value) -> Value {
    let id = job["Id"].as_str().unwrap();
    let mut full = json!({
        "timestamp": 1_764_651_600_000u64, "accountId": ACCOUNT,
        "queue": job["Queue"], "jobId": id, "userMetadata": job["UserMetadata"],
    });
    full.as_object_mut()
        .unwrap()
        .extend(detail.as_object().unwrap().clone());
    json!({"version": "0", "id": "1234abcd-12ab-34cd-56ef-1234567890ab",
           "detail-type": "MediaConvert Job State Change", "source": "aws.mediaconvert",
           "account": ACCOUNT, "time": "2026-12-02T05:00:00Z", "region": REGION,
           "resources": [format!("arn:aws:mediaconvert:{REGION}:{ACCOUNT}:jobs/{id}")],
           "detail": full})
}

/// The stand-in's view of job `id` (as GetJob answers, member names).
fn get_job(emulators: &Emulators, id: &str) -> Value {
    let out = support::run_python(
        &std::env::temp_dir(),
        &[
            "-c",
            "import boto3, json, sys; c = boto3.client('mediaconvert', region_name=sys.argv[2], endpoint_url=sys.argv[1]); print(json.dumps(c.get_job(Id=sys.argv[3])['Job'], default=str))",
            &emulators.standin.url,
            REGION,
            id,
        ],
    );
    serde_json::from_str(&out).unwrap()
}

fn move_job(emulators: &Emulators, id: &str, body: &str) {
    standin_post(
        &emulators.standin.url,
        &format!("/_standin/jobs/{id}/status"),
        body,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn job_events_catalog_and_the_commands_on_it() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let aws = sdk_config(&emulators.moto.url, REGION).await;
    let events = aws_sdk_eventbridge::Client::new(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let s3 = s3_client(&emulators.moto.url, REGION).await;

    // Bad [notify] input: exit 2 naming the key, before anything is created.
    for bad in [
        "[notify]\nemail = [\"not-an-address\"]\n",
        "[notify]\nemail = [\"a@example.com\", \"A@example.com\"]\n",
        "[notify]\nemail = \"a@example.com\"\n",
    ] {
        sandbox.write("cattube.toml", bad);
        let doc = sandbox.run().arg("up").expect_refused().json().doc;
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains("notify"), "{bad}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
    assert!(leftovers(&emulators, REGION).await.is_empty());

    sandbox.write("cattube.toml", NOTIFY);
    let up = sandbox.run().arg("up").expect_code(0).json().doc;
    let stack = Stack {
        emulators,
        sandbox,
        events,
        sns,
        lambda,
        s3,
    };
    up_sets_the_rule_the_permission_and_the_topic(&stack).await;
    the_playback_domain_is_kept_right(&stack, &up).await;
    a_converged_stack_is_ok_and_up_writes_nothing(&stack).await;
    drift_of_the_rule_is_repaired_exactly(&stack).await;
    let jobs = uploads_enter_the_catalog_as_submitted(&stack).await;
    jobs_wait_follows_each_job_to_its_end(&stack, &jobs).await;
    videos_and_open_show_the_catalog_with_urls(&stack).await;
    removing_notify_deletes_the_topic(&stack).await;
}

/// The stack [`job_events_catalog_and_the_commands_on_it`] walks, with the test's own
/// clients.
struct Stack {
    emulators: Emulators,
    sandbox: Sandbox,
    events: aws_sdk_eventbridge::Client,
    sns: aws_sdk_sns::Client,
    lambda: aws_sdk_lambda::Client,
    s3: aws_sdk_s3::Client,
}

/// The stack's job-events rule, as EventBridge describes it.
async fn job_events_rule(
    events: &aws_sdk_eventbridge::Client,
) -> aws_sdk_eventbridge::operation::describe_rule::DescribeRuleOutput {
    let rule = events.describe_rule().name("cattube-job-events");
    rule.send().await.unwrap()
}

async fn up_sets_the_rule_the_permission_and_the_topic(stack: &Stack) {
    let Stack {
        events,
        sns,
        lambda,
        ..
    } = stack;
    let queue_arn = format!("arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/cattube-queue");
    let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}");
    // The rule: the stack's queue's job state changes, to the converter function, tagged.
    let rule = job_events_rule(events).await;
    let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(
        pattern,
        json!({"source": ["aws.mediaconvert"],
               "detail-type": ["MediaConvert Job State Change"],
               "detail": {"queue": [queue_arn]}})
    );
    let targets = events
        .list_targets_by_rule()
        .rule("cattube-job-events")
        .send()
        .await
        .unwrap();
    let targets: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
    assert_eq!(targets, [function_arn.as_str()]);
    let rule_arn = rule.arn().unwrap().to_string();
    let tags = events
        .list_tags_for_resource()
        .resource_arn(&rule_arn)
        .send()
        .await
        .unwrap();
    let pairs = tags.tags().iter().map(|t| (t.key(), t.value()));
    assert!(has_stack_tag(pairs), "{tags:?}");

    // The permission: EventBridge, for that rule only; the S3 trigger's statement stays.
    let policy = function_policy(lambda, FUNCTION).await;
    let statements = policy["Statement"].as_array().unwrap();
    let sids: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(sids.contains(&"cattube-s3-invoke"), "{policy}");
    let events_statement = statements
        .iter()
        .find(|s| s["Sid"] == "cattube-events-invoke")
        .unwrap_or_else(|| panic!("{policy}"));
    assert_eq!(
        events_statement["Principal"]["Service"],
        "events.amazonaws.com"
    );
    assert_eq!(
        events_statement["Condition"]["ArnLike"]["AWS:SourceArn"],
        rule_arn.as_str(),
        "{events_statement}"
    );

    // The topic: encrypted, tagged, both addresses subscribed.
    let topic_arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs");
    let attributes = sns
        .get_topic_attributes()
        .topic_arn(&topic_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        attributes
            .attributes()
            .unwrap()
            .get("KmsMasterKeyId")
            .map(String::as_str),
        Some("alias/aws/sns")
    );
    let subscriptions = sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic_arn)
        .send()
        .await
        .unwrap();
    let mut emails: Vec<&str> = subscriptions
        .subscriptions()
        .iter()
        .filter(|s| s.protocol() == Some("email"))
        .filter_map(|s| s.endpoint())
        .collect();
    emails.sort();
    assert_eq!(emails, ["cat@example.com", "dog@example.org"]);
}

async fn the_playback_domain_is_kept_right(stack: &Stack, up: &Value) {
    let Stack {
        sandbox, lambda, ..
    } = stack;
    // The notifications' playback URLs: the function knows the distribution's domain,
    // generated by CloudFront when it was created; changed by hand, `up` puts it back.
    let playback_domain = || async {
        function_environment(lambda, FUNCTION)
            .await
            .get("PLAYBACK_DOMAIN")
            .cloned()
    };
    let domain = up["outputs"]["distribution_domain"].as_str().unwrap();
    assert_eq!(playback_domain().await.as_deref(), Some(domain));
    let mut variables = function_environment(lambda, FUNCTION).await;
    variables.insert("PLAYBACK_DOMAIN".into(), "d0ther.cloudfront.net".into());
    lambda
        .update_function_configuration()
        .function_name(FUNCTION)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let doc = sandbox.run().arg("plan").expect_code(3).json().doc;
    let line = resource(&doc, "converter-function");
    assert!(line.to_string().contains("PLAYBACK_DOMAIN"), "{line}");
    sandbox.run().arg("up").expect_code(0).json();
    assert_eq!(playback_domain().await.as_deref(), Some(domain));
}

async fn a_converged_stack_is_ok_and_up_writes_nothing(stack: &Stack) {
    let Stack { sandbox, .. } = stack;
    // Converged: no writes, and status says ok for every new resource.
    let doc = sandbox.run().arg("status").expect_read_only().json().doc;
    for id in [
        "job-events-rule",
        "job-events-permission",
        "notification-topic",
    ] {
        let line = resource(&doc, id);
        assert_eq!(line["status"], "ok", "{id}: {line}");
        assert_eq!(line["stage"], "8", "{id}");
    }
    sandbox.run().arg("up").expect_read_only().json();
}

async fn drift_of_the_rule_is_repaired_exactly(stack: &Stack) {
    let Stack {
        sandbox, events, ..
    } = stack;
    let queue_arn = format!("arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/cattube-queue");
    // Drift is repaired exactly: a rule without its queue filter, an unsubscribed address.
    events
        .put_rule()
        .name("cattube-job-events")
        .event_pattern(r#"{"source": ["aws.mediaconvert"]}"#)
        .send()
        .await
        .unwrap();
    let doc = sandbox.run().arg("status").expect_code(3).json().doc;
    let line = resource(&doc, "job-events-rule");
    assert_eq!(line["status"], "drifted", "{line}");
    sandbox.run().arg("up").expect_code(0).json();
    let rule = job_events_rule(events).await;
    let pattern: Value = serde_json::from_str(rule.event_pattern().unwrap()).unwrap();
    assert_eq!(pattern["detail"]["queue"], json!([queue_arn]));
}

async fn uploads_enter_the_catalog_as_submitted(stack: &Stack) -> Vec<Value> {
    let Stack {
        emulators, sandbox, ..
    } = stack;
    // No videos yet.
    let doc = sandbox.run().arg("videos").expect_code(0).json().doc;
    assert_eq!(doc["videos"], json!([]), "{doc}");

    // Two uploads, converted by the handler; MediaConvert's events move their entries.
    let mut jobs = Vec::new();
    for key in ["cats/tabby cat.mp4", "cats/broken cat.mp4"] {
        let result = run_handler(emulators, sandbox, &upload_event(key)).await;
        let id = result["jobs"][0]["job_id"].as_str().unwrap().to_string();
        jobs.push(get_job(emulators, &id));
    }
    let (tabby, broken) = (&jobs[0], &jobs[1]);
    let tabby_id = tabby["Id"].as_str().unwrap();
    let broken_id = broken["Id"].as_str().unwrap();
    let doc = sandbox.run().arg("videos").expect_code(0).json().doc;
    let videos = doc["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2, "{doc}");
    assert_eq!(videos[0]["key"], "cats/tabby cat.mp4");
    assert_eq!(videos[0]["status"], "SUBMITTED");

    move_job(
        emulators,
        tabby_id,
        r#"{"status": "PROGRESSING", "percent": 30}"#,
    );
    run_handler(
        emulators,
        sandbox,
        &job_event(
            tabby,
            json!({"status": "STATUS_UPDATE",
            "jobProgress": {"jobPercentComplete": 30, "currentPhase": "TRANSCODING"}}),
        ),
    )
    .await;
    move_job(
        emulators,
        broken_id,
        r#"{"status": "PROGRESSING", "percent": 10}"#,
    );
    jobs
}

async fn jobs_wait_follows_each_job_to_its_end(stack: &Stack, jobs: &[Value]) {
    let Stack {
        emulators, sandbox, ..
    } = stack;
    let tabby = &jobs[0];
    let broken = &jobs[1];
    let tabby_id = jobs[0]["Id"].as_str().unwrap();
    let broken_id = jobs[1]["Id"].as_str().unwrap();
    // jobs --wait KEY: waits while it is PROGRESSING; exit 0 once COMPLETE.
    let out = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            sandbox
                .run()
                .args(["jobs", "--wait", "cats/tabby cat.mp4"])
                .json()
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(!waiter.is_finished(), "--wait returned while PROGRESSING");
        move_job(
            emulators,
            tabby_id,
            r#"{"status": "COMPLETE", "outputDurationsMs": [[61000, 61000]]}"#,
        );
        waiter.join().unwrap()
    });
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.doc;
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["jobs"][0]["status"], "COMPLETE");

    // The COMPLETE event (paths and durations from outputGroupDetails) fills in the outputs,
    // their codecs from the job's own settings.
    let complete = json!({"status": "COMPLETE", "outputGroupDetails": [{
        "type": "FILE_GROUP",
        "outputDetails": [
            {"outputFilePaths": [format!("s3://{DESTINATION}/cats/tabby cat-hd.mp4")],
             "durationInMs": 61000, "videoDetails": {"widthInPx": 1920, "heightInPx": 1080}},
            {"outputFilePaths": [format!("s3://{DESTINATION}/cats/tabby cat-sd.mp4")],
             "durationInMs": 61000, "videoDetails": {"widthInPx": 256, "heightInPx": 144}}]}]});
    run_handler(emulators, sandbox, &job_event(tabby, complete)).await;

    // jobs --wait (all unfinished): the broken one ends in ERROR, exit 1, named.
    let out = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| sandbox.run().args(["jobs", "--wait"]).output());
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(!waiter.is_finished(), "--wait returned while PROGRESSING");
        move_job(
            emulators,
            broken_id,
            r#"{"status": "ERROR", "errorMessage": "Demuxer: no video track", "errorCode": 1010}"#,
        );
        waiter.join().unwrap()
    });
    let stderr = out.stderr.as_str();
    assert_eq!(out.code, Some(1), "{stderr}");
    assert!(
        stderr.contains(broken_id) && stderr.contains("ERROR") && stderr.contains("broken cat"),
        "{stderr}"
    );
    run_handler(
        emulators,
        sandbox,
        &job_event(
            broken,
            json!({"status": "ERROR", "errorCode": 1010,
                                  "errorMessage": "Demuxer: no video track"}),
        ),
    )
    .await;
}

async fn videos_and_open_show_the_catalog_with_urls(stack: &Stack) {
    let Stack { sandbox, s3, .. } = stack;
    // videos: the catalog with each output's URL.
    let doc = sandbox.run().arg("videos").expect_code(0).json().doc;
    let domain = doc["outputs"]["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let videos = doc["videos"].as_array().unwrap();
    let tabby_video = &videos[0];
    assert_eq!(tabby_video["status"], "COMPLETE");
    assert_eq!(tabby_video["duration_ms"], 61000);
    let outputs = tabby_video["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2, "{doc}");
    assert_eq!(outputs[0]["path"], "cats/tabby cat-hd.mp4");
    assert_eq!(outputs[0]["codec"], "hevc");
    assert_eq!(
        outputs[0]["mime"],
        "video/mp4; codecs=\"hvc1.1.6.L120.90,mp4a.40.2\""
    );
    assert_eq!(
        outputs[0]["url"],
        format!("https://{domain}/cats/tabby%20cat-hd.mp4")
    );
    assert_eq!(outputs[1]["codec"], "av1");
    assert_eq!(
        outputs[1]["mime"],
        "video/mp4; codecs=\"av01.0.00M.08,mp4a.40.2\""
    );
    assert_eq!(videos[1]["status"], "ERROR");
    assert_eq!(videos[1]["error"], "Demuxer: no video track");
    let catalog = s3
        .get_object()
        .bucket(DESTINATION)
        .key("catalog.json")
        .send()
        .await
        .unwrap();
    assert_eq!(catalog.content_type(), Some("application/json"));
    assert_eq!(catalog.cache_control(), Some("no-cache"));
    let text =
        String::from_utf8(catalog.body.collect().await.unwrap().into_bytes().to_vec()).unwrap();
    for private in [SOURCE, ACCOUNT, "Settings", "_cattube"] {
        assert!(
            !text.contains(private),
            "the catalog names {private}: {text}"
        );
    }
    let out = sandbox.run().arg("videos").output();
    let table = out.stdout.as_str();
    assert!(
        table.contains("cats/tabby cat.mp4")
            && table.contains("COMPLETE")
            && table.contains("1:01")
            && table.contains(&format!("https://{domain}/cats/tabby%20cat-sd.mp4"))
            && table.contains("Demuxer: no video track"),
        "{table}"
    );

    // open: the player URL, on one video with #<url-encoded key>; no browser in a test.
    let out = sandbox
        .run()
        .env("BROWSER", "/bin/false-browser-never-started")
        .arg("open")
        .output();
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stdout, format!("https://{domain}/\n"));
    let doc = sandbox
        .run()
        .args(["open", "cats/tabby cat.mp4"])
        .expect_code(0)
        .json()
        .doc;
    assert_eq!(
        doc["player_url"],
        format!("https://{domain}/#cats%2Ftabby%20cat.mp4")
    );
}

async fn removing_notify_deletes_the_topic(stack: &Stack) {
    let Stack {
        emulators,
        sandbox,
        sns,
        ..
    } = stack;
    let topic_arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:cattube-jobs");
    // [notify] removed: `up` deletes the topic (Terraform's reading), the role loses Publish.
    sandbox.write("cattube.toml", "");
    let doc = sandbox.run().arg("plan").expect_code(3).json().doc;
    let line = resource(&doc, "notification-topic");
    assert_eq!(line["action"], "delete", "{line}");
    sandbox.run().arg("up").expect_code(0).json();
    let gone = sns
        .get_topic_attributes()
        .topic_arn(&topic_arn)
        .send()
        .await;
    assert!(gone.is_err(), "the topic is still there");
    let doc = sandbox.run().arg("status").expect_read_only().json().doc;
    let line = resource(&doc, "notification-topic");
    assert_eq!(line["status"], "ok", "{line}");
    let out = sandbox.run().arg("status").output();
    let text = out.stdout.as_str();
    assert!(
        text.lines()
            .any(|l| l.contains("notification-topic") && l.contains("not configured")),
        "{text}"
    );

    // down leaves nothing of any kind, the new ones included.
    sandbox.write("cattube.toml", NOTIFY);
    sandbox.run().arg("up").expect_code(0).json();
    down_leaves_nothing(emulators, sandbox).await;
}
