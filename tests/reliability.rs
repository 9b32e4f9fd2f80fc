//! Whatever fails, running cattube again converges: nothing leaked, nothing a user owns
//! deleted, no state corrupted. Each test drives the built binary against moto and the
//! MediaConvert stand-in through proxies that can fail, throttle or slow any request.
//!
//! Each test starts one pair of emulators and reuses it for all its fault points or trials
//! (`down --yes` between them, and nothing of the 12 kinds left each time). The figures are
//! printed as `FIGURES …` lines (`cargo test --test reliability -- --nocapture`).

mod support;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use support::{checked_state, json, leftovers, s3_client, sdk_config, Emulators, Sandbox};

const REGION: &str = "eu-west-1";
const STACK: &str = "cattube";
const IDS: &[&str] = &[
    "source-bucket",
    "destination-bucket",
    "queue",
    "job-template",
    "mediaconvert-role",
    "converter-role",
    "converter-function",
    "origin-access-control",
    "distribution",
    "destination-bucket-policy",
    "invoke-permission",
    "source-notification",
];
/// At most this many fault points per command: every write up to it, strided beyond.
const MAX_FAULT_POINTS: usize = 40;
/// SIGKILL trials per command.
const CRASH_TRIALS: usize = 15;

fn run(sandbox: &Sandbox, args: &[&str]) -> Output {
    sandbox.cattube().args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[track_caller]
fn assert_code(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

fn state_path(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.path().join("cattube.state.json")
}

fn state(sandbox: &Sandbox) -> Option<serde_json::Value> {
    checked_state(&state_path(sandbox), STACK)
}

/// `up`, `status` and the state: everything created and recorded.
fn converge(sandbox: &Sandbox, what: &str) {
    let out = run(sandbox, &["up"]);
    assert_code(&out, 0, &format!("{what}: up"));
    let out = run(sandbox, &["status"]);
    assert_code(&out, 0, &format!("{what}: status"));
    let doc = state(sandbox).expect("a state file after up");
    let recorded = doc["resources"].as_object().unwrap();
    for id in IDS {
        assert_eq!(
            recorded.get(*id).map(|r| r["ownership"].clone()),
            Some(serde_json::json!("created")),
            "{what}: {id} in {doc}"
        );
    }
}

/// `down --yes` exits 0, the state file is gone and nothing of the 12 kinds is left.
async fn tear_down(emulators: &Emulators, sandbox: &Sandbox, what: &str) {
    let out = run(sandbox, &["down", "--yes"]);
    assert_code(&out, 0, &format!("{what}: down"));
    assert!(state(sandbox).is_none(), "{what}: state file left");
    let left = leftovers(emulators, REGION).await;
    assert!(left.is_empty(), "{what}: left behind {left:?}");
}

/// The fault points to try among `total` writes: all of them up to the bound, else strided.
fn fault_points(total: usize) -> Vec<usize> {
    if total <= MAX_FAULT_POINTS {
        (1..=total).collect()
    } else {
        let stride = total.div_ceil(MAX_FAULT_POINTS);
        (1..=total).step_by(stride).collect()
    }
}

/// A failed command's JSON document names the failed resource and carries the AWS error.
#[track_caller]
fn assert_names_the_fault(out: &Output, what: &str) {
    assert_code(out, 1, what);
    let doc = json(out);
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    let failed = IDS
        .iter()
        .find(|id| message == format!("{id} failed"))
        .unwrap_or_else(|| panic!("{what}: error {message:?} names no resource: {doc}"));
    let causes = doc["error"]["causes"].to_string();
    assert!(
        causes.contains("AccessDenied") && causes.contains("injected by the test proxy"),
        "{what}: the AWS error is not reported: {doc}"
    );
    assert!(
        doc["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == *failed),
        "{what}: no line for {failed}: {doc}"
    );
    // The text error names it too, as `error: <id> failed` and the AWS error's code.
    let text = stderr(out);
    assert!(
        text.contains(&format!("error: {failed} failed")) && text.contains("AccessDenied"),
        "{what}: {text}"
    );
}

/// Fails the k-th write of a full `up`, for every k: `up` exits 1 naming the resource and the
/// AWS error, the state stays valid, the next `up` converges, `down` leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn up_failing_at_every_write_converges_on_the_next_run() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let started = Instant::now();

    emulators.faults.clear();
    converge(&sandbox, "clean up");
    let total = emulators.faults.writes();
    tear_down(&emulators, &sandbox, "clean down").await;
    assert!(total >= 20, "a full up made only {total} writes");

    let points = fault_points(total);
    let mut converged = 0;
    for &k in &points {
        let what = format!("up failing at write {k}/{total}");
        emulators.faults.fail_write(k);
        let out = run(&sandbox, &["--output", "json", "up"]);
        let injected = emulators.faults.injected();
        assert_eq!(injected.len(), 1, "{what}: {injected:?}");
        assert_names_the_fault(&out, &what);
        state(&sandbox);
        emulators.faults.clear();
        converge(&sandbox, &what);
        tear_down(&emulators, &sandbox, &what).await;
        converged += 1;
    }
    eprintln!(
        "FIGURES up fault points converged: {converged}/{} (of {total} writes) in {:.0?}",
        points.len(),
        started.elapsed()
    );
}

/// Fails the k-th write of a full `down`, for every k: `down` exits 1 naming the resource,
/// the state stays valid, the next `down` removes everything.
#[tokio::test(flavor = "multi_thread")]
async fn down_failing_at_every_write_finishes_on_the_next_run() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let started = Instant::now();

    converge(&sandbox, "clean up");
    emulators.faults.clear();
    tear_down(&emulators, &sandbox, "clean down").await;
    let total = emulators.faults.writes();
    assert!(total >= 12, "a full down made only {total} writes");

    let points = fault_points(total);
    let mut converged = 0;
    for &k in &points {
        let what = format!("down failing at write {k}/{total}");
        converge(&sandbox, &what);
        emulators.faults.fail_write(k);
        let out = run(&sandbox, &["--output", "json", "down", "--yes"]);
        assert_eq!(emulators.faults.injected().len(), 1, "{what}");
        assert_names_the_fault(&out, &what);
        assert!(state(&sandbox).is_some(), "{what}: the state was lost");
        emulators.faults.clear();
        tear_down(&emulators, &sandbox, &what).await;
        converged += 1;
    }
    eprintln!(
        "FIGURES down fault points converged: {converged}/{} (of {total} writes) in {:.0?}",
        points.len(),
        started.elapsed()
    );
}

/// Throttling and 5xx answers are retried by the SDK: every write's first attempt is
/// answered 429/503 (throttling) or 500, and `up` and `down` still succeed, each write
/// having been sent twice.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_server_errors_are_retried_by_the_sdk() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);

    emulators.reset();
    emulators.faults.throttle_writes();
    let out = run(&sandbox, &["up"]);
    assert_code(&out, 0, "throttled up");
    let writes = emulators.faults.writes();
    let injected = emulators.faults.injected();
    assert_eq!(injected.len(), writes, "every write was throttled once");
    let services: std::collections::BTreeSet<&str> =
        injected.iter().map(|(s, _)| s.as_str()).collect();
    for service in ["s3", "iam", "lambda", "mediaconvert", "cloudfront"] {
        assert!(
            services.contains(service),
            "{service} not throttled: {services:?}"
        );
    }
    // Each throttled write was sent again, and that attempt went through.
    assert_eq!(emulators.writes().len(), 2 * writes);
    eprintln!(
        "FIGURES throttled up: {writes} writes, each answered once with 429/503/500 and retried ({} write requests)",
        emulators.writes().len()
    );

    emulators.faults.clear();
    let out = run(&sandbox, &["status"]);
    assert_code(&out, 0, "status after a throttled up");
    emulators.faults.throttle_writes();
    let out = run(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "throttled down");
    assert_eq!(emulators.faults.injected().len(), emulators.faults.writes());
    emulators.faults.clear();
    let left = leftovers(&emulators, REGION).await;
    assert!(left.is_empty(), "left behind {left:?}");
}

