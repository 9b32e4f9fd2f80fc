//! The shared state in S3 (`--state s3://…`, `CATTUBE_STATE`, `[state]`): runners that keep
//! nothing share one state, the lock object keeps a second run out and names the first, a
//! killed run's lock is cleared by `state unlock`, and a run whose state changed under it
//! never overwrites it. Against moto, which enforces `If-Match` and `If-None-Match: *` on
//! PutObject as S3 does (412 PreconditionFailed), through the recording proxy.

use crate::support;

use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::time::{Duration, Instant};

use support::aws_errors::AwsErrorReply;
use support::names::REGION;
use support::proxy::Answer;
use support::{
    assert_code, assert_every_action, assert_secure_bucket, interrupt, leftovers, s3_client,
    Emulators, Ran, Sandbox,
};

const BUCKET: &str = "cattube-shared-state";
const STATE: &str = "s3://cattube-shared-state/ci/cattube.json";
const KEY: &str = "ci/cattube.json";
const LOCK: &str = "ci/cattube.json.lock";

/// A run of `args` with the shared state.
fn shared(sandbox: &Sandbox, args: &[&str]) -> Ran {
    sandbox
        .run()
        .env("CATTUBE_STATE", STATE)
        .args(args)
        .output()
}

/// `args` started with the shared state, its stderr kept.
fn spawn(sandbox: &Sandbox, args: &[&str]) -> Child {
    sandbox.spawn(args, &[("CATTUBE_STATE", STATE)])
}

/// The object's text, straight from moto (not through the proxy).
async fn object(emulators: &Emulators, key: &str) -> Option<String> {
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let out = s3.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    let bytes = out.body.collect().await.unwrap().to_vec();
    Some(String::from_utf8(bytes).unwrap())
}

/// Writes the object straight to moto, as another writer would.
async fn put_object(emulators: &Emulators, key: &str, text: String) {
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    support::put_object(&s3, BUCKET, key, text.as_bytes()).await;
}

/// Waits until the lock object exists (the child holds it), failing if the child ends first.
async fn wait_for_lock(emulators: &Emulators, child: &mut Child) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(text) = object(emulators, LOCK).await {
            return serde_json::from_str(&text).unwrap();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it locked"
        );
        assert!(Instant::now() < deadline, "no lock after 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn no_local_state(sandbox: &Sandbox) {
    assert!(
        !sandbox.path().join("cattube.state.json").exists(),
        "a local state file was written"
    );
}

/// Two runners with no local state share one remote state; a concurrent `up` exits 1 at
/// once naming the holder; the state bucket has the secure settings and versioning; `down`
/// from the other runner tears down and never touches the state bucket.
#[tokio::test(flavor = "multi_thread")]
async fn runners_share_one_locked_state() {
    let emulators = Emulators::start();
    let first = emulators.sandbox(REGION);
    let second = emulators.sandbox(REGION);

    // The first runner creates the stack (many rounds of calls, each held 100 ms); a
    // concurrent run meanwhile is refused at once, naming the holder and since when.
    emulators.faults.delay(Duration::from_millis(100));
    let mut running = spawn(&first, &["up"]);
    let holder = wait_for_lock(&emulators, &mut running).await;
    assert_eq!(holder["pid"], running.id());
    let began = Instant::now();
    let refused = shared(&second, &["up"]);
    // Counted from what the run did, before the assertions over it.
    let refusals = usize::from(
        refused.code == Some(1)
            && refused.stderr.contains("is locked by")
            && began.elapsed() < Duration::from_secs(10),
    );
    println!("FIGURES concurrent runs refused: {refusals}/1");
    assert_code(&refused, 1, "a concurrent up");
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "the refusal waited"
    );
    let stderr = &refused.stderr;
    assert!(
        stderr.contains("is locked by")
            && stderr.contains(&format!("pid {}", running.id()))
            && stderr.contains(&format!("since {}", holder["started_at"].as_str().unwrap()))
            && stderr.contains("cattube state unlock"),
        "{stderr}"
    );
    // The refused run left the holder's lock as it was.
    let still: serde_json::Value =
        serde_json::from_str(&object(&emulators, LOCK).await.expect("the lock")).unwrap();
    assert_eq!(still, holder);
    let status = running.wait().unwrap();
    emulators.faults.clear();
    assert!(status.success(), "the first run: {status}");
    assert!(
        object(&emulators, LOCK).await.is_none(),
        "the lock outlived up"
    );
    no_local_state(&first);
    let doc: serde_json::Value =
        serde_json::from_str(&object(&emulators, KEY).await.expect("the remote state")).unwrap();
    assert_eq!(doc["stack"], "cattube");

    // The state bucket: created on first use, secure, versioned.
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    assert_secure_bucket(&s3, BUCKET).await;
    let versioning = s3
        .get_bucket_versioning()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));

    // Another runner, nothing on its disk: the same state, nothing to do.
    let out = shared(&second, &["status"]);
    assert_code(&out, 0, "status on the second runner");
    let out = second
        .run()
        .env("CATTUBE_STATE", STATE)
        .args(["up"])
        .expect_code(0)
        .json();
    // The second runner changes nothing.
    assert_every_action(&out.doc, "none");
    no_local_state(&second);

    // The status warning about an unversioned bucket is not shown for this one.
    let out = shared(&first, &["status"]);
    assert!(
        !out.stdout.contains("does not keep versions"),
        "{}",
        out.text()
    );

    let out = shared(&second, &["down", "--yes"]);
    assert_code(&out, 0, "down on the second runner");
    assert!(
        object(&emulators, KEY).await.is_none(),
        "the state outlived down"
    );
    assert!(
        object(&emulators, LOCK).await.is_none(),
        "the lock outlived down"
    );
    assert_eq!(leftovers(&emulators, REGION).await, Vec::<String>::new());
    s3.head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("down deleted the state bucket");
}

