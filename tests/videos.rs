//! Stage 8 against moto and the MediaConvert stand-in, through the built binary: the
//! README's walk-through `up` → `upload` → `jobs --watch` → `url` → `down`. Jobs are made by
//! the real converter function (`lambda-artifact/handler.py`), run with the function's own
//! environment against the stand-in, fed the S3 event the upload would produce.

use crate::support;

use std::time::{Duration, Instant};

use support::{
    field_strings, function_environment, s3_client, sdk_config, standin_post, video_bytes,
    Emulators, Ran,
};

use support::names::{DESTINATION, REGION, SOURCE};

fn move_job(emulators: &Emulators, id: &str, body: &str) {
    standin_post(
        &emulators.standin.url,
        &format!("/_standin/jobs/{id}/status"),
        body,
    );
}

/// What S3 would send the function for these uploaded keys: keys URL-encoded as S3 does
/// (form encoding: space as '+').
fn s3_event(keys: &[(&str, u64, &str)]) -> String {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .enumerate()
        .map(|(i, (key, size, etag))| {
            let encoded: String = url_form_encode(key);
            serde_json::json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": SOURCE, "arn": format!("arn:aws:s3:::{SOURCE}")},
                       "object": {"key": encoded, "size": size, "eTag": etag,
                                  "sequencer": format!("00000000000000000{i}")}}
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

fn url_form_encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b' ' => "+".to_string(),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            // S3 leaves '/' unencoded in event keys.
            b'/' => "/".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The converter function run for real on `event` (see `support::run_converter`), its
/// claims and catalog in moto through the recording proxy.
fn run_handler(
    emulators: &Emulators,
    sandbox: &support::Sandbox,
    env: &std::collections::HashMap<String, String>,
    event: &str,
) -> serde_json::Value {
    support::run_converter(
        emulators,
        sandbox,
        env,
        &[("AWS_ENDPOINT_URL_S3", &emulators.aws.url)],
        REGION,
        event,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_jobs_url_walkthrough() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;

    let small = video_bytes(300 * 1024, 1);
    let large = video_bytes(20 * 1024 * 1024, 2);
    std::fs::write(sandbox.path().join("tabby cat.mp4"), &small).unwrap();
    std::fs::write(sandbox.path().join("big cat video.mov"), &large).unwrap();

    // Before `up`: every stage-8 command refuses, naming the command to run, and writes nothing.
    for args in [
        &["upload", "tabby cat.mp4"][..],
        &["jobs"][..],
        &["url", "cats/tabby cat.mp4"][..],
    ] {
        let doc = sandbox.run().args(args).expect_refused().json().doc;
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains("cattube up"), "{args:?}: {message}");
    }

    sandbox.run().args(["up"]).expect_code(0).json();
    let videos = Videos {
        emulators,
        sandbox,
        s3,
        small,
        large,
    };
    let (domain, etags) = upload_puts_each_file_whole(&videos).await;
    let (env, ids) = the_function_makes_one_job_per_upload(&videos, &etags).await;
    jobs_lists_and_watches_the_jobs(&videos, &ids).await;
    jobs_finds_the_job_of_awkward_keys(&videos, &env).await;
    url_names_the_outputs(&videos, &domain).await;

    let Videos { sandbox, s3, .. } = &videos;
    // down: everything goes, the videos too.
    sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    let buckets = s3.list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty(), "{:?}", buckets.buckets());
}

/// The stack [`upload_jobs_url_walkthrough`] walks, the test's S3 client and the two
/// videos it uploads (`tabby cat.mp4`, small; `big cat video.mov`, multipart).
struct Videos {
    emulators: Emulators,
    sandbox: support::Sandbox,
    s3: aws_sdk_s3::Client,
    small: Vec<u8>,
    large: Vec<u8>,
}

/// Returns the distribution's domain and the uploads' ETags.
async fn upload_puts_each_file_whole(videos: &Videos) -> (String, Vec<String>) {
    let Videos {
        emulators,
        sandbox,
        s3,
        small,
        large,
        ..
    } = videos;
    // upload: two files with spaces, one large enough to go multipart.
    emulators.reset();
    let doc = sandbox
        .run()
        .args([
            "upload",
            "--prefix",
            "cats",
            "tabby cat.mp4",
            "big cat video.mov",
        ])
        .expect_code(0)
        .json()
        .doc;
    assert_eq!(doc["command"], "upload");
    assert!(
        doc.get("jobs").is_none() && doc.get("urls").is_none(),
        "{doc}"
    );
    let domain = doc["outputs"]["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let uploads = doc["uploads"].as_array().unwrap();
    assert_eq!(uploads.len(), 2, "{doc}");
    assert_eq!(uploads[0]["file"], "tabby cat.mp4");
    assert_eq!(uploads[0]["key"], "cats/tabby cat.mp4");
    assert_eq!(uploads[0]["bytes"], small.len());
    assert_eq!(
        uploads[0]["urls"],
        serde_json::json!([
            format!("https://{domain}/cats/tabby%20cat-hd.mp4"),
            format!("https://{domain}/cats/tabby%20cat-sd.mp4")
        ])
    );
    assert_eq!(uploads[1]["key"], "cats/big cat video.mov");
    assert_eq!(uploads[1]["bytes"], large.len());
    let requests = emulators.aws.requests();
    let parts = requests
        .iter()
        .filter(|r| r.method == "PUT" && r.query.contains("partNumber="))
        .count();
    assert_eq!(parts, 3, "20 MiB in 8 MiB parts: {requests:?}");
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.query.starts_with("uploads")),
        "no CreateMultipartUpload: {requests:?}"
    );
    let mut etags = Vec::new();
    for (key, bytes, content_type) in [
        ("cats/tabby cat.mp4", small, "video/mp4"),
        ("cats/big cat video.mov", large, "video/quicktime"),
    ] {
        let got = s3
            .get_object()
            .bucket(SOURCE)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert_eq!(got.content_type(), Some(content_type), "{key}");
        etags.push(
            got.e_tag()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
        );
        let body = got.body.collect().await.unwrap().into_bytes();
        assert!(
            body[..] == bytes[..],
            "{key}: the bytes in the bucket differ"
        );
    }
    // Text output ends with the URLs the outputs will have.
    std::fs::write(sandbox.path().join("kätzchen.mp4"), b"meow").unwrap();
    let out = sandbox.run().args(["upload", "kätzchen.mp4"]).output();
    assert_eq!(out.code, Some(0));
    let text = out.stdout.as_str();
    assert!(
        text.trim_end()
            .ends_with(&format!("https://{domain}/k%C3%A4tzchen-sd.mp4")),
        "{text}"
    );
    (domain, etags)
}

