//! `cattube permissions`: the generated policy against AWS's Service Authorization Reference,
//! and against the calls each command really made through the recording proxy (no call
//! outside the policy, no action in it that no command used). The mapping from a recorded
//! request to its IAM action, and the checks, are tests/iam/permissions_check.py's.

use crate::support;

use std::process::Command;

use serde_json::{json, Value};
use support::names::REGION;
use support::{repo_root, venv_python, Emulators};

/// A recorded request as the checker reads it.
fn calls(requests: &[support::proxy::Seen]) -> Vec<Value> {
    requests
        .iter()
        .map(|seen| {
            json!({
                "service": seen.operation.split(' ').next().unwrap_or_default(),
                "method": seen.method,
                "path": seen.path,
                "query": seen.query,
                "action": seen.action,
                "operation": seen.operation,
            })
        })
        .collect()
}

#[track_caller]
fn check(document: &Value) -> (bool, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec_pretty(document).unwrap()).unwrap();
    let out = Command::new(venv_python())
        .arg(repo_root().join("tests/iam/permissions_check.py"))
        .arg(file.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Changes made behind cattube's back that `up` repairs: the function's environment, the
/// converter role widened by an inline and a managed policy, the MediaConvert role's trust.
async fn drift(emulators: &Emulators) {
    let aws = support::sdk_config(&emulators.moto.url, REGION).await;
    let (lambda, iam) = (
        aws_sdk_lambda::Client::new(&aws),
        aws_sdk_iam::Client::new(&aws),
    );
    support::drift_function_environment(&lambda, "cattube-converter").await;
    support::widen_role(&iam, "cattube-eu-west-1-converter").await;
    iam.update_assume_role_policy()
        .role_name("cattube-eu-west-1-mediaconvert")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
}

/// The runs keep their state in S3, as CI does: the state bucket's calls are checked too.
const STATE: &str = "s3://cattube-ci-state-123456789012/";

/// A run of cattube on the shared state ([`STATE`]).
fn on_shared_state<I, S>(sandbox: &support::Sandbox, args: I) -> support::Run<'_>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    sandbox.run().args(args).env("CATTUBE_STATE", STATE)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_policy_allows_every_call_the_commands_make_and_nothing_they_do_not() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    // Over the multipart threshold: the upload's parts are authorized as PutObject.
    let video = sandbox.path().join("tabby cat.mp4");
    let size = cattube_stages::videos::MULTIPART_THRESHOLD + 1;
    std::fs::File::create(&video)
        .unwrap()
        .set_len(size)
        .unwrap();

    // With [notify], [domain] (its zone in Route 53) and [delivery] private: the optional
    // resources' calls are made and checked too.
    sandbox.write(
        "cattube.toml",
        "[notify]\nemail = [\"cat@example.com\"]\n[domain]\nname = \"videos.example.com\"\n\
         [delivery]\nprivate = true\n",
    );
    support::stack_clients(&emulators, REGION)
        .await
        .route53
        .create_hosted_zone()
        .name("example.com")
        .caller_reference("permissions")
        .send()
        .await
        .unwrap();
    let mut runs = Runs::default();
    made_and_shared(&emulators, &sandbox, &mut runs).await;
    gc_collects_an_expired_stack(&emulators, &sandbox, &mut runs).await;
    let down = on_shared_state(&sandbox, ["down", "--yes"])
        .expect_code(0)
        .json();
    runs.record("down", &down);

    let mut policies = policies_asked_of_nothing_but_the_account(&sandbox);
    policies.extend(a_tutorial_stack_adopted_then_deleted(&emulators, &mut runs));
    let runs = runs.0;
    let (ok, report) = check(&json!({
        "account": "123456789012",
        "region": REGION,
        "policies": policies,
        "runs": runs,
    }));
    println!("{report}");
    assert!(ok, "{report}");
}

/// Where the tutorial's stack is built: another region, so that its names never meet the
/// stack above.
const TUTORIAL_REGION: &str = "us-west-2";

