//! What it costs, against moto and the MediaConvert stand-in through the built binary: the
//! estimate in `plan` and `up`, the guard (`[job] max-upload-mb` in the function's
//! environment, checked by `status`; `up`'s warnings), `cattube cost` over finished jobs
//! with known output durations, and bad price tables.

use crate::support;

use support::{sdk_config, standin_post, Emulators, Ran, Sandbox};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// A job.json with three outputs: AVC SD and HD with multi-pass HQ (Professional, priced in
/// us-east-1 by the shipped table) and HEVC HD (Professional, no rate in the table).
const JOB: &str = r#"{
  "Settings": {
    "OutputGroups": [{
      "Name": "File Group",
      "OutputGroupSettings": {"Type": "FILE_GROUP_SETTINGS", "FileGroupSettings": {"Destination": "s3://x/"}},
      "Outputs": [
        {"NameModifier": "-sd", "ContainerSettings": {"Container": "MP4", "Mp4Settings": {}},
         "VideoDescription": {"Width": 640, "Height": 360, "CodecSettings": {"Codec": "H_264", "H264Settings": {
           "RateControlMode": "QVBR", "MaxBitrate": 1000000, "QualityTuningLevel": "MULTI_PASS_HQ",
           "FramerateControl": "SPECIFIED", "FramerateNumerator": 30, "FramerateDenominator": 1}}}},
        {"NameModifier": "-hd", "ContainerSettings": {"Container": "MP4", "Mp4Settings": {}},
         "VideoDescription": {"Width": 1280, "Height": 720, "CodecSettings": {"Codec": "H_264", "H264Settings": {
           "RateControlMode": "QVBR", "MaxBitrate": 3000000, "QualityTuningLevel": "MULTI_PASS_HQ",
           "FramerateControl": "SPECIFIED", "FramerateNumerator": 30, "FramerateDenominator": 1}}}},
        {"NameModifier": "-hevc", "ContainerSettings": {"Container": "MP4", "Mp4Settings": {}},
         "VideoDescription": {"Width": 1280, "Height": 720, "CodecSettings": {"Codec": "H_265", "H265Settings": {
           "RateControlMode": "QVBR", "MaxBitrate": 3000000,
           "FramerateControl": "SPECIFIED", "FramerateNumerator": 30, "FramerateDenominator": 1}}}}
      ]
    }],
    "Inputs": [{"VideoSelector": {}, "TimecodeSource": "ZEROBASED"}]
  }
}"#;