/// A SIGKILLed run leaves its lock: the next `up` is refused naming it, `state unlock`
/// asks (and refuses without a terminal unless `--yes`), clears it, and `up` converges.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_runs_lock_is_cleared_by_state_unlock() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    emulators.faults.delay(Duration::from_millis(100));
    let mut child = spawn(&sandbox, &["up"]);
    let holder = wait_for_lock(&emulators, &mut child).await;
    // Some of the stack made, then killed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while emulators.faults.writes() < 4 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "up ended before it was killed"
        );
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    emulators.faults.clear();
    assert!(
        object(&emulators, LOCK).await.is_some(),
        "SIGKILL released the lock"
    );

    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 1, "up while the killed run's lock is there");
    assert!(
        out.stderr.contains(&format!("pid {}", holder["pid"])),
        "{}",
        out.text()
    );

    let out = shared(&sandbox, &["state", "unlock"]);
    assert_code(&out, 2, "state unlock without a terminal or --yes");
    assert!(out.stderr.contains("--yes"), "{}", out.text());
    assert!(object(&emulators, LOCK).await.is_some());

    let out = shared(&sandbox, &["state", "unlock", "--yes"]);
    assert_code(&out, 0, "state unlock --yes");
    assert!(
        out.stderr.contains("removed the lock held by"),
        "{}",
        out.text()
    );
    assert!(
        object(&emulators, LOCK).await.is_none(),
        "state unlock left the lock"
    );

    let up = shared(&sandbox, &["up"]);
    let status = shared(&sandbox, &["status"]);
    // Counted from what the runs did, before the assertions over them.
    let recovered = usize::from(up.code == Some(0) && status.code == Some(0));
    println!("FIGURES kills recovered with remote state: {recovered}/1");
    assert_code(&up, 0, "up after unlock");
    assert_code(&status, 0, "status after unlock");
    let out = shared(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down");
    assert_eq!(leftovers(&emulators, REGION).await, Vec::<String>::new());
}

/// A run whose state changed under it (another writer, after this run read it) stops with a
/// clear error and overwrites nothing, and releases its lock.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_changed_under_a_run_is_never_overwritten() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 0, "up");
    let put = |text: String| put_object(&emulators, KEY, text);
    // Something for the next `up` to record: the source bucket's record is gone (its tags
    // say it is the stack's).
    let theirs = object(&emulators, KEY).await.unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&theirs).unwrap();
    doc["resources"]
        .as_object_mut()
        .unwrap()
        .remove("source-bucket")
        .expect("a source-bucket record");
    put(serde_json::to_string_pretty(&doc).unwrap() + "\n").await;

    emulators.faults.delay(Duration::from_millis(150));
    let mut child = spawn(&sandbox, &["up"]);
    wait_for_lock(&emulators, &mut child).await;
    // Another writer (a run that lost its lock, a hand edit) replaces the state now.
    put(theirs.clone()).await;
    let output = child.wait_with_output().unwrap();
    emulators.faults.clear();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("changed since this run read it") && stderr.contains("overwrote nothing"),
        "{stderr}"
    );
    assert_eq!(
        object(&emulators, KEY).await.as_deref(),
        Some(theirs.as_str())
    );
    assert!(
        object(&emulators, LOCK).await.is_none(),
        "the lock outlived the failed run"
    );

    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 0, "up once more");
    let out = shared(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down");
}

