//! Limits that bound the bill, end to end on the local cloud (the real handler, run by the
//! S3 event as its role with IAM enforced; MediaConvert converting with ffmpeg): with
//! `[job] max-duration-min = 1` and `max-output-minutes-per-day = 10` and a one-output job,
//! a 65-second clip is rejected (no job), and 20 one-minute clips uploaded at once make
//! exactly 10 jobs and 10 rejections; each rejected object tagged and kept, `videos` and
//! `jobs` showing why, `jobs --wait KEY` ending at once. Also: the keys' validation, and
//! `plan`'s line with what the cap costs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pipeline::{owner_python, LocalCloud, ONE_AT_A_TIME, REGION};
use crate::support::{self, clips, Emulators};

/// A clip of `seconds` at 64x36, 5 frames a second: small and quick to convert.
fn clip(dir: &Path, name: &str, seconds: u32) {
    let pattern = format!("testsrc=size=64x36:rate=5:duration={seconds}");
    clips::ffmpeg(
        dir,
        [
            "-f",
            "lavfi",
            "-i",
            &pattern,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ]
        .into_iter()
        .chain(["-pix_fmt", "yuv420p", name]),
    );
}

/// The web profile cut to its first output, made 64x36: one output minute per source minute.
fn one_output_job() -> String {
    let text =
        std::fs::read_to_string(support::repo_root().join("lambda-artifact/profiles/web.json"))
            .unwrap();
    let mut job: Value = serde_json::from_str(&text).unwrap();
    let group = &mut job["Settings"]["OutputGroups"][0];
    let mut output = group["Outputs"][0].clone();
    output["VideoDescription"]["Width"] = 64.into();
    output["VideoDescription"]["Height"] = 36.into();
    group["Outputs"] = Value::Array(vec![output]);
    job["Settings"]["OutputGroups"] = Value::Array(vec![group.clone()]);
    serde_json::to_string_pretty(&job).unwrap()
}

const LIMITS: &str =
    "[job]\ntemplate = \"job.json\"\nmax-duration-min = 1\nmax-output-minutes-per-day = 10\n";