/// The shipped table's rate for a Professional AVC class in us-east-1.
fn shipped_rate(resolution: &str) -> f64 {
    let text =
        std::fs::read_to_string(support::repo_root().join("pricing/mediaconvert.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table["rate"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["region"].as_str() == Some(REGION)
                && r["codec"].as_str() == Some("AVC")
                && r["tier"].as_str() == Some("Professional")
                && r["resolution"].as_str() == Some(resolution)
        })
        .unwrap()["usd-per-minute"]
        .as_float()
        .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_estimates_the_default_stack_and_up_warns() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox("ap-southeast-2");

    let doc = sandbox.run().args(["plan"]).expect_code(3).json().doc;
    let cost = &doc["cost"];
    assert_eq!(cost["region"], "ap-southeast-2");
    assert_eq!(cost["output_minutes_per_source_minute"], 2);
    assert_eq!(cost["currency"], "USD");
    assert!(cost["per_source_minute_usd"].is_null(), "{cost}");
    let outputs: Vec<(&str, &str, &str, &str)> = cost["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert!(o["usd_per_minute"].is_null(), "{o}");
            (
                o["name"].as_str().unwrap(),
                o["tier"].as_str().unwrap(),
                o["resolution_band"].as_str().unwrap(),
                o["fps_band"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outputs,
        [
            ("-hd", "Professional", "HD", "<=30"),
            ("-sd", "Professional", "SD", "<=30")
        ]
    );
    assert!(cost["table_date"].as_str().unwrap().len() == 10, "{cost}");
    let assumptions = cost["assumptions"].to_string();
    assert!(
        assumptions.contains("keeps the source's size"),
        "{assumptions}"
    );
    assert!(assumptions.contains("at least 10 s"), "{assumptions}");

    // The text line.
    let text = sandbox.run().arg("plan").output().stdout;
    assert!(
        text.contains(
            "each minute of uploaded video: 2 output minutes, Professional tier, rate unknown in ap-southeast-2"
        ),
        "{text}"
    );

    // up warns: both outputs are Professional tier, and names the cheaper choice.
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("-hd (HEVC HD), -sd (AV1 SD)") && warnings[0].contains("single-pass"),
        "{warnings:?}"
    );
    assert!(doc["cost"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn max_upload_mb_reaches_the_function_and_status_checks_it() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", "[job]\nmax-upload-mb = 100\n");
    sandbox.run().args(["up"]).expect_code(0).json();
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(&emulators.moto.url, REGION).await);
    let limit = || async {
        lambda
            .get_function_configuration()
            .function_name("cattube-converter")
            .send()
            .await
            .unwrap()
            .environment()
            .and_then(|e| e.variables())
            .and_then(|v| v.get("MAX_UPLOAD_MB"))
            .cloned()
    };
    assert_eq!(limit().await.as_deref(), Some("100"));

    sandbox.run().args(["status"]).expect_code(0).json();

    // A changed limit is drift until `up` sets it.
    sandbox.write("cattube.toml", "[job]\nmax-upload-mb = 50\n");
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    let function = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "converter-function")
        .unwrap();
    assert_eq!(function["status"], "drifted", "{function}");
    assert!(
        function["drift"].to_string().contains("MAX_UPLOAD_MB"),
        "{function}"
    );
    sandbox.run().args(["up"]).expect_code(0).json();
    assert_eq!(limit().await.as_deref(), Some("50"));

    // Out of range: exit 2 naming the key, nothing requested.
    sandbox.write("cattube.toml", "[job]\nmax-upload-mb = 0\n");
    emulators.reset();
    let doc = sandbox.run().args(["up"]).expect_code(2).json().doc;
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(message.contains("job.max-upload-mb"), "{message}");
    assert!(emulators.requests().is_empty());
}

/// `cost` over the stack's finished jobs: before `up` it names `up`; after, the JSON prices
/// what MediaConvert billed (each claim below in its own function, on one stack).
#[tokio::test(flavor = "multi_thread")]
async fn cost_prices_the_finished_jobs() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("job.json", JOB);
    sandbox.write("cattube.toml", "[job]\ntemplate = \"job.json\"\n");

    // Before `up`: the queue does not exist.
    let doc = sandbox.run().args(["cost"]).expect_code(2).json().doc;
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cattube up"));

    sandbox.run().args(["up"]).expect_code(0).json();
    jobs_of_every_kind(&emulators).await;
    the_billed_jobs_are_priced_by_class(&emulators, &sandbox);
    since_leaves_the_old_job_out(&sandbox);
    the_text_says_it_is_no_invoice(&sandbox);
    a_table_of_ones_own_prices_hevc_too(&sandbox);
}