/// A tiny deterministic generator (Knuth's MMIX LCG), so that a failing trial repeats.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in [0, bound).
    fn below(&mut self, bound: Duration) -> Duration {
        let millis = bound.as_millis().max(1) as u64;
        Duration::from_millis(self.next() % millis)
    }
}

fn spawn(sandbox: &Sandbox, args: &[&str]) -> Child {
    sandbox
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `args` and SIGKILLs it at a point drawn from `rng`: once the proxies have seen
/// `writes` write requests (drawn below `total`, the writes of a whole run), plus up to
/// 40 ms more. Tied to progress rather than to the clock, the point always falls inside the
/// run, however fast or loaded the machine is. Returns where it was killed.
fn kill_at_random_point(
    emulators: &Emulators,
    sandbox: &Sandbox,
    args: &[&str],
    total: usize,
    rng: &mut Lcg,
) -> String {
    let writes = (rng.next() as usize) % total;
    let extra = rng.below(Duration::from_millis(40));
    emulators.faults.clear();
    let mut child = spawn(sandbox, args);
    let deadline = Instant::now() + Duration::from_secs(60);
    while emulators.faults.writes() < writes {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?} ended before its write {writes}"
        );
        assert!(Instant::now() < deadline, "{args:?} stalled");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(extra);
    let _ = child.kill();
    let status = child.wait().unwrap();
    format!(
        "{} killed after write {writes}/{total} + {extra:?}{}",
        args.join(" "),
        if status.code().is_some() {
            " (it had already ended)"
        } else {
            ""
        }
    )
}