/// Returns the function's environment and the jobs' ids (tabby's, then big's).
async fn the_function_makes_one_job_per_upload(
    videos: &Videos,
    etags: &[String],
) -> (std::collections::HashMap<String, String>, Vec<String>) {
    let Videos {
        emulators,
        sandbox,
        small,
        large,
        ..
    } = videos;
    // The converter function, run for real against the stand-in with the function's own
    // environment, makes one job per upload.
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(&emulators.moto.url, REGION).await);
    let env = function_environment(&lambda, "cattube-converter").await;
    let event = s3_event(&[
        ("cats/tabby cat.mp4", small.len() as u64, &etags[0]),
        ("cats/big cat video.mov", large.len() as u64, &etags[1]),
    ]);
    let result = run_handler(emulators, sandbox, &env, &event);
    let ids: Vec<String> = field_strings(&result["jobs"], "job_id")
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(ids.len(), 2, "{result}");
    (env, ids)
}

async fn jobs_lists_and_watches_the_jobs(videos: &Videos, ids: &[String]) {
    let Videos {
        emulators, sandbox, ..
    } = videos;
    let (tabby, big) = (&ids[0], &ids[1]);
    // jobs: newest first, with source keys, statuses, percent and error.
    move_job(
        emulators,
        tabby,
        r#"{"status": "PROGRESSING", "percent": 40}"#,
    );
    move_job(
        emulators,
        big,
        r#"{"status": "ERROR", "errorMessage": "Demuxer: no video track", "errorCode": 1010}"#,
    );
    let doc = sandbox.run().args(["jobs"]).expect_code(0).json().doc;
    assert!(
        doc.get("uploads").is_none() && doc.get("urls").is_none(),
        "{doc}"
    );
    let jobs = doc["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2, "{doc}");
    assert_eq!(jobs[0]["id"], big.as_str());
    assert_eq!(jobs[0]["source_key"], "cats/big cat video.mov");
    assert_eq!(jobs[0]["status"], "ERROR");
    assert_eq!(jobs[0]["percent"], serde_json::Value::Null);
    assert_eq!(jobs[0]["error"], "Demuxer: no video track");
    assert_eq!(jobs[1]["id"], tabby.as_str());
    assert_eq!(jobs[1]["source_key"], "cats/tabby cat.mp4");
    assert_eq!(jobs[1]["status"], "PROGRESSING");
    assert_eq!(jobs[1]["percent"], 40);
    assert_eq!(jobs[1]["error"], serde_json::Value::Null);
    assert!(
        jobs[1]["submitted"].as_str().unwrap().ends_with('Z'),
        "{doc}"
    );
    let doc = sandbox
        .run()
        .args(["jobs", "--limit", "1"])
        .expect_code(0)
        .json()
        .doc;
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 1);
    let out = sandbox.run().arg("jobs").output();
    let text = out.stdout.as_str();
    assert!(
        text.contains("PROGRESSING") && text.contains("40%") && text.contains("no video track"),
        "{text}"
    );

    // jobs --watch: waits while one is PROGRESSING, returns once it is COMPLETE.
    let started = Instant::now();
    let out = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            sandbox
                .run()
                .args(["jobs", "--watch"])
                .expect_code(0)
                .json()
        });
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            !watcher.is_finished(),
            "--watch returned while a job is PROGRESSING"
        );
        move_job(emulators, tabby, r#"{"status": "COMPLETE"}"#);
        watcher.join().unwrap()
    });
    assert!(started.elapsed() < Duration::from_secs(30));
    let doc = out.doc;
    let jobs = doc["jobs"].as_array().unwrap();
    assert_eq!(jobs[1]["status"], "COMPLETE");
    assert_eq!(jobs[1]["percent"], 100);
}