/// `state push` moves a local state to the remote store (refusing another region, or a
/// remote state that exists), `state pull` prints it; another runner then works from it.
#[tokio::test(flavor = "multi_thread")]
async fn push_then_pull() {
    let emulators = Emulators::start();
    let local = emulators.sandbox(REGION);
    let out = local.run().args(["up"]).output();
    assert_code(&out, 0, "up with the local state");
    let file = local.path().join("cattube.state.json");
    let text = std::fs::read_to_string(&file).unwrap();

    // Another region's state is refused, and nothing is written.
    let other = local.path().join("other.json");
    std::fs::write(&other, text.replace(REGION, "us-east-1")).unwrap();
    let out = local
        .run()
        .env("CATTUBE_STATE", STATE)
        .args(["state", "push"])
        .arg(&other)
        .expect_writes(0)
        .output();
    assert_code(&out, 2, "push of another region's state");
    assert!(out.stderr.contains("us-east-1"), "{}", out.text());

    let push = || {
        local
            .run()
            .env("CATTUBE_STATE", STATE)
            .args(["state", "push"])
            .arg(&file)
            .output()
    };
    let out = push();
    assert_code(&out, 0, "state push");
    assert_eq!(
        object(&emulators, KEY).await.as_deref(),
        Some(text.as_str())
    );
    assert!(object(&emulators, LOCK).await.is_none());

    let out = push();
    assert_code(&out, 2, "a second push");
    assert!(out.stderr.contains("exists already"), "{}", out.text());

    let runner = emulators.sandbox(REGION);
    let out = shared(&runner, &["state", "pull"]);
    assert_code(&out, 0, "state pull");
    let pulled: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let pushed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(pulled, pushed);
    let out = runner
        .run()
        .env("CATTUBE_STATE", STATE)
        .args(["state", "pull"])
        .expect_code(0)
        .json();
    assert_eq!(out.doc["state"], pushed);

    let out = shared(&runner, &["status"]);
    assert_code(&out, 0, "status from the pushed state");
    assert!(
        !out.stdout.contains("does not keep versions"),
        "{}",
        out.text()
    );

    // An existing bucket is used as it is, and `status` warns that it keeps no versions.
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    support::create_bucket(&s3, "someones-plain-bucket", REGION).await;
    let out = runner
        .run()
        .args(["--state", "s3://someones-plain-bucket/cattube.json", "up"])
        .output();
    assert_code(&out, 0, "up with an existing, unversioned state bucket");
    let plain_status = || {
        runner
            .run()
            .args([
                "--state",
                "s3://someones-plain-bucket/cattube.json",
                "status",
            ])
            .output()
    };
    let out = plain_status();
    assert!(
        out.stdout
            .contains("warning: the state bucket someones-plain-bucket does not keep versions"),
        "{}",
        out.text()
    );
    // Versioning that cannot be read is said too, not taken for "versioned".
    let refused = emulators.faults.answer(
        Answer::new(
            AwsErrorReply::s3(403, "AccessDenied", "no s3:GetBucketVersioning"),
            usize::MAX,
            |service, seen| {
                service == "s3" && seen.method == "GET" && seen.query.starts_with("versioning")
            },
        )
        .retries_too(),
    );
    let out = plain_status();
    assert!(!emulators.faults.answered(refused).is_empty());
    emulators.faults.clear_answers();
    assert!(
        out.stdout.contains(
            "warning: could not read whether the state bucket someones-plain-bucket keeps versions"
        ) && out.stdout.contains("AccessDenied"),
        "{}",
        out.text()
    );
    let versioning = s3
        .get_bucket_versioning()
        .bucket("someones-plain-bucket")
        .send()
        .await
        .unwrap();
    assert_eq!(versioning.status(), None, "the existing bucket was changed");
    assert!(s3
        .get_public_access_block()
        .bucket("someones-plain-bucket")
        .send()
        .await
        .is_err());
}