/// SIGKILL at a random point (seeded; see `kill_at_random_point`) of `up`: the state file is always absent or valid, the
/// next `up` converges without a duplicate, `down` leaves nothing.
#[tokio::test(flavor = "multi_thread")]
async fn killed_up_recovers() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    emulators.faults.clear();
    converge(&sandbox, "clean up");
    let total = emulators.faults.writes();
    tear_down(&emulators, &sandbox, "clean down").await;

    let mut rng = Lcg(0x5eed_0006);
    let mut recovered = 0;
    for trial in 1..=CRASH_TRIALS {
        let point = kill_at_random_point(&emulators, &sandbox, &["up"], total, &mut rng);
        let what = format!("trial {trial}: {point}");
        let doc = state(&sandbox);
        let records = doc.as_ref().map(|d| {
            let resources = d["resources"].as_object().unwrap();
            let creating = resources
                .values()
                .filter(|r| r["ownership"] == "creating")
                .count();
            (resources.len(), creating)
        });
        eprintln!("{what}: state (records, creating) = {records:?}");
        converge(&sandbox, &what);
        let left = leftovers(&emulators, REGION).await;
        for kind in ["distribution", "origin-access-control", "function", "role"] {
            let n = left.iter().filter(|l| l.starts_with(kind)).count();
            let wanted = if kind == "role" { 2 } else { 1 };
            assert_eq!(n, wanted, "{what}: {kind}s: {left:?}");
        }
        tear_down(&emulators, &sandbox, &what).await;
        recovered += 1;
    }
    eprintln!("FIGURES killed up recovered: {recovered}/{CRASH_TRIALS}");
}

/// SIGKILL at a random point (seeded) of `down`: the state file is always absent or valid,
/// the next `down` removes everything.
#[tokio::test(flavor = "multi_thread")]
async fn killed_down_recovers() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    converge(&sandbox, "first up");
    emulators.faults.clear();
    tear_down(&emulators, &sandbox, "clean down").await;
    let total = emulators.faults.writes();

    let mut rng = Lcg(0x5eed_d0e5);
    let mut recovered = 0;
    for trial in 1..=CRASH_TRIALS {
        converge(&sandbox, &format!("trial {trial}: up"));
        let point = kill_at_random_point(&emulators, &sandbox, &["down", "--yes"], total, &mut rng);
        let what = format!("trial {trial}: {point}");
        let records = state(&sandbox).map(|d| d["resources"].as_object().unwrap().len());
        eprintln!("{what}: records left {records:?}");
        tear_down(&emulators, &sandbox, &what).await;
        recovered += 1;
    }
    eprintln!("FIGURES killed down recovered: {recovered}/{CRASH_TRIALS}");
}

fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> (i32, String) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first Ctrl-C lets the calls in flight finish, saves the state and exits 130; the next
/// `up` converges. A second Ctrl-C exits at once, and the next `down` still finishes.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_saves_the_state_and_a_second_one_exits_at_once() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);

    // Every request takes 300 ms: up is well in flight after its third write.
    emulators.faults.clear();
    emulators.faults.delay(Duration::from_millis(300));
    let mut child = spawn(&sandbox, &["up"]);
    wait_until("three writes", Duration::from_secs(60), || {
        emulators.faults.writes() >= 3
    });
    interrupt(&child);
    let (code, err) = wait_with_timeout(&mut child, Duration::from_secs(60));
    let writes_then = emulators.faults.writes();
    assert_eq!(code, 130, "{err}");
    assert!(
        err.contains("interrupted: state saved; run the command again to continue"),
        "{err}"
    );
    let doc = state(&sandbox).expect("the state was saved");
    let recorded = doc["resources"].as_object().unwrap().len();
    assert!(
        (1..IDS.len()).contains(&recorded),
        "{recorded} resources recorded: {doc}"
    );
    // What was in flight finished and was recorded: nothing is left half-created.
    for (id, record) in doc["resources"].as_object().unwrap() {
        assert_eq!(record["ownership"], "created", "{id}: {doc}");
    }
    eprintln!(
        "FIGURES Ctrl-C during up: exit 130 after {writes_then} writes, {recorded} resources recorded"
    );
    emulators.faults.clear();
    converge(&sandbox, "up after Ctrl-C");

    // A second Ctrl-C while a 3 s call is in flight: exit at once, without waiting for it.
    emulators.faults.clear();
    emulators.faults.delay(Duration::from_secs(3));
    let mut child = spawn(&sandbox, &["down", "--yes"]);
    wait_until("a write in flight", Duration::from_secs(60), || {
        emulators.faults.writes() >= 1
    });
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(200));
    let second = Instant::now();
    interrupt(&child);
    let (code, err) = wait_with_timeout(&mut child, Duration::from_secs(30));
    let took = second.elapsed();
    assert_eq!(code, 130, "{err}");
    assert!(took < Duration::from_millis(1500), "exited after {took:?}");
    assert!(err.contains("interrupted again"), "{err}");
    state(&sandbox).expect("the state is intact");
    eprintln!("FIGURES second Ctrl-C during down: exit 130 after {took:?}");
    emulators.faults.clear();
    tear_down(&emulators, &sandbox, "down after two Ctrl-C").await;
}

/// With the state file deleted after `up`: `status` finds all 12 (names from account and
/// region, tags), `up` writes nothing and records them as created, `down` removes them all.
#[tokio::test(flavor = "multi_thread")]
async fn lost_state_is_found_again_and_torn_down() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    converge(&sandbox, "first up");
    std::fs::remove_file(state_path(&sandbox)).unwrap();

    let out = run(&sandbox, &["--output", "json", "status"]);
    assert_code(&out, 0, "status without state");
    let doc = json(&out);
    let resources = doc["resources"].as_array().unwrap();
    assert_eq!(resources.len(), IDS.len());
    for r in resources {
        assert_eq!(r["status"], "ok", "{r}");
    }
    // Found by names and tags as the stack's own, not as someone else's to adopt.
    let out = run(&sandbox, &["status"]);
    assert_code(&out, 0, "status without state (text)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("adopted"), "{text}");

    emulators.reset();
    let out = run(&sandbox, &["--output", "json", "up"]);
    assert_code(&out, 0, "up without state");
    let writes = emulators.writes();
    assert!(writes.is_empty(), "up without state wrote: {writes:?}");
    converge(&sandbox, "up again");
    let left = leftovers(&emulators, REGION).await;
    for kind in ["distribution", "origin-access-control"] {
        assert_eq!(
            left.iter().filter(|l| l.starts_with(kind)).count(),
            1,
            "{left:?}"
        );
    }

    std::fs::remove_file(state_path(&sandbox)).unwrap();
    tear_down(&emulators, &sandbox, "down without state").await;
    eprintln!("FIGURES lost state: 12/12 found, 0 writes on up, 0 left after down");
}

