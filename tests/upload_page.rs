//! The upload page (`upload.html`, `cattube upload-url --page`) in headless Chromium against
//! the local cloud (`scripts/local-cloud`: the deployed handler, MediaConvert converting with
//! ffmpeg, CloudFront serving the page), driven by `tests/browser/upload.test.mjs`:
//! a real clip uploads with a progress bar, converts and plays in the player; a file over the
//! grant's size is refused before anything is sent, and by S3 when the link is edited to
//! allow it; an expired grant is refused as the page opens, and by S3 when the link is
//! edited to look valid; a multipart upload whose part fails every try pauses, and Resume
//! sends only that part and completes it byte-exact.
//!
//! Needs ffmpeg, chromium and `npm ci` in tests/browser (scripts/test installs them).

use crate::pipeline::{clip, LocalCloud, ONE_AT_A_TIME};
use crate::support::{self, succeeded, Sandbox};

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

const MIB: usize = 1024 * 1024;

/// Runs the page driver (tests/browser/upload.test.mjs); its RESULT document.
fn drive(page_url: &str, mode: &str, file: &Path, extra: &[(&str, &str)]) -> Value {
    let file = file.to_string_lossy();
    let mut env = vec![("PAGE_URL", page_url), ("MODE", mode), ("FILE", &file)];
    env.extend_from_slice(extra);
    support::node_result("tests/browser/upload.test.mjs", &env)
}

/// `cattube upload-url --page ARGS`: the grant (with its `page` link).
fn page_grant(cloud: &LocalCloud, sandbox: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["upload-url", "--page"];
    all.extend_from_slice(args);
    let grant = cloud.cattube(sandbox, &all).expect_code(0).json().doc["grant"].clone();
    let page = grant["page"].as_str().unwrap_or_default();
    assert!(
        page.contains(".localhost:") && page.contains("/upload.html#grant="),
        "{grant}"
    );
    grant
}

/// The SHA-256 of an object of the source bucket (None: no such object), read as the
/// account owner.
fn object_sha256(cloud: &LocalCloud, bucket: &str, key: &str) -> Option<String> {
    let script = r#"
import boto3, hashlib, os, sys
s3 = boto3.client("s3", endpoint_url=os.environ["E"], region_name="eu-west-1",
                  aws_access_key_id="local", aws_secret_access_key="local")
try:
    body = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])["Body"].read()
except s3.exceptions.NoSuchKey:
    sys.exit(0)
print(hashlib.sha256(body).hexdigest())
"#;
    let out = succeeded(
        Command::new(support::venv_python())
            .args(["-c", script, bucket, key])
            .env("E", &cloud.env["AWS_ENDPOINT_URL"]),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    (!text.trim().is_empty()).then(|| text.trim().to_string())
}

fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// A real clip of at least `min_bytes`: noise at a high bitrate, so it is large yet short.
fn large_clip(dir: &Path, name: &str, min_bytes: usize) -> std::path::PathBuf {
    succeeded(
        Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg("testsrc2=size=640x360:rate=24:duration=2,noise=alls=80:allf=t")
            .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"])
            .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", name])
            .current_dir(dir),
    );
    let path = dir.join(name);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(
        len >= min_bytes,
        "{name} is {len} bytes, wanted {min_bytes}"
    );
    path
}

