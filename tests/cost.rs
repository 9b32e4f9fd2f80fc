//! What it costs, against moto and the MediaConvert stand-in through the built binary: the
//! estimate in `plan` and `up`, the guard (`[job] max-upload-mb` in the function's
//! environment, checked by `status`; `up`'s warnings), `cattube cost` over finished jobs
//! with known output durations, and bad price tables.

use crate::support;

use support::{function_environment, sdk_config, standin_post, strings, Emulators, Ran, Sandbox};

const REGION: &str = "us-east-1";

/// A job.json with three outputs: AVC SD and HD with multi-pass HQ and HEVC HD, all
/// Professional tier.
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

/// A table of one's own (not AWS figures): us-east-1 Professional at `RATE` per normalized
/// minute up to `THRESHOLD` a month and `DISCOUNTED` above; AVC SD and HD multipliers, and
/// HEVC HD either unsourced or `hevc`.
const RATE: f64 = 0.02;
const DISCOUNTED: f64 = 0.01;
const THRESHOLD: f64 = 50.0;
const SD: f64 = 1.0;
const HD: f64 = 2.0;

fn own_table(hevc: Option<f64>) -> String {
    let hevc = match hevc {
        Some(factor) => format!("factor = {factor:?}\nsource = \"https://example.com/my-contract\"\nread = \"2026-12-07\"\n"),
        None => "unsourced = \"not in my contract\"\n".to_string(),
    };
    let multiplier = |codec: &str, res: &str, body: &str| {
        format!(
            "\n[[multiplier]]\ncodec = \"{codec}\"\nresolution = \"{res}\"\nfps = \"<=30\"\n{body}"
        )
    };
    let sourced = |factor: f64| {
        format!("factor = {factor:?}\nsource = \"https://example.com/my-contract\"\nread = \"2026-12-07\"\n")
    };
    format!(
        "currency = \"USD\"\ndate = \"2026-12-07\"\n\n[[rate]]\nregion = \"{REGION}\"\ntier = \"Professional\"\nbands = [{{ from = 0, usd-per-normalized-minute = {RATE:?} }}, {{ from = {THRESHOLD:?}, usd-per-normalized-minute = {DISCOUNTED:?} }}]\nsource = \"https://example.com/my-contract\"\nread = \"2026-12-07\"\n{}{}{}",
        multiplier("AVC", "SD", &sourced(SD)),
        multiplier("AVC", "HD", &sourced(HD)),
        multiplier("HEVC", "HD", &hevc),
    )
}

/// `normalized` minutes of a month through the two bands.
fn banded(normalized: f64) -> f64 {
    normalized.min(THRESHOLD) * RATE + (normalized - THRESHOLD).max(0.0) * DISCOUNTED
}

/// The lines `plan` and `up` print about cost: the estimate and the warnings.
fn cost_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("each minute of uploaded video") || l.starts_with("warning:"))
        .map(str::to_string)
        .collect()
}

