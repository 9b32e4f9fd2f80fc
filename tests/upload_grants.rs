//! `cattube upload-url` against moto (whose POST Object checks the policy as S3 does:
//! tests/support/s3_post_policy.py), used by a client that is not cattube: curl, with no
//! AWS credentials. What the grant allows lands byte-exact; a key outside it, a larger file,
//! another content type and an expired grant are refused and store nothing; a multipart
//! grant's parts go up in any order, a failed part is sent again, and the upload completes.

use crate::support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{
    resource, s3_client, strings, two_part_grant, video_bytes as bytes, Emulators, Sandbox,
};

use support::names::{REGION, SOURCE};

/// curl's exit code, stdout and stderr; no AWS credentials in its environment.
fn curl(args: &[String]) -> (i32, String) {
    let out = Command::new("curl")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .output()
        .expect("run curl");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// POSTs `file` with the grant's form fields (`change` edits them first).
fn post(
    grant: &Value,
    file: &Path,
    change: impl FnOnce(&mut Vec<(String, String)>),
) -> (i32, String) {
    let mut fields: Vec<(String, String)> = grant["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    if !fields.iter().any(|(k, _)| k == "Content-Type") {
        fields.push(("Content-Type".into(), "video/mp4".into()));
    }
    change(&mut fields);
    let mut args = vec!["-sS".to_string(), "--fail-with-body".to_string()];
    for (k, v) in fields {
        args.push("--form-string".into());
        args.push(format!("{k}={v}"));
    }
    args.push("-F".into());
    args.push(format!("file=@{}", file.display()));
    args.push(grant["url"].as_str().unwrap().to_string());
    curl(&args)
}

fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    fields.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.to_string();
}

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    match s3.get_object().bucket(SOURCE).key(key).send().await {
        Ok(out) => Some(out.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

async fn keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let listed = s3.list_objects_v2().bucket(SOURCE).send().await.unwrap();
    listed
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect()
}

fn grant(sandbox: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["upload-url"];
    all.extend_from_slice(args);
    let doc = sandbox.run().args(&all).expect_code(0).json().doc;
    doc["grant"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn post_grants_allow_exactly_what_they_say() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;

    // Before `up`: refused, exit 2, naming the remedy.
    let ran = sandbox
        .run()
        .args(["upload-url", "cats/a.mp4"])
        .expect_refused()
        .output();
    assert!(ran.stderr.contains("cattube up"), "{}", ran.text());
    sandbox.run().args(["up"]).expect_code(0).output();

    let small = sandbox.path().join("tabby cat.mp4");
    std::fs::write(&small, bytes(300 * 1024, 1)).unwrap();
    let large = sandbox.path().join("large.mp4");
    std::fs::write(&large, bytes(1024 * 1024 + 1, 2)).unwrap();

    // The text output is a curl command line: FILE replaced, it uploads, byte-exact.
    let ran = sandbox
        .run()
        .args(["upload-url", "cats/tabby cat.mp4", "--max-mb", "1"])
        .expect_code(0)
        .output();
    let line = ran
        .stdout
        .trim()
        .replace("file=@FILE", &format!("file=@{}", small.display()));
    assert!(line.starts_with("curl "), "{}", ran.text());
    let out = Command::new("sh")
        .arg("-c")
        .arg(&line)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{line}\n{out:?}");
    assert_eq!(
        object(&s3, "cats/tabby cat.mp4").await.as_deref(),
        Some(&std::fs::read(&small).unwrap()[..])
    );

    // Each way out of the grant is refused by S3's policy check and stores nothing.
    let g = grant(&sandbox, &["cats/b.mp4", "--max-mb", "1"]);
    let (code, body) = post(&g, &small, |f| set(f, "key", "cats/elsewhere.mp4"));
    assert_ne!(code, 0);
    assert!(body.contains("Policy Condition failed"), "{body}");
    let (code, body) = post(&g, &large, |_| {});
    assert_ne!(code, 0);
    assert!(body.contains("EntityTooLarge"), "{body}");
    let (code, body) = post(&g, &small, |f| set(f, "Content-Type", "text/html"));
    assert_ne!(code, 0);
    assert!(body.contains("Policy Condition failed"), "{body}");
    let (code, body) = post(&g, &small, |f| {
        f.push(("x-amz-meta-owner".into(), "mallory".into()))
    });
    assert_ne!(code, 0);
    assert!(body.contains("Extra input fields"), "{body}");

    let short = grant(&sandbox, &["cats/late.mp4", "--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, body) = post(&short, &small, |_| {});
    assert_ne!(code, 0);
    assert!(body.contains("Policy expired"), "{body}");
    assert_eq!(keys(&s3).await, vec!["cats/tabby cat.mp4".to_string()]);

    // The grant without a key: any file name below its own incoming/<id>/, nothing else.
    let g = grant(&sandbox, &["--max-mb", "1"]);
    let prefix = g["key"]
        .as_str()
        .unwrap()
        .trim_end_matches("${filename}")
        .to_string();
    assert!(
        prefix.starts_with("incoming/") && prefix.len() > "incoming/".len() + 8,
        "{g}"
    );
    let (code, body) = post(&g, &small, |_| {});
    assert_eq!(code, 0, "{body}");
    assert!(object(&s3, &format!("{prefix}tabby cat.mp4"))
        .await
        .is_some());
    let (code, _) = post(&g, &small, |f| set(f, "key", "incoming/other/x.mp4"));
    assert_ne!(code, 0);
    let other = grant(&sandbox, &[]);
    assert_ne!(other["key"], g["key"], "every grant has its own prefix");

    // Bad input: exit 2, one line naming the flag, no request at all.
    for (args, names) in [
        (&["upload-url", "--expires", "8d"][..], "--expires"),
        (
            &["upload-url", "--content-type", "video"][..],
            "--content-type",
        ),
        (&["upload-url", "--max-mb", "0"][..], "--max-mb"),
        (&["upload-url", "--max-mb", "6000"][..], "--max-mb"),
        (&["upload-url", "cats/"][..], "KEY"),
        (&["upload-url", "--parts", "2", "a.mp4"][..], "--parts"),
        (&["upload-url", "--multipart", "a.mp4"][..], "--size"),
        (&["upload-url", "--size", "9", "a.mp4"][..], "--size"),
        (
            &[
                "upload-url",
                "--multipart",
                "--size",
                "1000",
                "--parts",
                "2",
                "a.mp4",
            ][..],
            "--parts",
        ),
        (
            &["upload-url", "--multipart", "--size", "0", "a.mp4"][..],
            "--size",
        ),
    ] {
        let ran = sandbox.run().args(args).expect_code(2).output();
        assert!(ran.requests.is_empty(), "{args:?}: {:?}", ran.requests);
        assert!(ran.stderr.contains(names), "{args:?}: {}", ran.text());
        assert_eq!(
            ran.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            ran.text()
        );
    }
}

/// PUTs `file` to a presigned URL: Ok(the ETag) or Err(curl's output, S3's error in it).
fn put_part(url: &str, file: &Path) -> Result<String, String> {
    let (code, out) = curl(&[
        "-sS".into(),
        "--fail-with-body".into(),
        "-D".into(),
        "-".into(),
        "-T".into(),
        file.display().to_string(),
        url.to_string(),
    ]);
    if code != 0 {
        return Err(out);
    }
    Ok(out
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("etag:")
                .then(|| l[5..].trim().to_string())
        })
        .unwrap_or_else(|| panic!("no ETag in {out}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multipart_grant_resumes_a_failed_part_and_completes() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    sandbox.run().args(["up"]).expect_code(0).output();

    let video = bytes(11 * 1024 * 1024 + 123_457, 3);
    let size = video.len().to_string();
    let g = grant(&sandbox, &two_part_grant(&size, "cats/long cat.mp4"));
    let parts: Vec<&str> = strings(&g["parts"]);
    // The grant fixes the part count and each part's length (the last holds the rest).
    assert_eq!(parts.len(), 2, "{g}");
    let part = g["part_bytes"].as_u64().unwrap() as usize;
    assert_eq!(part, video.len().div_ceil(2), "{g}");
    assert_eq!(g["size"], video.len(), "{g}");
    for url in &parts {
        assert!(
            cattube_stages::upload_grant::signs_content_length(url),
            "{url}"
        );
    }
    let dir = sandbox.path();
    let chunk = |n: usize, data: &[u8]| {
        let path = dir.join(format!("part{n}"));
        std::fs::write(&path, data).unwrap();
        path
    };
    // A part longer or shorter than its URL signs is refused: the grant bounds the upload.
    for wrong in [
        bytes(1000, 9),
        bytes(video.len() - part + 1, 9),
        bytes(video.len() - part - 1, 9),
    ] {
        let refused = put_part(parts[1], &chunk(9, &wrong)).unwrap_err();
        assert!(refused.contains("SignatureDoesNotMatch"), "{refused}");
    }
    // Part 2 first (parallel clients finish in any order), and its first try "fails": it
    // sent the wrong bytes; sent again with the same URL, the last one counts.
    put_part(parts[1], &chunk(8, &bytes(video.len() - part, 8))).unwrap();
    let etag2 = put_part(parts[1], &chunk(2, &video[part..])).unwrap();
    let etag1 = put_part(parts[0], &chunk(1, &video[..part])).unwrap();
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag1}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{etag2}</ETag></Part></CompleteMultipartUpload>"
    );
    let (code, out) = curl(&[
        "-sS".into(),
        "--fail-with-body".into(),
        "-X".into(),
        "POST".into(),
        // Not curl's default form type: moto would read the document as a form.
        "-H".into(),
        "Content-Type: application/xml".into(),
        "--data-binary".into(),
        complete,
        g["complete"].as_str().unwrap().to_string(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        object(&s3, "cats/long cat.mp4").await.as_deref(),
        Some(&video[..])
    );
    let head = s3
        .head_object()
        .bucket(SOURCE)
        .key("cats/long cat.mp4")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("video/mp4"));

    // An expired part URL is refused, and so is one whose signature was tampered with.
    let short = grant(
        &sandbox,
        &[
            "--multipart",
            "--size",
            "1000",
            "--expires",
            "1s",
            "cats/short.mp4",
        ],
    );
    let url = short["parts"][0].as_str().unwrap();
    let tampered = url.replace("partNumber=1", "partNumber=2");
    let refused = put_part(&tampered, &chunk(7, &bytes(1000, 7))).unwrap_err();
    assert!(refused.contains("SignatureDoesNotMatch"), "{refused}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let refused = put_part(url, &chunk(7, &bytes(1000, 7))).unwrap_err();
    assert!(refused.contains("Request has expired"), "{refused}");
}

/// A CORS preflight from `origin` for `method` on an object of the source bucket: the
/// status and the Access-Control-* headers, lower-cased.
fn preflight(endpoint: &str, origin: &str, method: &str) -> (u16, Vec<String>) {
    // What a page's PUT of a Blob asks; a GET asks for no header.
    let headers = if method == "GET" { "" } else { "content-type" };
    let (code, out) = curl(&[
        "-sS".into(),
        "-o".into(),
        "/dev/null".into(),
        "-D".into(),
        "-".into(),
        "-X".into(),
        "OPTIONS".into(),
        "-H".into(),
        format!("Origin: {origin}"),
        "-H".into(),
        format!("Access-Control-Request-Method: {method}"),
        "-H".into(),
        format!("Access-Control-Request-Headers: {headers}"),
        format!("{endpoint}/{SOURCE}/cats/a.mp4"),
    ]);
    assert_eq!(code, 0, "{out}");
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers = out
        .lines()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| l.starts_with("access-control-"))
        .collect();
    (status, headers)
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_follows_uploads_allowed_origins_and_the_lifecycle_rule_aborts_unfinished_uploads() {
    use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let moto = &emulators.moto.url;

    // Without [uploads]: no CORS at all; the lifecycle rule is there.
    sandbox.run().args(["up"]).expect_code(0).output();
    let err = s3
        .get_bucket_cors()
        .bucket(SOURCE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("NoSuchCORSConfiguration")
    );
    let (status, headers) = preflight(moto, "https://cats.example", "PUT");
    assert_eq!(status, 403, "{headers:?}");
    let rules = s3
        .get_bucket_lifecycle_configuration()
        .bucket(SOURCE)
        .send()
        .await
        .unwrap();
    let ours = rules
        .rules()
        .iter()
        .find(|r| r.id() == Some("cattube-abort-incomplete-uploads"))
        .expect("the lifecycle rule");
    assert_eq!(
        ours.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(1)
    );
    assert_eq!(ours.status().as_str(), "Enabled");

    // Someone else's CORS rule is kept through every write.
    let theirs = CorsRule::builder()
        .id("theirs")
        .allowed_origins("https://other.example")
        .allowed_methods("GET")
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket(SOURCE)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(theirs.clone())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    sandbox.write(
        "cattube.toml",
        "[uploads]\nallowed-origins = [\"https://cats.example\"]\n",
    );
    let doc = sandbox.run().args(["plan"]).expect_code(3).json().doc;
    assert_eq!(resource(&doc, "source-cors")["action"], "create", "{doc}");
    sandbox.run().args(["up"]).expect_code(0).output();

    the_preflights_follow_our_rule_and_keep_theirs(moto);
    sandbox.run().args(["status"]).expect_code(0).output();

    // Drift: our rule widened to any origin (nothing else changed), the lifecycle rule
    // disabled: found, repaired.
    let live = s3.get_bucket_cors().bucket(SOURCE).send().await.unwrap();
    let mut widened = live
        .cors_rules()
        .iter()
        .find(|r| r.id() == Some("cattube-uploads"))
        .unwrap()
        .clone();
    widened.allowed_origins = vec!["*".into()];
    s3.put_bucket_cors()
        .bucket(SOURCE)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(theirs.clone())
                .cors_rules(widened)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut disabled = ours.clone();
    disabled.status = aws_sdk_s3::types::ExpirationStatus::Disabled;
    s3.put_bucket_lifecycle_configuration()
        .bucket(SOURCE)
        .lifecycle_configuration(
            aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
                .rules(disabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    for id in ["source-cors", "source-lifecycle"] {
        assert_eq!(resource(&doc, id)["status"], "drifted", "{id}: {doc}");
    }
    sandbox.run().args(["up"]).expect_code(0).output();
    sandbox.run().args(["status"]).expect_code(0).output();
    let (status, _) = preflight(moto, "https://evil.example", "PUT");
    assert_eq!(status, 403, "the wildcard is gone");

    // [uploads] removed: `up` removes our rule only.
    sandbox.write("cattube.toml", "");
    sandbox.run().args(["up"]).expect_code(0).output();
    let rules = s3.get_bucket_cors().bucket(SOURCE).send().await.unwrap();
    let ids: Vec<_> = rules
        .cors_rules()
        .iter()
        .map(|r| r.id().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["theirs"]);

    an_origin_that_is_not_one_is_refused(&sandbox);
}

/// With `[uploads] allowed-origins = ["https://cats.example"]` and someone else's GET rule
/// for `https://other.example`: S3's preflight answers as each rule says, and only so.
fn the_preflights_follow_our_rule_and_keep_theirs(moto: &str) {
    let (status, headers) = preflight(moto, "https://cats.example", "PUT");
    assert_eq!(status, 200, "{headers:?}");
    assert!(
        headers.contains(&"access-control-allow-origin: https://cats.example".into()),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h == "access-control-expose-headers: etag"),
        "{headers:?}"
    );
    let (status, headers) = preflight(moto, "https://cats.example", "POST");
    assert_eq!(status, 200, "{headers:?}");
    let (status, headers) = preflight(moto, "https://evil.example", "PUT");
    assert_eq!(status, 403, "{headers:?}");
    assert!(
        !headers
            .iter()
            .any(|h| h.starts_with("access-control-allow-origin")),
        "{headers:?}"
    );
    let (status, _) = preflight(moto, "https://cats.example", "DELETE");
    assert_eq!(status, 403, "a method the rule does not list");
    let (status, _) = preflight(moto, "https://other.example", "GET");
    assert_eq!(status, 200, "their rule is kept");
}

fn an_origin_that_is_not_one_is_refused(sandbox: &support::Sandbox) {
    // An origin that is not one: exit 2, the key named, nothing sent.
    for bad in [
        "cats.example",
        "https://cats.example/upload",
        "https://*.*.example",
    ] {
        sandbox.write(
            "cattube.toml",
            &format!("[uploads]\nallowed-origins = [\"{bad}\"]\n"),
        );
        let ran = sandbox.run().args(["up"]).expect_code(2).output();
        assert!(ran.requests.is_empty(), "{bad}");
        assert!(
            ran.stderr.contains("[uploads] allowed-origins"),
            "{bad}: {}",
            ran.text()
        );
    }
}
