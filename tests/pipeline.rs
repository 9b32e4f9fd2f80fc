//! The whole pipeline on the local cloud (`scripts/local-cloud`), with no hand-written
//! intermediate: `cattube up` into a fresh cloud, a generated clip uploaded with
//! `cattube upload` (a key with a space, unicode and parentheses), the deployed handler
//! invoked by the S3 event as its role (the 403-for-a-missing-key rule on, so the first
//! upload creates the catalog), MediaConvert converting with ffmpeg as its role, the job
//! events delivered by the stack's rule, then `jobs --wait`, `videos`, every output fetched
//! through the distribution with `curl -fsS` and checked with ffprobe against the profile's
//! template, and the player page in headless Chromium playing the handler-written catalog's
//! video. Once per profile (`tutorial`, `web`, `hls`); with `tutorial`, also a source the
//! MediaConvert role may not read: the job ends in ERROR and `jobs --wait` exits 1 naming it;
//! an upload the function fails on (its template renamed by hand) kept after Lambda's
//! retries in the failures bucket, shown by `status` and `jobs`, and replayed by
//! `jobs --retry-failed` (its record deleted, the job submitted); a key with `+`, `%`, a space,
//! parentheses and unicode found by `jobs --wait` and named exactly by `jobs` and the catalog;
//! and the function's logs in the stack's log group (retention 30 days), which `down` deletes.
//!
//! Needs ffmpeg/ffprobe, chromium and `npm ci` in tests/browser (scripts/test installs them).

use crate::support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{clips, field_strings, repo_root, succeeded, Sandbox};

pub(crate) const REGION: &str = "eu-west-1";
/// The generated clip's frame size: what an output without Width/Height keeps.
const SOURCE: (u64, u64) = (320, 180);

/// The local cloud, started as a user starts it; stopped (SIGTERM) when dropped.
pub(crate) struct LocalCloud {
    child: Child,
    pub(crate) env: HashMap<String, String>,
    _dir: tempfile::TempDir,
}

