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
use crate::support::{self, clips, succeeded, two_part_grant, Sandbox};

use std::path::{Path, PathBuf};
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
fn large_clip(dir: &Path, name: &str, min_bytes: usize) -> PathBuf {
    let noise = "testsrc2=size=640x360:rate=24:duration=2,noise=alls=80:allf=t";
    let path = clips::h264_with_tone(dir, name, noise, 2, &["-preset", "ultrafast", "-qp", "0"]);
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
    let page = UploadPage {
        cloud: &cloud,
        sandbox: &sandbox,
        source: &source,
    };

    let (small, progress) = page.uploads_converts_and_plays("tabby cat.mp4");
    page.refuses_a_file_over_the_grants_size();
    page.refuses_an_expired_grant(&small);
    let resumed = page.resumes_a_multipart_upload_sending_only_the_failed_part();
    eprintln!(
        "FIGURES upload page: progress samples {:?}; part requests before Resume {}, after {}",
        progress, resumed["sent_before_resume"], resumed["sent_after_resume"]
    );
    cloud
        .cattube(&sandbox, &["down", "--yes"])
        .expect_code(0)
        .output();
}

/// A stack on the local cloud whose upload page the phases of the test drive.
struct UploadPage<'a> {
    cloud: &'a LocalCloud,
    sandbox: &'a Sandbox,
    /// The source bucket, where an upload lands.
    source: &'a str,
}

impl UploadPage<'_> {
    /// `cattube upload-url --page ARGS`: the grant (with its `page` link).
    fn grant(&self, args: &[&str]) -> Value {
        let mut all = vec!["upload-url", "--page"];
        all.extend_from_slice(args);
        let ran = self.cloud.cattube(self.sandbox, &all).expect_code(0).json();
        let grant = ran.doc["grant"].clone();
        let page = grant["page"].as_str().unwrap_or_default();
        assert!(
            page.contains(".localhost:") && page.contains("/upload.html#grant="),
            "{grant}"
        );
        grant
    }

    /// The SHA-256 of the object the grant's key names for `file_name` (None: no such object).
    fn landed(&self, grant: &Value, file_name: &str) -> Option<String> {
        let key = grant["key"]
            .as_str()
            .unwrap()
            .replace("${filename}", file_name);
        object_sha256(self.cloud, self.source, &key)
    }

    /// A real clip, through a grant without a key (incoming/<id>/<file name>): uploaded
    /// with a progress bar, converted, played by the player the page opens. The clip and
    /// the progress the bar showed.
    fn uploads_converts_and_plays(&self, name: &str) -> (PathBuf, Vec<u64>) {
        let small = clip(self.sandbox.path(), name);
        let grant = self.grant(&["--expires", "15m"]);
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
            self.landed(&grant, name),
            Some(sha256_file(&small)),
            "the upload landed byte-exact"
        );
        let videos = self
            .cloud
            .cattube(self.sandbox, &["videos"])
            .expect_code(0)
            .json();
        assert!(
            videos.doc["videos"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["key"] == key.as_str() && v["status"] == "COMPLETE"),
            "{}",
            videos.doc
        );
        (small, progress)
    }

    /// Over the grant's size: refused before anything is sent, and, with the link edited to
    /// claim more, by S3 (the signed policy), with the same message.
    fn refuses_a_file_over_the_grants_size(&self) {
        let big = self.sandbox.path().join("big cat.mp4");
        std::fs::write(&big, support::video_bytes(MIB + 1, 5)).unwrap();
        let grant = self.grant(&["--max-mb", "1"]);
        let link = grant["page"].as_str().unwrap();
        let refused = drive(link, "refuse", &big, &[("OUTCOME", "oversize")]);
        assert_eq!(
            refused["bucket_requests"],
            serde_json::json!([]),
            "{refused}"
        );
        assert_message(&refused, "takes at most 1.0 MiB");
        let tampered = [
            ("OUTCOME", "oversize"),
            ("TAMPER", r#"{"max_bytes": 10485760}"#),
        ];
        let refused = drive(link, "refuse-sent", &big, &tampered);
        assert_eq!(refused["last_bucket_status"], 400, "{refused}");
        assert_message(&refused, "takes at most");
        assert_eq!(self.landed(&grant, "big cat.mp4"), None);
    }

    /// An expired grant: refused as the page opens, and, with the link edited to look
    /// valid, by S3 (the policy's signed expiration).
    fn refuses_an_expired_grant(&self, clip: &Path) {
        let grant = self.grant(&["--expires", "1s"]);
        std::thread::sleep(Duration::from_millis(1500));
        let link = grant["page"].as_str().unwrap();
        let refused = drive(link, "open-refused", clip, &[("OUTCOME", "expired")]);
        assert_message(&refused, "expired");
        let tampered = [
            ("OUTCOME", "expired"),
            ("TAMPER", r#"{"expires_at": "2999-01-01T00:00:00Z"}"#),
        ];
        let refused = drive(link, "refuse-sent", clip, &tampered);
        assert_eq!(refused["last_bucket_status"], 403, "{refused}");
        let name = clip.file_name().unwrap().to_str().unwrap();
        assert_eq!(self.landed(&grant, name), None);
    }

    /// Multipart: part 2 fails every try; the page pauses, Resume sends part 2 only, and
    /// the upload completes byte-exact. What the driver measured.
    fn resumes_a_multipart_upload_sending_only_the_failed_part(&self) -> Value {
        let long = large_clip(self.sandbox.path(), "long cat.mp4", 10 * MIB + 1);
        let size = std::fs::metadata(&long).unwrap().len().to_string();
        let grant = self.grant(&two_part_grant(&size, "cats/long cat.mp4"));
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
            object_sha256(self.cloud, self.source, "cats/long cat.mp4"),
            Some(sha256_file(&long)),
            "{resumed}"
        );
        resumed
    }
}

/// The page's message (the driver's `message`) says `what`.
#[track_caller]
fn assert_message(refused: &Value, what: &str) {
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains(what)),
        "{refused}"
    );
}