/// The console tutorial's stack (tests/support/tutorial_stack.py) taken over by `adopt
/// --from-tutorial`, converged by `up`, deleted by `down --including-adopted` (the console's
/// function role and `MediaConvert_Default_Role` too): each run's calls recorded, checked
/// against the policies printed for the tutorial's names (the `up` one as `up@tutorial`).
fn a_tutorial_stack_adopted_then_deleted(
    emulators: &Emulators,
    runs: &mut Runs,
) -> serde_json::Map<String, Value> {
    let sandbox = emulators.sandbox(TUTORIAL_REGION);
    support::succeeded(
        sandbox
            .command_for(&venv_python())
            .arg(repo_root().join("tests/support/tutorial_stack.py"))
            .args(["--videos", "clip.mp4"]),
    );
    // The names `adopt --from-tutorial` takes from examples/tutorial.toml, for `permissions`
    // to scope its policies to.
    let names: String = std::fs::read_to_string(repo_root().join("examples/tutorial.toml"))
        .unwrap()
        .lines()
        .skip_while(|l| *l != "[names]")
        .map(|l| format!("{l}\n"))
        .collect();
    sandbox.write("cattube.toml", &names);
    let mut policies = serde_json::Map::new();
    for (key, command) in [
        ("adopt", "adopt"),
        ("up@tutorial", "up"),
        ("down-including-adopted", "down-including-adopted"),
    ] {
        let printed = sandbox
            .run()
            .args(["permissions", "--for", command])
            .expect_code(0)
            .json();
        policies.insert(key.into(), printed.doc["policy"].clone());
    }
    for (key, args) in [
        ("adopt", vec!["adopt", "--from-tutorial", "--yes"]),
        ("up@tutorial", vec!["up"]),
        (
            "down-including-adopted",
            vec!["down", "--yes", "--including-adopted"],
        ),
    ] {
        let ran = sandbox.run().args(&args).expect_code(0).json();
        runs.record_in(TUTORIAL_REGION, key, &ran);
    }
    policies
}

/// The calls of each run, by command, as the checker reads them.
#[derive(Default)]
struct Runs(Vec<Value>);

impl Runs {
    fn record(&mut self, command: &str, ran: &support::Ran) {
        self.record_in(REGION, command, ran);
    }

    fn record_in(&mut self, region: &str, command: &str, ran: &support::Ran) {
        self.0.push(json!({
            "command": command,
            "region": region,
            "calls": calls(&ran.requests),
        }));
    }
}

/// The stack made with a local state, moved to the shared one, used, repaired and
/// unlocked: every command's calls recorded.
async fn made_and_shared(emulators: &Emulators, sandbox: &support::Sandbox, runs: &mut Runs) {
    // The stack made with a local state, then moved to the shared one by `state push`,
    // which creates the state bucket; `state pull` reads it back.
    let made = sandbox.run().args(["up"]).expect_code(0).json();
    runs.record("up", &made);
    let pushed = on_shared_state(sandbox, ["state", "push", "cattube.state.json"])
        .expect_code(0)
        .output();
    runs.record("state", &pushed);
    std::fs::remove_file(sandbox.path().join("cattube.state.json")).unwrap();
    let pulled = on_shared_state(sandbox, ["state", "pull"])
        .expect_code(0)
        .output();
    runs.record("state", &pulled);
    for (command, args) in [
        ("up", vec!["up"]),
        ("status", vec!["status"]),
        ("drift", vec![]),
        ("upload", vec!["upload", "tabby cat.mp4"]),
        ("upload-url", vec!["upload-url", "cats/tabby cat.mp4"]),
        (
            "upload-url",
            vec![
                "upload-url",
                "--multipart",
                "--size",
                "1000",
                "cats/long cat.mp4",
            ],
        ),
        // Converged: the second `up` reads only, the same reads as the first.
        ("up", vec!["up"]),
        // A private stack's rotation is `up`'s to make; --grace 0s retires the old key too.
        ("up", vec!["keys", "rotate", "--grace", "0s"]),
    ] {
        if command == "drift" {
            drift(emulators).await;
            // `up` repairs it: the repair calls are checked too.
            let ran = on_shared_state(sandbox, ["up"]).expect_code(0).json();
            runs.record("up", &ran);
            continue;
        }
        let ran = on_shared_state(sandbox, &args).expect_code(0).json();
        runs.record(command, &ran);
    }
    // A lock a killed run left, cleared by `state unlock`.
    let aws = support::sdk_config(&emulators.moto.url, REGION).await;
    let s3 = aws_sdk_s3::Client::new(&aws);
    let lock = "cattube/cattube/eu-west-1.json.lock";
    support::put_object(&s3, "cattube-ci-state-123456789012", lock, b"{}").await;
    let unlocked = on_shared_state(sandbox, ["state", "unlock", "--yes"])
        .expect_code(0)
        .output();
    runs.record("state", &unlocked);
}