#[test]
fn limits_reject_exactly_the_uploads_over_them_on_the_local_cloud() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cloud = LocalCloud::start();
    let sandbox = cloud.sandbox();
    sandbox.write("job.json", &one_output_job());
    sandbox.write("cattube.toml", LIMITS);
    cloud.cattube(&sandbox, &["up"]).expect_code(0).json();

    // Too long: rejected, whatever the daily cap says.
    clip(sandbox.path(), "long.mp4", 65);
    cloud
        .cattube(&sandbox, &["upload", "long.mp4"])
        .expect_code(0)
        .output();
    let wait = cloud
        .cattube(&sandbox, &["jobs", "--wait", "long.mp4"])
        .expect_code(1)
        .json();
    let message = wait.doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("'long.mp4' was rejected ([job] max-duration-min)"),
        "{message}\n{}",
        cloud.function_log()
    );

    // 20 one-minute clips at once against a cap of 10 output minutes: 10 jobs.
    clip(sandbox.path(), "minute.mp4", 60);
    let names: Vec<String> = (0..20).map(|i| format!("minute-{i:02}.mp4")).collect();
    for name in &names {
        std::fs::copy(sandbox.path().join("minute.mp4"), sandbox.path().join(name)).unwrap();
    }
    let mut upload = vec!["upload"];
    upload.extend(names.iter().map(String::as_str));
    cloud.cattube(&sandbox, &upload).expect_code(0).output();
    let began = Instant::now();
    let videos = loop {
        let videos = cloud.cattube(&sandbox, &["videos"]).json().doc;
        let listed = videos["videos"].as_array().map_or(0, Vec::len);
        if listed == 21 {
            break videos;
        }
        assert!(
            began.elapsed() < Duration::from_secs(300),
            "{listed} of 21 uploads in the catalog after 300 s\n{}",
            cloud.function_log()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let entries = videos["videos"].as_array().unwrap();
    let rejected_by = |limit: &str| {
        entries
            .iter()
            .filter(|v| v["status"] == "REJECTED" && v["limit"] == limit)
            .map(|v| v["key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(rejected_by("max-duration-min"), ["long.mp4"]);
    let over_the_cap = rejected_by("max-output-minutes-per-day");
    assert_eq!(over_the_cap.len(), 10, "{videos:#}");
    assert!(entries
        .iter()
        .filter(|v| v["status"] == "REJECTED")
        .all(|v| v["job_id"].is_null()));

    // Exactly 10 jobs in the queue, every one COMPLETE; the rejected ones never had one.
    let jobs = cloud
        .cattube(&sandbox, &["jobs", "--wait"])
        .expect_code(0)
        .json()
        .doc;
    let listed = jobs["jobs"].as_array().unwrap();
    assert_eq!(listed.len(), 10, "{jobs:#}");
    for job in listed {
        let key = job["source_key"].as_str().unwrap();
        assert!(
            names.iter().any(|n| n == key) && !over_the_cap.iter().any(|k| k == key),
            "{key}"
        );
    }
    assert_eq!(jobs["rejected"].as_array().unwrap().len(), 11, "{jobs:#}");
    let text = cloud
        .cattube(&sandbox, &["jobs"])
        .expect_code(0)
        .output()
        .stdout;
    assert!(text.contains("11 rejected uploads"), "{text}");

    // Each rejected object is tagged with its limit and kept.
    let source = cloud
        .cattube(&sandbox, &["output", "source_bucket"])
        .output();
    let bucket = source.stdout.trim().to_string();
    let mut rejected = over_the_cap.clone();
    rejected.push("long.mp4".into());
    let tags = owner_python(
        &cloud,
        &format!(
            "for key in {keys:?}:\n    tags = s3.get_object_tagging(Bucket={bucket:?}, Key=key)['TagSet']\n    print(key, json.dumps(tags))\n",
            keys = rejected,
        ),
    );
    for key in &rejected {
        let line = tags
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key}: {tags}"));
        let limit = if key == "long.mp4" {
            "max-duration-min"
        } else {
            "max-output-minutes-per-day"
        };
        assert!(
            line.contains(&format!(
                r#"{{"Key": "cattube:rejected", "Value": "{limit}"}}"#
            )),
            "{line}"
        );
    }
    cloud
        .cattube(&sandbox, &["down", "--yes"])
        .expect_code(0)
        .output();
}

#[test]
fn limit_keys_are_validated_and_plan_prices_the_cap() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    for (toml, key) in [
        ("[job]\nmax-duration-min = 0\n", "job.max-duration-min"),
        ("[job]\nmax-duration-min = 1441\n", "job.max-duration-min"),
        (
            "[job]\nmax-output-minutes-per-day = -1\n",
            "job.max-output-minutes-per-day",
        ),
        (
            "[job]\nmax-output-minutes-per-day = 1000001\n",
            "job.max-output-minutes-per-day",
        ),
        (
            "[job]\nmax-output-minutes-per-day = \"ten\"\n",
            "max-output-minutes-per-day",
        ),
    ] {
        sandbox.write("cattube.toml", toml);
        emulators.reset();
        let ran = sandbox.run().args(["plan"]).expect_code(2).output();
        let stderr = ran.stderr;
        let error: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error.len(), 1, "{toml}: {stderr}");
        assert!(error[0].contains(key), "{toml}: {stderr}");
        assert!(
            error[0].contains("allowed") || error[0].contains("invalid type"),
            "{toml}: {stderr}"
        );
        assert!(emulators.requests().is_empty(), "{toml}");
    }

    // The cap priced from the estimate: the rate per output minute times the cap, a day and
    // 31 days (whatever the price table says the rate is).
    sandbox.write(
        "cattube.toml",
        "[job]\nprofile = \"web\"\nmax-output-minutes-per-day = 600\n",
    );
    let plan = sandbox.run().args(["plan"]).json().doc;
    let limits = &plan["limits"];
    assert_eq!(limits["max_output_minutes_per_day"], 600, "{plan:#}");
    match plan["cost"]["per_source_minute_usd"].as_f64() {
        Some(per_source) => {
            let outputs = plan["cost"]["output_minutes_per_source_minute"]
                .as_f64()
                .unwrap();
            let day = limits["usd_per_day_at_most"].as_f64().unwrap();
            assert!(
                (day - 600.0 * per_source / outputs).abs() < 1e-9,
                "{plan:#}"
            );
            let month = limits["usd_per_month_at_most"].as_f64().unwrap();
            assert!((month - 31.0 * day).abs() < 1e-9, "{plan:#}");
        }
        None => assert!(limits["usd_per_day_at_most"].is_null(), "{plan:#}"),
    }
    let text = sandbox.run().args(["plan"]).output().stdout;
    assert!(
        text.contains("limits: at most 600 output minutes a day"),
        "{text}"
    );
}