/// A fault on the lock write (S3 refuses it) or on the state write: the run fails naming
/// it, holds no lock afterwards, and the next run converges.
#[tokio::test(flavor = "multi_thread")]
async fn faults_on_the_lock_and_the_state_write() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let lock_write =
        |_: &str, seen: &support::proxy::Seen| seen.method == "PUT" && seen.path.ends_with(".lock");
    let state_write = |_: &str, seen: &support::proxy::Seen| {
        seen.method == "PUT" && seen.path.ends_with("/ci/cattube.json")
    };

    for (what, reply) in [
        (
            "lock AccessDenied",
            AwsErrorReply::s3(
                403,
                "AccessDenied",
                "Access Denied (injected by the test proxy)",
            ),
        ),
        (
            "lock ConditionalRequestConflict",
            AwsErrorReply::s3(
                409,
                "ConditionalRequestConflict",
                "A conflicting operation occurred (injected by the test proxy)",
            ),
        ),
    ] {
        emulators.faults.clear_answers();
        let answer = emulators.faults.answer(Answer::new(reply, 1, lock_write));
        let out = shared(&sandbox, &["up"]);
        assert_code(&out, 1, what);
        assert_eq!(emulators.faults.answered(answer).len(), 1, "{what}");
        assert!(
            out.stderr.contains(LOCK) || out.stderr.contains(KEY),
            "{what}: {}",
            out.text()
        );
        // Nothing but the lock attempt (and the state bucket, made on first use) was written.
        let bucket = format!("/{BUCKET}");
        assert!(
            out.writes().iter().all(|w| w.path.starts_with(&bucket)),
            "{what}: {:?}",
            out.writes()
        );
        assert!(
            object(&emulators, LOCK).await.is_none(),
            "{what}: a lock was left"
        );
    }

    emulators.faults.clear_answers();
    let answer = emulators.faults.answer(Answer::new(
        AwsErrorReply::s3(
            403,
            "AccessDenied",
            "Access Denied (injected by the test proxy)",
        ),
        1,
        state_write,
    ));
    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 1, "state write AccessDenied");
    assert_eq!(emulators.faults.answered(answer).len(), 1);
    assert!(out.stderr.contains("AccessDenied"), "{}", out.text());
    assert!(
        object(&emulators, LOCK).await.is_none(),
        "the failed run left its lock"
    );
    emulators.faults.clear_answers();

    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 0, "up after the faults");
    let out = shared(&sandbox, &["status"]);
    assert_code(&out, 0, "status after the faults");
    let out = shared(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down");
    assert_eq!(leftovers(&emulators, REGION).await, Vec::<String>::new());
}

/// Bad `--state` / `CATTUBE_STATE` / `[state]` input is one line naming the flag or key,
/// exit 2, nothing sent.
#[test]
fn bad_state_locations_are_refused() {
    let sandbox = Sandbox::new("http://127.0.0.1:9", REGION);
    for (args, env, file, names) in [
        (
            vec!["--state", "s3://Bad_Bucket/k", "status"],
            None,
            None,
            "--state",
        ),
        (vec!["status"], Some("s3://x/k"), None, "CATTUBE_STATE"),
        (
            vec!["status"],
            None,
            Some("[state]\nbackend = \"s3\"\n"),
            "state.bucket",
        ),
        (
            vec!["status"],
            None,
            Some("[state]\nbackend = \"gcs\"\n"),
            "state.backend",
        ),
        (
            vec!["status"],
            None,
            Some("[state]\nbackend = \"s3\"\nbucket = \"b-state\"\nregion = \"moon-1\"\n"),
            "state.region",
        ),
        (
            vec!["status"],
            None,
            Some("[state]\nregion = \"us-east-1\"\n"),
            "state.backend",
        ),
    ] {
        let _ = std::fs::remove_file(sandbox.path().join("cattube.toml"));
        if let Some(file) = file {
            sandbox.write("cattube.toml", file);
        }
        let mut run = sandbox.run().args(&args);
        if let Some(env) = env {
            run = run.env("CATTUBE_STATE", env);
        }
        let out = run.output();
        assert_code(&out, 2, &format!("{args:?} {env:?} {file:?}"));
        assert!(out.stderr.contains(names), "{names}: {}", out.text());
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.text());
    }
}

