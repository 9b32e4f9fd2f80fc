//! The player page in a real browser. `cattube up` on the local cloud (`scripts/local-cloud`)
//! uploads the page (the `player-page` step); the test makes tiny real clips with ffmpeg
//! (H.264, AV1, HEVC tagged `hvc1`, and an H.264 HLS ladder), puts them and a `catalog.json`
//! in the destination bucket as the converter function would, and drives Debian's chromium
//! with Playwright (`tests/browser/player.test.mjs`) through the local cloud's CloudFront:
//! the stack's own distribution, its default root object, cache behaviors and origin access
//! control, as `player_url` names it.
//!
//! Needs /usr/bin/chromium, /usr/bin/ffmpeg and `npm ci` in tests/browser (`.ci/run` installs
//! them); without them the test fails, naming what is missing.

use crate::support;

use std::path::{Path, PathBuf};

use crate::pipeline::{LocalCloud, ONE_AT_A_TIME};
use serde_json::{json, Value};
use support::names::REGION;
use support::{browse, clips, repo_root, run_python, s3_client};

fn need(path: &str, how: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: {how}");
}

/// What every clip of the page ends with: 4:2:0 as browsers decode it, and AAC audio.
const PIXELS_AND_AUDIO: [&str; 6] = ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k"];

/// Two seconds of test pattern and a tone, encoded with `video` (ffmpeg options).
fn clip(dir: &Path, name: &str, size: &str, video: &[&str]) -> PathBuf {
    let source = format!("testsrc2=size={size}:rate=24:duration=2");
    let inputs = clips::pattern_and_tone(&source, 2);
    let inputs = inputs.iter().map(String::as_str);
    let output = video.iter().chain(&PIXELS_AND_AUDIO).copied();
    clips::ffmpeg(
        dir,
        inputs
            .chain(output)
            .chain(["-movflags", "+faststart", name]),
    );
    dir.join(name)
}

/// The stack's destination bucket, written as the converter function writes it.
struct Destination {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl Destination {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str, cache: Option<&str>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .content_type(content_type)
            .set_cache_control(cache.map(String::from))
            .send()
            .await
            .unwrap();
    }

    /// An output file, typed by its extension as MediaConvert types it.
    async fn put_file(&self, key: &str, path: &Path) {
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("m3u8") => "application/vnd.apple.mpegurl",
            Some("ts") => "video/mp2t",
            _ => "video/mp4",
        };
        let body = std::fs::read(path).unwrap();
        self.put(key, body, content_type, None).await;
    }

    /// The catalog as the converter function writes it (lambda-artifact/handler.py, "The
    /// catalog"; README.md's catalog section).
    async fn put_catalog(&self, videos: Value) {
        let body = json!({"version": 1, "videos": videos}).to_string();
        self.put(
            "catalog.json",
            body.into_bytes(),
            "application/json",
            Some("no-cache"),
        )
        .await;
    }
}

fn entry(key: &str, status: &str, submitted: &str, outputs: Value) -> Value {
    json!({"key": key, "status": status, "percent": if status == "COMPLETE" { json!(100) } else { json!(42) },
           "job_id": format!("1700000000000-{}", key.len()), "submitted": submitted, "updated": submitted,
           "duration_ms": 2000, "error": null, "outputs": outputs})
}

/// The RFC 6381 codecs string the converter function (handler.py) writes for a 320x180
/// output with these video codec settings and AAC audio.
fn handler_codecs(video_codec_settings: &str) -> String {
    let script = "import json, sys, handler\n\
                  video = json.loads(sys.argv[1])\n\
                  output = {'AudioDescriptions': [{'CodecSettings': {'Codec': 'AAC'}}]}\n\
                  print(handler.video_codecs(video, 320, 180) + ',' + handler.audio_codecs(output))";
    let dir = repo_root().join("lambda-artifact");
    run_python(&dir, &["-c", script, video_codec_settings])
        .trim()
        .to_string()
}

fn output(path: &str, container: &str, codec: &str, height: u32, mime: &str) -> Value {
    json!({"path": path, "container": container, "codec": codec, "width": height * 16 / 9,
           "height": height, "bitrate": 200000, "mime": mime})
}