/// Another stack, made by another runner, whose --ttl has passed: `stacks` lists it and
/// `gc` deletes it (CloudFront's distribution on a later gc) with default names and no
/// state of its own; this stack has no expiry and is kept.
async fn gc_collects_an_expired_stack(
    emulators: &Emulators,
    sandbox: &support::Sandbox,
    runs: &mut Runs,
) {
    let other = emulators.sandbox(REGION);
    other
        .run()
        .args(["--stack", "old", "up", "--ttl", "1h"])
        .expect_code(0)
        .output();
    let clients = support::stack_clients(emulators, REGION).await;
    support::expire(&clients, REGION, "old").await;
    let listed = on_shared_state(sandbox, ["stacks"]).expect_code(0).json();
    runs.record("stacks", &listed);
    let mut collected = 0;
    for _ in 0..10 {
        let ran = on_shared_state(sandbox, ["gc", "--yes"])
            .expect_code(0)
            .json();
        runs.record("gc", &ran);
        let stacks = ran.doc["stacks"].as_array().unwrap().clone();
        let old = stacks.iter().find(|s| s["stack"] == "old");
        match old.and_then(|s| s["gc"].as_str()) {
            Some(what) if what.starts_with("deleted") => collected += 1,
            Some(what) if what.starts_with("pending") => {}
            Some(what) => panic!("gc of old: {what}"),
            None => break,
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    assert_eq!(collected, 1, "the expired stack was deleted once");
    println!(
        "FIGURES gc: {collected} expired stack collected of {} listed by stacks",
        listed.doc["stacks"].as_array().map_or(0, Vec::len)
    );
    let left: Vec<String> = cattube_stages::stacks::list(&clients, REGION)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.stack)
        .collect();
    assert_eq!(
        left,
        ["cattube"],
        "gc deletes the expired stack and only it"
    );
}

/// `permissions --for` each command asks AWS only for the account id, `--account` asks
/// nothing and prints the same policy, `--stacks` names a pattern's stacks only.
fn policies_asked_of_nothing_but_the_account(
    sandbox: &support::Sandbox,
) -> serde_json::Map<String, Value> {
    let mut policies = serde_json::Map::new();
    for command in [
        "up",
        "down",
        "status",
        "upload",
        "upload-url",
        "stacks",
        "gc",
        "state",
        "all",
    ] {
        let ran = on_shared_state(sandbox, ["permissions", "--for", command])
            .expect_read_only()
            .json();
        // Only the account id is asked of AWS.
        let asked: Vec<&str> = ran.requests.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(asked, ["GetCallerIdentity"], "{command}");
        assert_eq!(ran.doc["account"], "123456789012");
        policies.insert(command.into(), ran.doc["policy"].clone());
    }
    // With --account, no call at all and the same policy.
    let offline = on_shared_state(sandbox, ["permissions", "--account", "123456789012"])
        .expect_code(0)
        .output();
    assert!(offline.requests.is_empty(), "{:?}", offline.requests);
    let printed: Value = serde_json::from_str(&offline.stdout).unwrap();
    assert_eq!(printed, policies["all"]);

    // One policy for every stack of a pattern: its names, with the pattern's wildcard.
    let pattern = on_shared_state(sandbox, ["permissions", "--stacks", "pr-*"])
        .expect_code(0)
        .json()
        .doc["policy"]
        .clone();
    let resources = pattern.to_string();
    assert!(
        resources.contains("\"arn:aws:s3:::pr-*-source-123456789012-eu-west-1\""),
        "{pattern:#}"
    );
    assert!(
        resources.contains(
            "\"arn:aws:s3:::cattube-ci-state-123456789012/cattube/pr-*/eu-west-1.json.lock\""
        ),
        "{pattern:#}"
    );
    // No name of the `cattube` stack itself (the state bucket is named for the account).
    assert!(
        !resources
            .replace("cattube-ci-state-123456789012", "")
            .contains("cattube-"),
        "{pattern:#}"
    );
    policies.insert("--stacks pr-*".into(), pattern);

    policies
}

#[test]
fn bad_input_is_refused() {
    let sandbox = support::Sandbox::new("http://127.0.0.1:9", REGION);
    for (args, says) in [
        (vec!["permissions", "--account", "12"], "--account '12'"),
        (vec!["permissions", "--for", "jobs"], "--for"),
        (vec!["permissions", "--stacks", "PR-*"], "--stacks 'PR-*'"),
    ] {
        let ran = sandbox.run().args(&args).expect_code(2).output();
        assert!(ran.stderr.contains(says), "{args:?}: {}", ran.text());
        assert_eq!(ran.stdout, "", "{args:?}");
        assert_eq!(std::fs::read_dir(sandbox.path()).unwrap().count(), 0);
    }
}