/// Jobs made from the stack's template: 21 this month, one 40 days ago, one that failed
/// and one still running (neither billed).
async fn jobs_of_every_kind(emulators: &Emulators) {
    let mc_config = aws_sdk_mediaconvert::config::Builder::from(
        &sdk_config(&emulators.standin.url, REGION).await,
    )
    .build();
    let mc = aws_sdk_mediaconvert::Client::from_conf(mc_config);
    let role = format!("arn:aws:iam::{ACCOUNT}:role/cattube-{REGION}-mediaconvert");
    let queue = format!("arn:aws:mediaconvert:{REGION}:{ACCOUNT}:queues/cattube-queue");
    let mut ids = Vec::new();
    for _ in 0..24 {
        let input = aws_sdk_mediaconvert::types::Input::builder()
            .file_input("s3://source/cat.mp4")
            .build();
        let job = mc
            .create_job()
            .role(&role)
            .queue(&queue)
            .job_template("cattube-job")
            .settings(
                aws_sdk_mediaconvert::types::JobSettings::builder()
                    .inputs(input)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ids.push(job.job().unwrap().id().unwrap().to_string());
    }
    let base = &emulators.standin.url;
    // (SD, HD, HEVC) durations: 2 min, 5 s (billed 10 s), 90.5 s (billed 91 s).
    let this_month = "[[120000, 5000, 90500]]";
    for id in &ids[..21] {
        standin_post(
            base,
            &format!("/_standin/jobs/{id}/status"),
            &format!(r#"{{"status": "COMPLETE", "outputDurationsMs": {this_month}}}"#),
        );
    }
    let old = now() - 40 * 86_400;
    standin_post(
        base,
        &format!("/_standin/jobs/{}/status", ids[21]),
        &format!(
            r#"{{"status": "COMPLETE", "outputDurationsMs": [[600000, 600000, 600000]], "createdAt": {old}}}"#
        ),
    );
    standin_post(
        base,
        &format!("/_standin/jobs/{}/status", ids[22]),
        r#"{"status": "ERROR"}"#,
    );
    standin_post(
        base,
        &format!("/_standin/jobs/{}/status", ids[23]),
        r#"{"status": "PROGRESSING", "percent": 50}"#,
    );
}

fn the_billed_jobs_are_priced_by_class(emulators: &Emulators, sandbox: &Sandbox) {
    emulators.reset();
    let doc = sandbox.run().args(["cost"]).expect_code(0).json().doc;
    assert!(emulators.writes().is_empty(), "{:?}", emulators.writes());
    // 22 COMPLETE jobs: ListJobs answered in two pages.
    let pages = emulators
        .mediaconvert
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/jobs"))
        .count();
    assert_eq!(pages, 2);
    let billed = &doc["billed"];
    assert_eq!(billed["jobs"], 22, "{billed}");
    assert!(billed["since"].is_null());
    // Hand-computed: per job this month 120 + 10 + 91 seconds; the old job 3 x 600 s.
    let month_minutes = 21.0 * (120.0 + 10.0 + 91.0) / 60.0;
    let total_minutes = month_minutes + 3.0 * 600.0 / 60.0;
    assert!(
        close(billed["output_minutes"].as_f64().unwrap(), total_minutes),
        "{billed}"
    );
    let month = &billed["month_to_date"];
    assert_eq!(month["jobs"], 21);
    assert!(close(
        month["output_minutes"].as_f64().unwrap(),
        month_minutes
    ));
    // HEVC has no rate: no total in dollars, but each priced class has one.
    assert!(billed["usd"].is_null(), "{billed}");
    let class = |band: &str, codec: &str| {
        billed["by_class"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["resolution_band"] == band && c["codec"] == codec)
            .unwrap_or_else(|| panic!("no {codec} {band} in {billed}"))
            .clone()
    };
    let sd_minutes = 21.0 * 2.0 + 10.0;
    let hd_minutes = 21.0 * 10.0 / 60.0 + 10.0;
    for (band, minutes) in [("SD", sd_minutes), ("HD", hd_minutes)] {
        let priced = class(band, "AVC");
        assert_eq!(priced["tier"], "Professional");
        assert_eq!(priced["outputs"], 22);
        assert!(
            close(priced["output_minutes"].as_f64().unwrap(), minutes),
            "{priced}"
        );
        let usd = minutes * shipped_rate(band);
        assert!(close(priced["usd"].as_f64().unwrap(), usd), "{priced}");
    }
    let hevc = class("HD", "HEVC");
    assert!(
        hevc["usd"].is_null() && hevc["usd_per_minute"].is_null(),
        "{hevc}"
    );
    assert!(doc["cost"].is_object(), "{doc}");
}

fn since_leaves_the_old_job_out(sandbox: &Sandbox) {
    // As in the_billed_jobs_are_priced_by_class.
    let month_minutes = 21.0 * (120.0 + 10.0 + 91.0) / 60.0;
    // --since 30d leaves the old job out of the total; the month is the same.
    let doc = sandbox
        .run()
        .args(["cost", "--since", "30d"])
        .expect_code(0)
        .json()
        .doc;
    let billed = &doc["billed"];
    assert_eq!(billed["jobs"], 21, "{billed}");
    assert!(billed["since"].as_str().unwrap().ends_with('Z'));
    assert!(close(
        billed["output_minutes"].as_f64().unwrap(),
        month_minutes
    ));
    assert_eq!(billed["month_to_date"]["jobs"], 21);
}

fn the_text_says_it_is_no_invoice(sandbox: &Sandbox) {
    // The text says what it is.
    let text = sandbox.run().arg("cost").expect_code(0).output().stdout;
    assert!(text.contains("not AWS's invoice"), "{text}");
    assert!(text.contains("month to date: 21 jobs"), "{text}");
    assert!(text.contains("rate unknown for"), "{text}");
}

fn a_table_of_ones_own_prices_hevc_too(sandbox: &Sandbox) {
    // As in the_billed_jobs_are_priced_by_class.
    let sd_minutes = 21.0 * 2.0 + 10.0;
    let hd_minutes = 21.0 * 10.0 / 60.0 + 10.0;
    // A table of one's own prices the HEVC class too.
    let own = std::fs::read_to_string(support::repo_root().join("pricing/mediaconvert.toml"))
        .unwrap()
        + "\n[[rate]]\nregion = \"us-east-1\"\ntier = \"Professional\"\ncodec = \"HEVC\"\nresolution = \"HD\"\nfps = \"<=30\"\nusd-per-minute = 0.5\nsource = \"https://example.com/my-contract\"\nread = \"2026-12-01\"\n";
    sandbox.write("my-prices.toml", &own);
    sandbox.write(
        "cattube.toml",
        "[job]\ntemplate = \"job.json\"\n\n[cost]\ntable = \"my-prices.toml\"\n",
    );
    let doc = sandbox.run().args(["cost"]).expect_code(0).json().doc;
    let hevc_minutes = 21.0 * 91.0 / 60.0 + 10.0;
    let expected =
        sd_minutes * shipped_rate("SD") + hd_minutes * shipped_rate("HD") + hevc_minutes * 0.5;
    assert!(
        close(doc["billed"]["usd"].as_f64().unwrap(), expected),
        "{}",
        doc["billed"]
    );
}

#[test]
fn bad_price_tables_exit_2_naming_the_line() {
    let sandbox = Sandbox::new("http://127.0.0.1:9", REGION);
    let table = "currency = \"USD\"\ndate = \"2026-12-01\"\n\n[[rate]]\nregion = \"us-east-1\"\ntier = \"Pro\"\ncodec = \"AVC\"\nresolution = \"HD\"\nfps = \"<=30\"\nusd-per-minute = 0.015\nsource = \"https://example.com/p\"\nread = \"2026-12-01\"\n";
    sandbox.write("bad.toml", table);
    sandbox.write("cattube.toml", "[cost]\ntable = \"bad.toml\"\n");
    for command in ["plan", "up", "cost"] {
        let Ran { code, doc, .. } = sandbox.run().args([command]).json();
        assert_eq!(code, Some(2), "{command}: {doc}");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("bad.toml line 6 (rate[0].tier): 'Pro' is not allowed; allowed: Basic, Professional"),
            "{command}: {message}"
        );
        assert!(message.contains("cost.table"), "{message}");
    }
    // Not TOML at all, and a missing file.
    sandbox.write("bad.toml", "currency = \"USD\"\ndate = 2026-12-01x\n");
    let doc = sandbox.run().args(["plan"]).expect_code(2).json().doc;
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("bad.toml line 2"),
        "{doc}"
    );
    sandbox.write("cattube.toml", "[cost]\ntable = \"nope.toml\"\n");
    let doc = sandbox.run().args(["plan"]).expect_code(2).json().doc;
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cost.table"),
        "{doc}"
    );
    // A bad --since is a usage error too.
    let out = sandbox
        .run()
        .args(["cost", "--since", "30x"])
        .expect_code(2)
        .output();
    assert!(out.stderr.contains("--since"), "{}", out.stderr);
}