impl LocalCloud {
    pub(crate) fn start() -> LocalCloud {
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join("env");
        let mut child = Command::new(repo_root().join("scripts/local-cloud"))
            .arg("--env-file")
            .arg(&env_file)
            .args(["--region", REGION, "--retry-delay", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // The export lines are printed once every service answers; the file then exists.
        let mut printed = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        while !printed.contains("CATTUBE_LOCAL_WORKDIR") {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "scripts/local-cloud ended before it was ready"
            );
            printed.push_str(&line);
        }
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let written = std::fs::read_to_string(&env_file).unwrap();
        assert_eq!(written, printed, "the env file holds the printed lines");
        let env = written
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LocalCloud {
            child,
            env,
            _dir: dir,
        }
    }

    pub(crate) fn sandbox(&self) -> Sandbox {
        let mut sandbox = Sandbox::new(&self.env["AWS_ENDPOINT_URL"], REGION);
        sandbox.mediaconvert = Some(self.env["AWS_ENDPOINT_URL_MEDIACONVERT"].clone());
        sandbox
    }

    /// A cattube run with the env file's playback setting added.
    pub(crate) fn cattube<'a>(&self, sandbox: &'a Sandbox, args: &[&str]) -> support::Run<'a> {
        sandbox
            .run()
            .env("CATTUBE_CDN_ENDPOINT", &self.env["CATTUBE_CDN_ENDPOINT"])
            .args(args)
    }

    /// A generated clip named `name`, uploaded with `cattube upload --prefix PREFIX`: its key.
    fn upload_clip(&self, sandbox: &Sandbox, prefix: &str, name: &str) -> String {
        clip(sandbox.path(), name);
        self.cattube(sandbox, &["upload", "--prefix", prefix, name])
            .expect_code(0)
            .output();
        format!("{prefix}/{name}")
    }

    /// A run that must exit 0; the function's log shown when it did not.
    #[track_caller]
    fn assert_succeeded(&self, ran: &support::Ran) {
        assert_eq!(
            ran.code,
            Some(0),
            "{}\nfunction log:\n{}",
            ran.text(),
            self.function_log()
        );
    }

    pub(crate) fn function_log(&self) -> String {
        let logs = Path::new(&self.env["CATTUBE_LOCAL_WORKDIR"]).join("logs");
        std::fs::read_dir(logs)
            .map(|dir| {
                dir.filter_map(|f| std::fs::read_to_string(f.unwrap().path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for LocalCloud {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Two seconds of test pattern with a tone, small, H.264/AAC.
pub(crate) fn clip(dir: &Path, name: &str) -> PathBuf {
    let (width, height) = SOURCE;
    let pattern = format!("testsrc2=size={width}x{height}:rate=24:duration=2");
    clips::h264_with_tone(dir, name, &pattern, 2, &["-preset", "veryfast"])
}

fn curl(url: &str, to: &Path) {
    succeeded(Command::new("curl").args(["-fsS", "-o"]).arg(to).arg(url));
}

/// A playlist's relative URI resolved against `base` as a browser's URL parser does: the
/// characters a URL path may not hold (space, non-ASCII) percent-encoded as UTF-8.
fn resolve(base: &str, relative: &str) -> String {
    let mut path = String::new();
    for byte in relative.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&byte) {
            path.push(byte as char);
        } else {
            path.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{base}/{path}")
}

/// (codec, width, height) of the first video stream, and whether there is an audio stream.
fn probe(path: &Path) -> (String, u64, u64, bool) {
    let out = succeeded(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_streams", "-of", "json"])
            .arg(path),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = doc["streams"].as_array().unwrap();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .expect("a video stream");
    (
        video["codec_name"].as_str().unwrap().to_string(),
        video["width"].as_u64().unwrap(),
        video["height"].as_u64().unwrap(),
        streams.iter().any(|s| s["codec_type"] == "audio"),
    )
}

/// What the profile's template asks of each output: (name modifier, ffprobe codec name,
/// width, height), read from the template cattube registers (never typed here); an output
/// without a size keeps the source's, as MediaConvert does.
fn template_outputs(profile: &str) -> Vec<(String, String, u64, u64)> {
    let path = match profile {
        "tutorial" => repo_root().join("lambda-artifact/job.json"),
        other => repo_root().join(format!("lambda-artifact/profiles/{other}.json")),
    };
    let job: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    job["Settings"]["OutputGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["Outputs"].as_array().unwrap().iter())
        .map(|o| {
            let video = &o["VideoDescription"];
            let codec = match video["CodecSettings"]["Codec"].as_str().unwrap() {
                "H_264" => "h264",
                "H_265" => "hevc",
                "AV1" => "av1",
                "VP9" => "vp9",
                other => panic!("no ffprobe name for {other}"),
            };
            (
                o["NameModifier"].as_str().unwrap_or("").to_string(),
                codec.to_string(),
                video["Width"].as_u64().unwrap_or(SOURCE.0),
                video["Height"].as_u64().unwrap_or(SOURCE.1),
            )
        })
        .collect()
}

/// Polls `cattube jobs` until the upload's job appears (the function runs a few seconds
/// after the S3 event), then `jobs --wait`.
fn wait_for_jobs(cloud: &LocalCloud, sandbox: &Sandbox, count: usize) -> support::Ran {
    let began = Instant::now();
    loop {
        let jobs = cloud.cattube(sandbox, &["jobs"]).json();
        let listed = jobs.doc["jobs"].as_array().map_or(0, |j| j.len());
        if listed >= count {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "no job after 120 s: {}\nfunction log:\n{}",
            jobs.text(),
            cloud.function_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    cloud.cattube(sandbox, &["jobs", "--wait"]).output()
}

/// One pipeline at a time: each converts with ffmpeg and drives a browser.
pub(crate) static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn converts_and_plays(profile: &str) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for tool in ["/usr/bin/ffmpeg", "/usr/bin/ffprobe", "/usr/bin/chromium"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing (scripts/test installs it)"
        );
    }
    let cloud = LocalCloud::start();
    let sandbox = cloud.sandbox();
    sandbox.write("cattube.toml", &format!("[job]\nprofile = \"{profile}\"\n"));
    let up = cloud.cattube(&sandbox, &["up"]).expect_code(0).json();
    let player = up.doc["outputs"]["player_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(player.contains(".localhost:"), "{player}");

    let name = "tabby cat (1) ü.mp4";
    let key = cloud.upload_clip(&sandbox, "cats", name);
    let waited = wait_for_jobs(&cloud, &sandbox, 1);
    cloud.assert_succeeded(&waited);

    // The job is COMPLETE in MediaConvert; its COMPLETE event reaches the catalog through
    // EventBridge and an asynchronous invocation of the function, a moment later.
    let began = Instant::now();
    let videos = loop {
        let videos = cloud.cattube(&sandbox, &["videos"]).expect_code(0).json();
        let complete = videos.doc["videos"][0]["status"] == "COMPLETE";
        if complete || began.elapsed() > Duration::from_secs(60) {
            break videos;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let listed = videos.doc["videos"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", videos.doc);
    let video = &listed[0];
    // The catalog entry the handler wrote from the S3 event and the job events.
    assert_eq!(video["key"], key.as_str(), "{video}");
    assert_eq!(video["status"], "COMPLETE", "{video}");
    let outputs = video["outputs"].as_array().unwrap();
    assert!(!outputs.is_empty(), "{video}");

    let expected = template_outputs(profile);
    let fetched = tempfile::tempdir().unwrap();
    for output in outputs {
        let url = output["url"].as_str().unwrap();
        assert!(url.contains(".localhost:"), "{url}");
        let file = fetched.path().join("output");
        curl(url, &file);
        if output["container"] == "hls" {
            // The master playlist: every variant the template asks for, each one played
            // through its first segment.
            let master = std::fs::read_to_string(&file).unwrap();
            let base = url.rsplit_once('/').unwrap().0;
            let variants: Vec<&str> = master
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .collect();
            assert_eq!(variants.len(), expected.len(), "{master}");
            for (variant, (_, codec, width, height)) in variants.iter().zip(&expected) {
                let playlist = fetched.path().join("variant.m3u8");
                curl(&resolve(base, variant), &playlist);
                let text = std::fs::read_to_string(&playlist).unwrap();
                let segment = text
                    .lines()
                    .find(|l| !l.starts_with('#') && !l.is_empty())
                    .unwrap();
                let variant_url = resolve(base, variant);
                let variant_dir = variant_url.rsplit_once('/').unwrap().0;
                let piece = fetched.path().join("segment.ts");
                curl(&resolve(variant_dir, segment), &piece);
                let (got, w, h, audio) = probe(&piece);
                assert_eq!(
                    (got.as_str(), w, h),
                    (codec.as_str(), *width, *height),
                    "{variant}"
                );
                assert!(audio, "{variant}: no audio");
            }
            assert!(
                master.contains("CODECS=") && master.contains("RESOLUTION="),
                "{master}"
            );
        } else {
            let path = output["path"].as_str().unwrap();
            let (_, codec, width, height) = expected
                .iter()
                .find(|(modifier, ..)| path.ends_with(&format!("{modifier}.mp4")))
                .unwrap_or_else(|| panic!("{path} is no output of the template"));
            let (got, w, h, audio) = probe(&file);
            assert_eq!(
                (got.as_str(), w, h),
                (codec.as_str(), *width, *height),
                "{path}"
            );
            assert!(audio, "{path}: no audio");
        }
    }
    let screenshots = tempfile::tempdir().unwrap();
    let played = support::browse(
        player.trim_end_matches('/'),
        "play",
        &screenshots.path().join("player.png"),
    );
    assert_eq!(played["listed"], 1, "{played}");
    assert!(played["chosen"][key.as_str()].is_string(), "{played}");
    eprintln!(
        "FIGURES pipeline {profile}: outputs {}; played {} (first frame {} ms)",
        outputs.len(),
        played["chosen"][key.as_str()],
        played["first_frame_ms"][key.as_str()]
    );

    if profile == "tutorial" {
        a_source_mediaconvert_may_not_read_fails_its_job(&cloud, &sandbox);
        a_failed_delivery_is_kept_shown_and_replayed(&cloud, &sandbox);
        an_unusual_key_round_trips(&cloud, &sandbox);
    }
    cloud
        .cattube(&sandbox, &["down", "--yes"])
        .expect_code(0)
        .output();
    if profile == "tutorial" {
        let groups = owner_python(
            &cloud,
            r#"print(json.dumps(logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]))"#,
        );
        assert_eq!(groups.trim(), "[]", "down left log groups: {groups}");
    }
}

/// Runs `script` with boto3 clients `s3`, `logs` and `lambda_` as the account owner (the
/// local cloud's own keys), `json` imported; its stdout.
pub(crate) fn owner_python(cloud: &LocalCloud, script: &str) -> String {
    let prelude = format!(
        r#"
import boto3, json, os
kw = dict(endpoint_url=os.environ["E"], region_name="{REGION}",
          aws_access_key_id="local", aws_secret_access_key="local")
s3, logs, lambda_ = boto3.client("s3", **kw), boto3.client("logs", **kw), boto3.client("lambda", **kw)
"#
    );
    let out = succeeded(
        Command::new(support::venv_python())
            .args(["-c", &format!("{prelude}{script}")])
            .env("E", &cloud.env["AWS_ENDPOINT_URL"]),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The function pointed at a template that does not exist (by hand, as drift): an upload's
/// three attempts fail, Lambda keeps the event in the failures bucket, `status` warns,
/// `jobs` lists it with the error; `up` repairs the function, and `jobs --retry-failed
/// --wait KEY` replays it into a COMPLETE job and deletes the record.
fn a_failed_delivery_is_kept_shown_and_replayed(cloud: &LocalCloud, sandbox: &Sandbox) {
    let function = cloud.cattube(sandbox, &["status"]).json().doc["outputs"]["function_arn"]
        .as_str()
        .unwrap()
        .to_string();
    // The function's logs are in the stack's group, which keeps them 30 days.
    let group = owner_python(
        cloud,
        &format!(
            r#"name = "/aws/lambda/" + "{function}".rsplit(":", 1)[1]
group = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
events = logs.filter_log_events(logGroupName=name)["events"]
print(json.dumps({{"retention": group.get("retentionInDays"), "starts": sum("START RequestId" in e["message"] for e in events)}}))"#
        ),
    );
    let group: Value = serde_json::from_str(&group).unwrap();
    assert_eq!(group["retention"], 30, "{group}");
    assert!(group["starts"].as_u64().unwrap() >= 1, "{group}");

    owner_python(
        cloud,
        &format!(
            r#"env = lambda_.get_function_configuration(FunctionName="{function}")["Environment"]["Variables"]
env["JOB_TEMPLATE"] = "no-such-template"
lambda_.update_function_configuration(FunctionName="{function}", Environment={{"Variables": env}})"#
        ),
    );
    let name = "broken (2).mp4";
    let key = cloud.upload_clip(sandbox, "retry", name);
    let began = Instant::now();
    let status = loop {
        let status = cloud.cattube(sandbox, &["status"]).json();
        let warned = status.doc["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|w| w.as_str().unwrap().starts_with("1 failed deliver"))
        });
        if warned {
            break status;
        }
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "no failed delivery after 120 s: {}\nfunction log:\n{}",
            status.text(),
            cloud.function_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        status.text().contains("--retry-failed"),
        "{}",
        status.text()
    );
    let jobs = cloud.cattube(sandbox, &["jobs", &key]).json();
    let failed = jobs.doc["failed_deliveries"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{}", jobs.doc);
    assert_eq!(failed[0]["source_key"], key.as_str(), "{}", jobs.doc);
    assert_eq!(failed[0]["attempts"], 3, "{}", jobs.doc);
    assert!(
        !failed[0]["error"].as_str().unwrap().is_empty(),
        "{}",
        jobs.doc
    );
    assert_eq!(
        jobs.doc["jobs"].as_array().unwrap().len(),
        0,
        "{}",
        jobs.doc
    );

    cloud.cattube(sandbox, &["up"]).expect_code(0).output();
    let replayed = cloud
        .cattube(sandbox, &["jobs", "--retry-failed", &key])
        .expect_code(0)
        .output();
    assert!(
        replayed.text().contains("replayed the failed delivery of"),
        "{}",
        replayed.text()
    );
    // The replayed event reached the repaired function, which took over the claim the
    // failed attempts left (read back as the converter role: the destination bucket's Deny
    // names CloudFront only) and submitted the job: its record is gone and none is new.
    let began = Instant::now();
    loop {
        let after = cloud.cattube(sandbox, &["jobs", &key]).json();
        let records: Vec<&str> = field_strings(&after.doc["failed_deliveries"], "record");
        assert!(
            records.is_empty(),
            "the replay failed again: {}\nfunction log:\n{}",
            after.doc,
            cloud.function_log()
        );
        if !after.doc["jobs"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "the replay submitted no job after 120 s: {}\nfunction log:\n{}",
            after.doc,
            cloud.function_log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        !cloud.function_log().contains("claiming the upload failed"),
        "{}",
        cloud.function_log()
    );
}

/// A key with what S3 accepts but URLs, S3 events (`+` for a space, `%2B` for a `+`) and
/// MediaConvert's user metadata handle differently: a space, parentheses, unicode, `+` and
/// a `%` that looks like an escape. `jobs --wait KEY` finds its job by the key as uploaded,
/// `jobs KEY` and the handler-written catalog (`videos`) name it exactly.
fn an_unusual_key_round_trips(cloud: &LocalCloud, sandbox: &Sandbox) {
    let name = "a+b %41 (2) ü.mp4";
    let key = cloud.upload_clip(sandbox, "odd keys", name);
    let waited = cloud.cattube(sandbox, &["jobs", "--wait", &key]).output();
    cloud.assert_succeeded(&waited);
    let jobs = cloud.cattube(sandbox, &["jobs", &key]).json();
    let listed = jobs.doc["jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", jobs.doc);
    assert_eq!(listed[0]["source_key"], key.as_str(), "{}", jobs.doc);
    let began = Instant::now();
    loop {
        let videos = cloud.cattube(sandbox, &["videos"]).expect_code(0).json();
        let entry = videos.doc["videos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == key.as_str())
            .cloned();
        if entry.as_ref().is_some_and(|v| v["status"] == "COMPLETE") {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "no COMPLETE catalog entry named {key:?}: {}",
            videos.doc
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A bucket-policy Deny of the MediaConvert role on one key: the job cannot read its input.
fn a_source_mediaconvert_may_not_read_fails_its_job(cloud: &LocalCloud, sandbox: &Sandbox) {
    let status = cloud.cattube(sandbox, &["status"]).json();
    let source = status.doc["outputs"]["source_bucket"]
        .as_str()
        .unwrap()
        .to_string();
    let python = support::venv_python();
    let deny = format!(
        r#"
import boto3, json, os
s3 = boto3.client("s3", endpoint_url=os.environ["E"], region_name="{REGION}",
                  aws_access_key_id="local", aws_secret_access_key="local")
policy = json.loads(s3.get_bucket_policy(Bucket="{source}")["Policy"])
policy["Statement"].append({{"Sid": "TestDenyMediaConvert", "Effect": "Deny",
    "Principal": {{"AWS": "*"}}, "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::{source}/secret/*",
    "Condition": {{"ArnLike": {{"aws:PrincipalArn": "arn:aws:iam::*:role/*mediaconvert*"}}}}}})
s3.put_bucket_policy(Bucket="{source}", Policy=json.dumps(policy))
"#
    );
    succeeded(
        Command::new(python)
            .args(["-c", &deny])
            .env("E", &cloud.env["AWS_ENDPOINT_URL"]),
    );
    cloud.upload_clip(sandbox, "secret", "locked.mp4");
    let waited = cloud
        .cattube(sandbox, &["jobs", "--wait", "secret/locked.mp4"])
        .output();
    assert_eq!(waited.code, Some(1), "{}", waited.text());
    assert!(
        waited.text().contains("secret/locked.mp4") && waited.text().contains("ERROR"),
        "{}",
        waited.text()
    );
}

#[test]
fn tutorial_profile_converts_plays_and_a_source_mediaconvert_may_not_read_fails() {
    converts_and_plays("tutorial");
}

#[test]
fn web_profile_converts_and_plays() {
    converts_and_plays("web");
}

#[test]
fn hls_profile_converts_and_plays() {
    converts_and_plays("hls");
}

/// Issue 29: the console tutorial's stack (tests/support/tutorial_stack.py), taken over with
/// `adopt --from-tutorial --yes` and `up`, converts a new upload on the local cloud: the
/// adopted function, now cattube's code on cattube's roles, runs on the tutorial's event
/// entry, the job runs on the tutorial's queue, and the outputs keep the tutorial's names
/// in the tutorial's bucket, served by the tutorial's distribution.
#[test]
fn a_taken_over_tutorial_stack_converts_a_new_upload() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cloud = LocalCloud::start();
    let sandbox = cloud.sandbox();
    let made = succeeded(
        sandbox
            .command_for(&support::venv_python())
            .arg(repo_root().join("tests/support/tutorial_stack.py")),
    );
    let made: Value = serde_json::from_slice(&made.stdout).unwrap();
    cloud
        .cattube(&sandbox, &["adopt", "--from-tutorial", "--yes"])
        .expect_code(0)
        .output();
    let up = cloud.cattube(&sandbox, &["up"]).expect_code(0).json();
    assert_eq!(
        up.doc["outputs"]["distribution_id"],
        made["distribution_id"]
    );
    assert_eq!(up.doc["outputs"]["source_bucket"], "cattube-source");

    clip(sandbox.path(), "tabbycat.mp4");
    cloud
        .cattube(&sandbox, &["upload", "tabbycat.mp4"])
        .expect_code(0)
        .output();
    let waited = wait_for_jobs(&cloud, &sandbox, 1);
    cloud.assert_succeeded(&waited);
    let urls = cloud
        .cattube(&sandbox, &["url", "tabbycat.mp4"])
        .expect_code(0)
        .json();
    let urls: Vec<&str> = field_strings(&urls.doc["urls"], "url");
    let domain = made["distribution_domain"].as_str().unwrap();
    for name in ["tabbycat-hd.mp4", "tabbycat-sd.mp4"] {
        let url = urls
            .iter()
            .find(|u| u.ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("no URL for {name}: {urls:?}"));
        assert!(
            url.contains(domain),
            "{url} is not on the tutorial's distribution"
        );
        let fetched = tempfile::tempdir().unwrap();
        let file = fetched.path().join(name);
        curl(url, &file);
        let (_, _, _, audio) = probe(&file);
        assert!(audio, "{name}: no audio");
    }
    cloud
        .cattube(&sandbox, &["down", "--yes"])
        .expect_code(0)
        .output();
}