/// Ctrl-C releases the lock object: once (the run stops where it is and saves), and twice
/// (the second exits at once); `up` then converges without `state unlock`.
///
/// Each press goes in while the run is known to hold the lock and to be walking: the
/// proxy holds its first resource write (a write outside the state bucket) until the test
/// has seen the run's answer to the press on stderr. Waiting for the lock object alone
/// raced the run's own bookkeeping: the object exists in S3 a moment before the run has
/// the answer to its PutObject and knows that it holds the lock.
#[tokio::test(flavor = "multi_thread")]
async fn interrupted_runs_release_the_lock() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    for presses in [1, 2] {
        let state_bucket = format!("/{BUCKET}");
        let gate = emulators
            .faults
            .gate(move |seen| !seen.path.starts_with(&state_bucket));
        let mut child = spawn(&sandbox, &["up"]);
        let held = wait_for_gate(&gate, &mut child);
        assert!(
            object(&emulators, LOCK).await.is_some(),
            "the run walks ({held}) without the lock"
        );
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        interrupt(&child);
        let mut said = read_until(&mut stderr, "interrupt: finishing the calls in flight");
        if presses == 2 {
            interrupt(&child);
            // The second press exits with the write still held: nothing waits for it.
            let status = child.wait().unwrap();
            gate.open();
            assert_eq!(status.code(), Some(130), "2 Ctrl-C: {said}");
        } else {
            gate.open();
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(130), "1 Ctrl-C: {said}");
        }
        std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
        assert!(
            object(&emulators, LOCK).await.is_none(),
            "{presses} Ctrl-C left the lock: {said}"
        );
    }
    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 0, "up after the interrupts");
    let out = shared(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down");
    assert_eq!(leftovers(&emulators, REGION).await, Vec::<String>::new());
}

/// Ctrl-C while the lock's PutObject is in flight: S3 has stored the lock, its answer has
/// not arrived. The run releases the lock it may have written (its body is the run's own),
/// and leaves alone a lock that is another run's (its PutObject was refused, the answer
/// held the same way).
#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_while_locking_releases_only_its_own_lock() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let theirs = r#"{"user":"other","host":"runner-8","pid":7,"command":"cattube up","started_at":"2026-12-02T00:00:00Z","version":"0.1.0"}"#;
    for another_run_holds_it in [false, true] {
        if another_run_holds_it {
            put_object(&emulators, LOCK, theirs.to_string()).await;
        }
        let gate = emulators
            .faults
            .gate_answer(|seen| seen.method == "PUT" && seen.path.ends_with(".lock"));
        let mut child = spawn(&sandbox, &["up"]);
        wait_for_gate(&gate, &mut child);
        let stored = object(&emulators, LOCK).await.expect("S3 stored a lock");
        assert_eq!(stored == theirs, another_run_holds_it, "{stored}");
        interrupt(&child);
        let status = child.wait().unwrap();
        gate.open();
        let mut said = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
        assert_eq!(status.code(), Some(130), "{said}");
        let left = object(&emulators, LOCK).await;
        if another_run_holds_it {
            assert_eq!(
                left.as_deref(),
                Some(theirs),
                "the run deleted another run's lock"
            );
        } else {
            assert_eq!(left, None, "the run left the lock it wrote: {said}");
        }
    }
}