// The guard only keeps the local clouds of different tests from running at once (each test
// has its own runtime): no task of this test waits for it.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread")]
async fn the_player_plays_in_chromium() {
    need(
        "/usr/bin/chromium",
        "apt-get install chromium (.ci/run does)",
    );
    need("/usr/bin/ffmpeg", "apt-get install ffmpeg (.ci/run does)");
    need(
        repo_root()
            .join("tests/browser/node_modules/playwright-core")
            .to_str()
            .unwrap(),
        "run `npm ci` in tests/browser (.ci/run does)",
    );
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cloud = LocalCloud::start();
    let sandbox = cloud.sandbox();
    let up = cloud.cattube(&sandbox, &["up"]).expect_code(0).json();
    let outputs = &up.doc["outputs"];
    let site = outputs["player_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no player_url in {}", up.doc))
        .trim_end_matches('/');
    assert!(site.contains(".localhost:"), "{site}");
    let destination = Destination {
        s3: s3_client(&cloud.env["AWS_ENDPOINT_URL"], REGION).await,
        bucket: outputs["destination_bucket"].as_str().unwrap().to_string(),
    };

    let media = tempfile::tempdir().unwrap();
    let dir = media.path();
    let (hd, sd, web) = clips_of_each_kind(dir);

    // Before any upload there is no catalog.json: CloudFront answers 403 (its OAC may not
    // list the bucket), and the page says nothing is uploaded yet instead of an error.
    let shots = tempfile::tempdir().unwrap();
    let empty = browse(site, "empty", &shots.path().join("empty.png"));
    assert!(
        empty["list_status"]
            .as_str()
            .is_some_and(|s| s.starts_with("No videos yet")),
        "{empty}"
    );

    let hevc = put_the_videos_and_their_catalog(&destination, dir, &hd, &sd, &web).await;
    let hevc = hevc.as_str();

    let screenshot = shots.path().join("player.png");
    let played = browse(site, "play", &screenshot);
    assert_eq!(played["listed"], 4, "{played}");
    let chosen = &played["chosen"];
    assert_eq!(chosen["dogs/rex.mp4"], "h264", "{played}");
    // The tutorial's pair: HEVC where this chromium decodes it, else the AV1.
    let tutorial = chosen["cats/tabby cat.mp4"].as_str().unwrap();
    if played["hevc_decodable"] == true {
        assert_eq!(tutorial, "hevc", "{played}");
    } else {
        assert_eq!(tutorial, "av1", "{played}");
    }
    assert!(
        chosen["streams/loop.mp4"]
            .as_str()
            .unwrap()
            .starts_with("h264 (hls"),
        "{played}"
    );
    assert_eq!(
        chosen["streams/loop.mp4 (no native HLS)"], "h264 (hls, hls.js)",
        "{played}"
    );
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
    if let Ok(keep) = std::env::var("CATTUBE_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }

    // A catalog whose only video is HEVC: in a chromium without HEVC, the page says so.
    destination
        .put_catalog(json!([entry(
            "cats/hevc only.mp4",
            "COMPLETE",
            "2026-12-01T09:00:00Z",
            json!([output("cats/hevc only-hd.mp4", "mp4", "hevc", 180, hevc)])
        )]))
        .await;
    let hevc_only = browse(site, "hevc-only", &shots.path().join("hevc.png"));
    let expected = if hevc_only["hevc_decodable"] == true {
        "hevc"
    } else {
        "none (not playable message)"
    };
    assert_eq!(
        hevc_only["chosen"]["cats/hevc only.mp4"], expected,
        "{hevc_only}"
    );

    eprintln!(
        "FIGURES browser: videos listed {}; source chosen per video {}; time to first frame (ms, click to readyState >= 2) {}; HEVC decodable {}; native HLS {:?}; HEVC-only catalog: {}",
        played["listed"],
        played["chosen"],
        played["first_frame_ms"],
        played["hevc_decodable"],
        played["hls_native"],
        hevc_only["chosen"]["cats/hevc only.mp4"]
    );
}