async fn jobs_finds_the_job_of_awkward_keys(
    videos: &Videos,
    env: &std::collections::HashMap<String, String>,
) {
    let Videos {
        emulators, sandbox, ..
    } = videos;
    // Keys MediaConvert's UserMetadata cannot hold as they are: `jobs KEY` and
    // `jobs --wait KEY` find each one's job, by the exact key (a 1,024-byte one too).
    let long_key = format!("cats/{}.mp4", "y".repeat(1015));
    assert_eq!(long_key.len(), 1024);
    let awkward = [
        "cats/tabby cat (1).mp4",
        "cats/tabby cat _1_.mp4",
        "kätzchen/日本 ٣+50%.mov",
        long_key.as_str(),
    ];
    let records: Vec<(&str, u64, &str)> = awkward
        .iter()
        .map(|k| (*k, 1024, "0123456789abcdef0123456789abcdef"))
        .collect();
    let result = run_handler(emulators, sandbox, env, &s3_event(&records));
    let made: Vec<String> = field_strings(&result["jobs"], "job_id")
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(made.len(), awkward.len(), "{result}");
    for (key, id) in awkward.iter().zip(&made) {
        let doc = sandbox.run().args(["jobs", key]).expect_code(0).json().doc;
        let ids: Vec<&str> = field_strings(&doc["jobs"], "id");
        assert_eq!(ids, [id.as_str()], "jobs {key}: {doc}");
        move_job(emulators, id, r#"{"status": "COMPLETE"}"#);
        let out = sandbox.run().args(["jobs", "--wait", key]).json();
        assert_eq!(out.code, Some(0), "jobs --wait {key}: {}", out.stderr);
        assert_eq!(out.doc["jobs"][0]["id"], id.as_str(), "jobs --wait {key}");
    }
}

async fn url_names_the_outputs(videos: &Videos, domain: &str) {
    let Videos { sandbox, s3, .. } = videos;
    // url: names from the template, in the key's folder, percent-encoded.
    support::put_object(s3, DESTINATION, "cats/tabby cat-hd.mp4", b"converted").await;
    for (key, expected) in [
        (
            "cats/tabby cat.mp4",
            ["cats/tabby%20cat-hd.mp4", "cats/tabby%20cat-sd.mp4"],
        ),
        (
            "kätzchen video.mov",
            [
                "k%C3%A4tzchen%20video-hd.mp4",
                "k%C3%A4tzchen%20video-sd.mp4",
            ],
        ),
        ("a/b/c.mp4", ["a/b/c-hd.mp4", "a/b/c-sd.mp4"]),
    ] {
        let Ran {
            code, doc, stderr, ..
        } = sandbox.run().args(["url", key]).json();
        assert_eq!(code, Some(0), "{key}: {stderr}");
        let urls: Vec<&str> = field_strings(&doc["urls"], "url");
        let expected: Vec<String> = expected
            .iter()
            .map(|p| format!("https://{domain}/{p}"))
            .collect();
        assert_eq!(urls, expected, "{key}");
        let exists: Vec<bool> = doc["urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["exists"].as_bool().unwrap())
            .collect();
        let want = [key == "cats/tabby cat.mp4", false];
        assert_eq!(exists, want, "{key}");
    }
    // Text: exactly one URL per line on stdout, nothing else; the note about the output
    // not converted yet (the -sd one) goes to stderr.
    let out = sandbox.run().args(["url", "cats/tabby cat.mp4"]).output();
    assert_eq!(out.code, Some(0));
    let text = out.stdout.as_str();
    assert_eq!(
        text,
        format!(
            "https://{domain}/cats/tabby%20cat-hd.mp4\nhttps://{domain}/cats/tabby%20cat-sd.mp4\n"
        )
    );
    let note = out.stderr.as_str();
    assert!(note.contains("1 of 2 not there yet"), "{note}");
}

/// `upload` sends nothing when the source bucket no longer notifies the converter function
/// (someone replaced the notification): the file would never be converted. Exit 2, one line
/// that says why, no object written.
#[tokio::test(flavor = "multi_thread")]
async fn upload_refuses_a_source_bucket_that_does_not_notify_the_converter() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    sandbox.run().args(["up"]).expect_code(0).output();
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    support::remove_notifications(&s3, SOURCE).await;
    let file = sandbox.path().join("cat.mp4");
    std::fs::write(&file, video_bytes(1024, 7)).unwrap();
    let ran = sandbox
        .run()
        .args(["upload", file.to_str().unwrap()])
        .expect_refused()
        .output();
    assert!(
        ran.stderr.contains(&format!(
            "source bucket {SOURCE} does not notify the converter function"
        )),
        "{}",
        ran.text()
    );
    let listed = s3.list_objects_v2().bucket(SOURCE).send().await.unwrap();
    assert_eq!(listed.key_count(), Some(0), "{listed:?}");
}