/// `estimate`, then the JSON's warnings as the text prints them.
fn expected_cost_lines(estimate: &str, doc: &serde_json::Value) -> Vec<String> {
    let mut lines = vec![estimate.to_string()];
    for warning in doc["warnings"].as_array().unwrap() {
        lines.push(format!("warning: {}", warning.as_str().unwrap()));
    }
    lines
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

    // The text: the estimate line and the warnings, whole; the line names what is unsourced.
    let text = sandbox.run().arg("plan").output().stdout;
    assert_eq!(
        cost_lines(&text),
        expected_cost_lines("each minute of uploaded video: 2 output minutes, Professional tier, rate unknown in ap-southeast-2: pricing/mediaconvert.toml (built in) has no sourced multiplier for Professional HEVC HD <=30 fps, Professional AV1 SD <=30 fps and no sourced Professional rate in ap-southeast-2 (first volume band: Professional rate unsourced; MediaConvert discounts the normalized minutes above it)", &doc),
        "{text}"
    );
    assert!(!doc["warnings"].as_array().unwrap().is_empty());
    println!(
        "FIGURES plan, the default stack in ap-southeast-2: {}",
        cost_lines(&text)[0]
    );
    let unsourced = cost["unsourced"].to_string();
    assert!(unsourced.contains("stored copy"), "{unsourced}");

    // up warns: both outputs are Professional tier, and names the cheaper choice.
    let doc = sandbox.run().args(["up"]).expect_code(0).json().doc;
    let warnings: Vec<&str> = strings(&doc["warnings"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("-hd (HEVC HD), -sd (AV1 SD)") && warnings[0].contains("single-pass"),
        "{warnings:?}"
    );
    assert!(doc["cost"].is_object());
}

/// With sourced figures, `plan` states the normalized minutes, the price at the first
/// volume band's rate, where the band ends and that the minutes above it are discounted.
#[tokio::test(flavor = "multi_thread")]
async fn plan_states_the_first_volume_bands_rate() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    const HEVC: f64 = 3.0;
    sandbox.write("job.json", JOB);
    sandbox.write("my-prices.toml", &own_table(Some(HEVC)));
    sandbox.write(
        "cattube.toml",
        "[job]\ntemplate = \"job.json\"\n\n[cost]\ntable = \"my-prices.toml\"\n",
    );
    let doc = sandbox.run().args(["plan"]).expect_code(3).json().doc;
    let cost = &doc["cost"];
    let normalized = SD + HD + HEVC;
    assert_eq!(
        cost["normalized_minutes_per_source_minute"].as_f64(),
        Some(normalized),
        "{cost}"
    );
    assert!(
        close(
            cost["per_source_minute_usd"].as_f64().unwrap(),
            normalized * RATE
        ),
        "{cost}"
    );
    assert_eq!(
        cost["first_band"][0]["discounted_above"].as_f64(),
        Some(THRESHOLD),
        "{cost}"
    );
    let text = sandbox.run().arg("plan").output().stdout;
    let table = doc["cost"]["table"].as_str().unwrap();
    assert_eq!(
        cost_lines(&text),
        expected_cost_lines(
            &format!(
                "each minute of uploaded video: 3 output minutes, Professional tier, {normalized} normalized minutes, about ${:.4} in {REGION} (first volume band: Professional ${RATE:.4} per normalized minute up to {THRESHOLD} a month; MediaConvert discounts the normalized minutes above it; estimate from {table}, 2026-12-07)",
                normalized * RATE
            ),
            &doc
        ),
        "{text}"
    );
    println!(
        "FIGURES plan, a table of one's own in us-east-1: {}",
        cost_lines(&text)[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn max_upload_mb_reaches_the_function_and_status_checks_it() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", "[job]\nmax-upload-mb = 100\n");
    sandbox.run().args(["up"]).expect_code(0).json();
    let lambda = aws_sdk_lambda::Client::new(&sdk_config(&emulators.moto.url, REGION).await);
    let limit = || async {
        let environment = function_environment(&lambda, "cattube-converter").await;
        environment.get("MAX_UPLOAD_MB").cloned()
    };
    assert_eq!(limit().await.as_deref(), Some("100"));

    sandbox.run().args(["status"]).expect_code(0).json();

    // A changed limit is drift until `up` sets it.
    sandbox.write("cattube.toml", "[job]\nmax-upload-mb = 50\n");
    let doc = sandbox.run().args(["status"]).expect_code(3).json().doc;
    let function = support::resource(&doc, "converter-function");
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
    sandbox.write("my-prices.toml", &own_table(None));
    sandbox.write(
        "cattube.toml",
        "[job]\ntemplate = \"job.json\"\n\n[cost]\ntable = \"my-prices.toml\"\n",
    );

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
    a_sourced_hevc_multiplier_prices_every_class(&sandbox);
}

/// Jobs made from the stack's template: 21 this month, one 40 days ago, one that failed
/// and one still running (neither billed).
async fn jobs_of_every_kind(emulators: &Emulators) {
    let mc_config = aws_sdk_mediaconvert::config::Builder::from(
        &sdk_config(&emulators.standin.url, REGION).await,
    )
    .build();
    let mc = aws_sdk_mediaconvert::Client::from_conf(mc_config);
    let mut ids = Vec::new();
    for _ in 0..24 {
        ids.push(support::submit_job(&mc, REGION, "s3://source/cat.mp4").await);
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
    // HEVC has no sourced multiplier: no normalized total and no dollars, but each priced
    // class has its own at the first band's rate.
    assert!(
        billed["usd"].is_null() && billed["normalized_minutes"].is_null(),
        "{billed}"
    );
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
    for (band, minutes, factor) in [("SD", sd_minutes, SD), ("HD", hd_minutes, HD)] {
        let priced = class(band, "AVC");
        assert_eq!(priced["tier"], "Professional");
        assert_eq!(priced["outputs"], 22);
        assert!(
            close(priced["output_minutes"].as_f64().unwrap(), minutes),
            "{priced}"
        );
        assert!(
            close(
                priced["normalized_minutes"].as_f64().unwrap(),
                minutes * factor
            ),
            "{priced}"
        );
        assert!(
            close(priced["usd"].as_f64().unwrap(), minutes * factor * RATE),
            "{priced}"
        );
    }
    let hevc = class("HD", "HEVC");
    assert!(
        hevc["usd"].is_null() && hevc["normalized_minutes"].is_null(),
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

fn a_sourced_hevc_multiplier_prices_every_class(sandbox: &Sandbox) {
    // As in the_billed_jobs_are_priced_by_class.
    let sd_minutes = 21.0 * 2.0 + 10.0;
    let hd_minutes = 21.0 * 10.0 / 60.0 + 10.0;
    // With a sourced HEVC multiplier, every class is priced: each tier's normalized
    // minutes through its bands, across the threshold.
    const HEVC: f64 = 3.0;
    sandbox.write("my-prices.toml", &own_table(Some(HEVC)));
    let doc = sandbox.run().args(["cost"]).expect_code(0).json().doc;
    let hevc_minutes = 21.0 * 91.0 / 60.0 + 10.0;
    let normalized = sd_minutes * SD + hd_minutes * HD + hevc_minutes * HEVC;
    assert!(normalized > THRESHOLD);
    let billed = &doc["billed"];
    assert!(
        close(billed["normalized_minutes"].as_f64().unwrap(), normalized),
        "{billed}"
    );
    assert!(
        close(billed["usd"].as_f64().unwrap(), banded(normalized)),
        "{billed}"
    );
}

#[test]
fn bad_price_tables_exit_2_naming_the_line() {
    let sandbox = Sandbox::new("http://127.0.0.1:9", REGION);
    let table = own_table(None).replacen("tier = \"Professional\"", "tier = \"Pro\"", 1);
    sandbox.write("bad.toml", &table);
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