/// A bucket that existed before `up` (named in cattube.toml) and a role with the stack's
/// default name but not its tags are adopted, recorded as adopted, reported by `status`,
/// and survive `down --yes` with their objects and their owner's policies.
#[tokio::test(flavor = "multi_thread")]
async fn adopted_resources_survive_down() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let iam = aws_sdk_iam::Client::new(&sdk_config(&emulators.moto.url, REGION).await);
    const MINE: &str = "my-own-videos";
    const ROLE: &str = "cattube-eu-west-1-mediaconvert";

    s3.create_bucket()
        .bucket(MINE)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(MINE)
        .key("cats/keep.mp4")
        .body(b"mine".to_vec().into())
        .send()
        .await
        .unwrap();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"mediaconvert.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name(ROLE)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    let owners = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::my-own-videos"}]}"#;
    iam.put_role_policy()
        .role_name(ROLE)
        .policy_name("owners-policy")
        .policy_document(owners)
        .send()
        .await
        .unwrap();
    sandbox.write(
        "cattube.toml",
        &format!("[names]\nsource-bucket = \"{MINE}\"\n"),
    );

    let out = run(&sandbox, &["--output", "json", "up"]);
    assert_code(&out, 0, "up adopting");
    let doc = state(&sandbox).unwrap();
    for id in ["source-bucket", "mediaconvert-role"] {
        assert_eq!(doc["resources"][id]["ownership"], "adopted", "{id}: {doc}");
    }
    let out = run(&sandbox, &["status"]);
    assert_code(&out, 0, "status with adopted resources");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for id in ["source-bucket", "mediaconvert-role"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap_or_else(|| panic!("no {id} in {text}"));
        assert!(line.contains("(adopted)"), "{line}");
    }
    let policies = iam
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    assert!(
        policies
            .policy_names()
            .contains(&"owners-policy".to_string()),
        "up stripped the owner's policy of an adopted role: {:?}",
        policies.policy_names()
    );

    let out = run(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down with adopted resources");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for id in ["source-bucket", "mediaconvert-role"] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!(" {id} ")))
            .unwrap_or_else(|| panic!("no {id} in {text}"));
        assert!(
            line.contains("kept") && line.contains("adopted: not created by this stack"),
            "{line}"
        );
    }
    assert!(text.contains("2 kept"), "{text}");
    let out = run(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down again");
    let object = s3
        .get_object()
        .bucket(MINE)
        .key("cats/keep.mp4")
        .send()
        .await
        .expect("the user's video survives down");
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        b"mine"
    );
    let notification = s3
        .get_bucket_notification_configuration()
        .bucket(MINE)
        .send()
        .await
        .unwrap();
    assert!(
        notification.lambda_function_configurations().is_empty(),
        "the stack's notification was left on the adopted bucket"
    );
    let policies = iam
        .list_role_policies()
        .role_name(ROLE)
        .send()
        .await
        .unwrap();
    assert!(policies
        .policy_names()
        .contains(&"owners-policy".to_string()));
    let mut left = leftovers(&emulators, REGION).await;
    left.sort();
    assert_eq!(
        left,
        vec![format!("bucket {MINE}"), format!("role {ROLE}")],
        "only the adopted resources are left"
    );
    assert!(state(&sandbox).is_none());
}

/// A second cattube on the same state while one runs fails at once (exit 1, naming the
/// lock, which is taken before any request); the first run completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_state_fails_at_once() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    emulators.faults.delay(Duration::from_millis(150));
    let mut first = spawn(&sandbox, &["up"]);
    wait_until("the first run under way", Duration::from_secs(60), || {
        !emulators.requests().is_empty()
    });
    for args in [&["up"][..], &["down", "--yes"]] {
        let started = Instant::now();
        let out = run(&sandbox, args);
        let took = started.elapsed();
        assert_code(&out, 1, "second run");
        let text = stderr(&out);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert!(
            lines[0].contains("another cattube") && lines[0].contains("cattube.state.json.lock"),
            "{text}"
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }
    let (code, err) = wait_with_timeout(&mut first, Duration::from_secs(120));
    assert_eq!(code, 0, "{err}");
    emulators.faults.clear();
    let out = run(&sandbox, &["status"]);
    assert_code(&out, 0, "status after the first run");
    tear_down(&emulators, &sandbox, "down").await;
}
