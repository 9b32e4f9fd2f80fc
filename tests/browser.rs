//! The player page in a real browser. `cattube up` against moto uploads the page (the
//! `player-page` step); the test makes tiny real clips with ffmpeg (H.264, AV1, HEVC tagged
//! `hvc1`, and an H.264 HLS ladder), puts them and a `catalog.json` in the destination
//! bucket as the converter function would, serves the bucket through a CloudFront stand-in
//! (`tests/browser/cloudfront_standin.py`: same paths, `index.html` at `/`) and drives
//! Debian's chromium through it with Playwright (`tests/browser/player.test.mjs`).
//!
//! Needs /usr/bin/chromium, /usr/bin/ffmpeg and `npm ci` in tests/browser (`.ci/run` installs
//! them); without them the test fails, naming what is missing.

use crate::support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use support::{browse, repo_root, run_python, s3_client, venv_python, Emulators};

const REGION: &str = "eu-west-1";
const DESTINATION: &str = "cattube-destination-123456789012-eu-west-1";

fn need(path: &str, how: &str) {
    assert!(Path::new(path).exists(), "{path} is missing: {how}");
}

fn ffmpeg(args: &[&str], dir: &Path) {
    let out = Command::new("/usr/bin/ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two seconds of test pattern and a tone, encoded with `video` (ffmpeg options).
fn clip(dir: &Path, name: &str, size: &str, video: &[&str]) -> PathBuf {
    let source = format!("testsrc2=size={size}:rate=24:duration=2");
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &source,
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
    ];
    args.extend_from_slice(video);
    args.extend_from_slice(&[
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-movflags",
        "+faststart",
        name,
    ]);
    ffmpeg(&args, dir);
    dir.join(name)
}

struct Served(Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cloudfront_standin(s3: &str) -> Served {
    let mut child = Command::new(venv_python())
        .arg(repo_root().join("tests/browser/cloudfront_standin.py"))
        .args(["--s3", s3, "--bucket", DESTINATION, "--region", REGION])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    Served(child, url)
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: Vec<u8>, content_type: &str) {
    s3.put_object()
        .bucket(DESTINATION)
        .key(key)
        .body(body.into())
        .content_type(content_type)
        .send()
        .await
        .unwrap();
}

async fn put_file(s3: &aws_sdk_s3::Client, key: &str, path: &Path) {
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("ts") => "video/mp2t",
        _ => "video/mp4",
    };
    put(s3, key, std::fs::read(path).unwrap(), content_type).await;
}

/// The catalog as the converter function writes it (lambda-artifact/handler.py, "The
/// catalog"; README.md's catalog section).
async fn put_catalog(s3: &aws_sdk_s3::Client, videos: Value) {
    let body = json!({"version": 1, "videos": videos}).to_string();
    s3.put_object()
        .bucket(DESTINATION)
        .key("catalog.json")
        .body(body.into_bytes().into())
        .content_type("application/json")
        .cache_control("no-cache")
        .send()
        .await
        .unwrap();
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
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let out = sandbox.run().args(["up"]).expect_code(0).json();
    assert!(out.doc["outputs"]["player_url"].is_string(), "{}", out.doc);
    let s3 = s3_client(&emulators.moto.url, REGION).await;

    let media = tempfile::tempdir().unwrap();
    let dir = media.path();
    let (hd, sd, web) = clips_of_each_kind(dir);

    // Before any upload there is no catalog.json: CloudFront answers 403 (its OAC may not
    // list the bucket), and the page says nothing is uploaded yet instead of an error.
    let cdn = cloudfront_standin(&emulators.moto.url);
    let shots = tempfile::tempdir().unwrap();
    let empty = browse(&cdn.1, "empty", &shots.path().join("empty.png"));
    assert!(
        empty["list_status"]
            .as_str()
            .is_some_and(|s| s.starts_with("No videos yet")),
        "{empty}"
    );

    let hevc = put_the_videos_and_their_catalog(&s3, dir, &hd, &sd, &web).await;
    let hevc = hevc.as_str();

    let screenshot = shots.path().join("player.png");
    let played = browse(&cdn.1, "play", &screenshot);
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
    put_catalog(
        &s3,
        json!([entry(
            "cats/hevc only.mp4",
            "COMPLETE",
            "2026-12-01T09:00:00Z",
            json!([output("cats/hevc only-hd.mp4", "mp4", "hevc", 180, hevc)])
        )]),
    )
    .await;
    let hevc_only = browse(&cdn.1, "hevc-only", &shots.path().join("hevc.png"));
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
    let mut hls_args: Vec<&str> = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x180:rate=24:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=4",
    ];
    hls_args.extend_from_slice(&h264);
    hls_args.extend_from_slice(&[
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        "-f",
        "hls",
        "-hls_time",
        "2",
        "-hls_playlist_type",
        "vod",
        "-master_pl_name",
        "loop.m3u8",
        "-hls_segment_filename",
        "loop_360p_%d.ts",
        "loop_360p.m3u8",
    ]);
    ffmpeg(&hls_args, dir);
    (hd, sd, web)
}

/// The clips in the destination bucket and a `catalog.json` listing four videos (HEVC and
/// AV1, H.264, HLS, one still converting), with the codecs strings the converter function
/// writes for such outputs. Returns the HEVC output's MIME type.
async fn put_the_videos_and_their_catalog(
    s3: &aws_sdk_s3::Client,
    dir: &Path,
    hd: &Path,
    sd: &Path,
    web: &Path,
) -> String {
    put_file(s3, "cats/tabby cat-hd.mp4", hd).await;
    put_file(s3, "cats/tabby cat-sd.mp4", sd).await;
    put_file(s3, "dogs/rex-720p.mp4", web).await;
    put_file(s3, "cats/hevc only-hd.mp4", hd).await;
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("loop") {
            put_file(s3, &format!("streams/{name}"), &path).await;
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
    put_catalog(
        s3,
        json!([
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
        ]),
    )
    .await;
    hevc
}