/// The write `gate` holds, once it has arrived; fails if the child ends first.
fn wait_for_gate(gate: &support::proxy::Gate, child: &mut Child) -> support::proxy::Seen {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(seen) = gate.reached() {
            return seen;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its first resource write"
        );
        assert!(Instant::now() < deadline, "no resource write after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines of `stderr` up to and including the first that contains `line` (all of it,
/// should the stream end first: the failure shows it).
fn read_until(stderr: &mut impl std::io::BufRead, line: &str) -> String {
    let mut said = String::new();
    while !said.contains(line) {
        if stderr.read_line(&mut said).unwrap() == 0 {
            panic!("the run never said {line:?}: {said}");
        }
    }
    said
}

/// At a terminal: Ctrl-C at `down`'s prompt exits 130 and releases the lock (the handler
/// exits the process at once, so it releases it first); `state unlock` shows the holder and
/// removes the lock only when the answer is `unlock`.
#[tokio::test(flavor = "multi_thread")]
async fn at_a_terminal_the_prompts_keep_the_lock_right() {
    use rexpect::process::WaitStatus;
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 0, "up");
    let at_terminal = |args: &[&str]| {
        sandbox
            .run()
            .env("CATTUBE_STATE", STATE)
            .args(args)
            .at_terminal(Duration::from_secs(60))
    };
    let exit_code = |session: &rexpect::session::PtySession| match session.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => code,
        other => panic!("cattube did not exit normally: {other:?}"),
    };

    let mut down = at_terminal(&["down"]);
    down.exp_string("to confirm: ").expect("the prompt");
    assert!(
        object(&emulators, LOCK).await.is_some(),
        "down asks holding the lock"
    );
    down.send_control('c').unwrap();
    down.exp_eof().unwrap();
    assert_eq!(exit_code(&down), 130);
    assert!(
        object(&emulators, LOCK).await.is_none(),
        "Ctrl-C at the prompt left the lock"
    );

    // A stale lock, as a killed run leaves it.
    let stale = r#"{"user":"ci","host":"runner-7","pid":4242,"command":"cattube up","started_at":"2026-12-01T10:00:00Z","version":"0.1.0"}"#;
    put_object(&emulators, LOCK, stale.to_string()).await;
    for (answer, code, gone) in [("no", 2, false), ("unlock", 0, true)] {
        let mut unlock = at_terminal(&["state", "unlock"]);
        let asked = unlock.exp_string("to remove it: ").expect("the question");
        assert!(
            asked.contains(
                "ci@runner-7 (pid 4242, `cattube up`, cattube 0.1.0) since 2026-12-01T10:00:00Z"
            ),
            "{asked}"
        );
        unlock.send_line(answer).unwrap();
        unlock.exp_eof().unwrap();
        assert_eq!(exit_code(&unlock), code, "answer {answer}");
        assert_eq!(
            object(&emulators, LOCK).await.is_none(),
            gone,
            "answer {answer}"
        );
    }
    let out = shared(&sandbox, &["down", "--yes"]);
    assert_code(&out, 0, "down");
}

/// A run releases only its own lock: one whose lock was cleared and taken by another run
/// (`state unlock` while it still ran) leaves the other run's lock in place when it ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_never_releases_another_runs_lock() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    emulators.faults.delay(Duration::from_millis(100));
    let mut child = spawn(&sandbox, &["up"]);
    wait_for_lock(&emulators, &mut child).await;
    // Its lock is cleared and another run takes one.
    let out = shared(&sandbox, &["state", "unlock", "--yes"]);
    assert_code(&out, 0, "state unlock while up runs");
    let theirs = r#"{"user":"other","host":"runner-8","pid":7,"command":"cattube up","started_at":"2026-12-02T00:00:00Z","version":"0.1.0"}"#;
    put_object(&emulators, LOCK, theirs.to_string()).await;
    let status = child.wait().unwrap();
    emulators.faults.clear();
    assert!(status.success(), "{status}");
    assert_eq!(
        object(&emulators, LOCK).await.as_deref(),
        Some(theirs),
        "the run deleted another run's lock"
    );
}

/// `[state] region`: the state bucket is created in that region, not the stack's, and the
/// runs read and write the state there (`up` then `down`); `--state s3://…` still picks
/// the bucket and key.
#[tokio::test(flavor = "multi_thread")]
async fn the_state_bucket_may_live_in_another_region() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    sandbox.write("cattube.toml", "[state]\nregion = \"us-east-1\"\n");
    let out = shared(&sandbox, &["up"]);
    assert_code(&out, 0, "up");
    let s3 = s3_client(&emulators.moto.url, REGION).await;
    let location = s3
        .get_bucket_location()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    // us-east-1 is the location constraint S3 leaves empty.
    assert_eq!(
        location
            .location_constraint()
            .map(|c| c.as_str())
            .unwrap_or(""),
        "",
        "{location:?}"
    );
    // The run signed its state requests for us-east-1.
    let signed: Vec<String> = out
        .requests
        .iter()
        .filter(|r| r.path.starts_with(&format!("/{BUCKET}")))
        .map(|r| r.region.clone())
        .collect();
    assert!(
        !signed.is_empty() && signed.iter().all(|r| r == "us-east-1"),
        "{signed:?}"
    );
    assert!(object(&emulators, KEY).await.is_some(), "no state written");
    assert_code(&shared(&sandbox, &["down", "--yes"]), 0, "down");
    assert!(object(&emulators, KEY).await.is_none(), "state left");
}