/// Tiny real clips, as the converter's outputs would be: HEVC tagged `hvc1` (`hd`), AV1
/// (`sd`), H.264 (`web`), and an H.264 HLS ladder (`loop*` files in `dir`).
fn clips_of_each_kind(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let h264 = [
        "-c:v",
        "libx264",
        "-profile:v",
        "high",
        "-level",
        "3.0",
        "-preset",
        "veryfast",
    ];
    let hd = clip(
        dir,
        "hevc.mp4",
        "320x180",
        &[
            "-c:v",
            "libx265",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=error",
        ],
    );
    let sd = clip(
        dir,
        "av1.mp4",
        "256x144",
        &["-c:v", "libsvtav1", "-preset", "10"],
    );
    let web = clip(dir, "h264.mp4", "320x180", &h264);
    // An HLS ladder of one H.264 rendition, with its master playlist, as MediaConvert names them.
    let inputs = clips::pattern_and_tone("testsrc2=size=320x180:rate=24:duration=4", 4);
    let hls_args = inputs
        .iter()
        .map(String::as_str)
        .chain(h264)
        .chain(PIXELS_AND_AUDIO)
        .chain(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
        .chain(["-master_pl_name", "loop.m3u8"])
        .chain(["-hls_segment_filename", "loop_360p_%d.ts", "loop_360p.m3u8"]);
    clips::ffmpeg(dir, hls_args);
    (hd, sd, web)
}

/// The clips in the destination bucket and a `catalog.json` listing four videos (HEVC and
/// AV1, H.264, HLS, one still converting), with the codecs strings the converter function
/// writes for such outputs. Returns the HEVC output's MIME type.
async fn put_the_videos_and_their_catalog(
    destination: &Destination,
    dir: &Path,
    hd: &Path,
    sd: &Path,
    web: &Path,
) -> String {
    destination.put_file("cats/tabby cat-hd.mp4", hd).await;
    destination.put_file("cats/tabby cat-sd.mp4", sd).await;
    destination.put_file("dogs/rex-720p.mp4", web).await;
    destination.put_file("cats/hevc only-hd.mp4", hd).await;
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("loop") {
            destination
                .put_file(&format!("streams/{name}"), &path)
                .await;
        }
    }
    // The codecs strings the converter function writes for such outputs (320x180, AAC).
    let hevc = format!(
        r#"video/mp4; codecs="{}""#,
        handler_codecs(r#"{"Codec": "H_265", "H265Settings": {"WriteMp4PackagingType": "HVC1"}}"#)
    );
    let av1 = format!(
        r#"video/mp4; codecs="{}""#,
        handler_codecs(r#"{"Codec": "AV1", "Av1Settings": {}}"#)
    );
    let h264 = handler_codecs(r#"{"Codec": "H_264", "H264Settings": {"CodecProfile": "HIGH"}}"#);
    let avc = format!(r#"video/mp4; codecs="{h264}""#);
    let hls = format!(r#"application/vnd.apple.mpegurl; codecs="{h264}""#);
    let (av1, avc, hls) = (av1.as_str(), avc.as_str(), hls.as_str());
    destination
        .put_catalog(json!([
            entry(
                "cats/tabby cat.mp4",
                "COMPLETE",
                "2026-12-01T10:00:00Z",
                json!([
                    output("cats/tabby cat-hd.mp4", "mp4", "hevc", 180, &hevc),
                    output("cats/tabby cat-sd.mp4", "mp4", "av1", 144, av1)
                ])
            ),
            entry(
                "dogs/rex.mp4",
                "COMPLETE",
                "2026-12-01T12:00:00Z",
                json!([output("dogs/rex-720p.mp4", "mp4", "h264", 180, avc)])
            ),
            entry(
                "streams/loop.mp4",
                "COMPLETE",
                "2026-12-01T11:00:00Z",
                json!([output("streams/loop.m3u8", "hls", "h264", 180, hls)])
            ),
            entry(
                "cats/still converting.mov",
                "PROGRESSING",
                "2026-12-01T13:00:00Z",
                json!([])
            ),
        ]))
        .await;
    hevc
}