#[test]
fn the_upload_page_uploads_converts_plays_and_refuses_in_chromium() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for tool in ["/usr/bin/ffmpeg", "/usr/bin/chromium"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing (scripts/test installs it)"
        );
    }
    let cloud = LocalCloud::start();
    let sandbox = cloud.sandbox();
    // The player's origin: every distribution at http://<domain>.localhost:PORT.
    let cdn_port = cloud.env["CATTUBE_CDN_ENDPOINT"]
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    sandbox.write(
        "cattube.toml",
        &format!(
            "[job]\nprofile = \"web\"\n\n[uploads]\nallowed-origins = [\"http://*.localhost:{cdn_port}\"]\n"
        ),
    );
    let up = cloud.cattube(&sandbox, &["up"]).expect_code(0).json();
    let source = up.doc["outputs"]["source_bucket"]
        .as_str()
        .unwrap_or_else(|| panic!("no source_bucket in {}", up.doc))
        .to_string();
    let dir = sandbox.path();

    // A real clip, through a grant without a key (incoming/<id>/<file name>): uploaded with a
    // progress bar, converted, played by the player the page opens.
    let name = "tabby cat.mp4";
    let small = clip(dir, name);
    let grant = page_grant(&cloud, &sandbox, &["--expires", "15m"]);
    let key = grant["key"].as_str().unwrap().replace("${filename}", name);
    let clip_bytes = std::fs::metadata(&small).unwrap().len();
    // Throttled to take about two seconds, so the bar shows the upload going up.
    let throughput = (clip_bytes / 2).to_string();
    let played = drive(
        grant["page"].as_str().unwrap(),
        "play",
        &small,
        &[("UPLOAD_BYTES_PER_S", &throughput)],
    );
    assert_eq!(played["player_hash"], key.as_str(), "{played}");
    assert_eq!(played["played"], true, "{played}");
    assert!(played["codec"].is_string(), "{played}");
    assert_eq!(played["elsewhere"], serde_json::json!([]), "{played}");
    let progress: Vec<u64> = played["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    // From the browser's upload progress events: rising, some between, ending at 100.
    assert_eq!(progress.last(), Some(&100), "{played}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{played}");
    assert!(progress.iter().any(|p| (1..100).contains(p)), "{played}");
    assert_eq!(
        object_sha256(&cloud, &source, &key),
        Some(sha256_file(&small)),
        "the upload landed byte-exact"
    );
    let videos = cloud.cattube(&sandbox, &["videos"]).expect_code(0).json();
    assert!(
        videos.doc["videos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["key"] == key.as_str() && v["status"] == "COMPLETE"),
        "{}",
        videos.doc
    );

    // Over the grant's size: refused before anything is sent…
    let big = dir.join("big cat.mp4");
    std::fs::write(&big, support::video_bytes(MIB + 1, 5)).unwrap();
    let grant = page_grant(&cloud, &sandbox, &["--max-mb", "1"]);
    let link = grant["page"].as_str().unwrap();
    let refused = drive(link, "refuse", &big, &[("OUTCOME", "oversize")]);
    assert_eq!(
        refused["bucket_requests"],
        serde_json::json!([]),
        "{refused}"
    );
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("takes at most 1.0 MiB")),
        "{refused}"
    );
    // …and, with the link edited to claim more, by S3 (the signed policy), with the same message.
    let refused = drive(
        link,
        "refuse-sent",
        &big,
        &[
            ("OUTCOME", "oversize"),
            ("TAMPER", r#"{"max_bytes": 10485760}"#),
        ],
    );
    assert_eq!(refused["last_bucket_status"], 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("takes at most")),
        "{refused}"
    );
    let big_key = grant["key"]
        .as_str()
        .unwrap()
        .replace("${filename}", "big cat.mp4");
    assert_eq!(object_sha256(&cloud, &source, &big_key), None);

    // An expired grant: refused as the page opens…
    let grant = page_grant(&cloud, &sandbox, &["--expires", "1s"]);
    std::thread::sleep(Duration::from_millis(1500));
    let link = grant["page"].as_str().unwrap();
    let refused = drive(link, "open-refused", &small, &[("OUTCOME", "expired")]);
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired")),
        "{refused}"
    );
    // …and, with the link edited to look valid, by S3 (the policy's signed expiration).
    let refused = drive(
        link,
        "refuse-sent",
        &small,
        &[
            ("OUTCOME", "expired"),
            ("TAMPER", r#"{"expires_at": "2999-01-01T00:00:00Z"}"#),
        ],
    );
    assert_eq!(refused["last_bucket_status"], 403, "{refused}");
    let expired_key = grant["key"].as_str().unwrap().replace("${filename}", name);
    assert_eq!(object_sha256(&cloud, &source, &expired_key), None);

    // Multipart: part 2 fails every try; the page pauses, Resume sends part 2 only, and the
    // upload completes byte-exact.
    let long = large_clip(dir, "long cat.mp4", 10 * MIB + 1);
    let size = std::fs::metadata(&long).unwrap().len().to_string();
    let grant = page_grant(
        &cloud,
        &sandbox,
        &[
            "--multipart",
            "--size",
            &size,
            "--parts",
            "2",
            "cats/long cat.mp4",
        ],
    );
    let resumed = drive(
        grant["page"].as_str().unwrap(),
        "resume",
        &long,
        &[("FAIL_PART", "2")],
    );
    assert!(resumed["aborted"].as_u64().unwrap() >= 2, "{resumed}");
    assert!(
        resumed["paused_message"]
            .as_str()
            .is_some_and(|m| m.contains("Part 2 failed")),
        "{resumed}"
    );
    assert_eq!(
        resumed["sent_after_resume"],
        serde_json::json!(["PUT 2"]),
        "Resume sends only the failed part: {resumed}"
    );
    assert_eq!(
        object_sha256(&cloud, &source, "cats/long cat.mp4"),
        Some(sha256_file(&long)),
        "{resumed}"
    );
    eprintln!(
        "FIGURES upload page: progress samples {:?}; part requests before Resume {}, after {}",
        progress, resumed["sent_before_resume"], resumed["sent_after_resume"]
    );
    cloud
        .cattube(&sandbox, &["down", "--yes"])
        .expect_code(0)
        .output();
}
