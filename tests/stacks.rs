//! CI at scale against moto's server and the MediaConvert stand-in: the outputs for scripts,
//! every stack listed by its tags, the expiry tag `up --ttl` sets, and `gc` collecting the
//! expired stacks only.

use crate::support;

use support::names::REGION;
use support::Emulators;

#[test]
fn output_prints_the_values_up_reported() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);

    // Nothing is up: no output is known, and asking says so.
    let ran = sandbox.run().arg("output").expect_refused().output();
    assert!(ran.stderr.contains("not up"), "{}", ran.text());
    assert_eq!(ran.stdout, "");

    let up = sandbox.run().arg("up").expect_code(0).json();
    // The distribution's status is read live: CloudFront deploys it after `up` returns.
    let mut outputs = up.doc["outputs"].as_object().unwrap().clone();
    let without_status = |mut outputs: serde_json::Map<String, serde_json::Value>| {
        assert!(outputs.remove("distribution_status").is_some());
        outputs
    };
    assert_eq!(
        outputs.keys().map(String::as_str).collect::<Vec<_>>().len(),
        cattube_stages::Registry::standard().output_keys().len()
    );

    outputs = without_status(outputs);
    let all = sandbox.run().arg("output").expect_read_only().output();
    let lines: Vec<String> = outputs
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    assert!(!lines.is_empty(), "up reported no outputs: {}", up.doc);
    let mut printed: Vec<&str> = all
        .stdout
        .lines()
        .filter(|l| !l.starts_with("distribution_status="))
        .collect();
    assert_eq!(
        printed.len() + 1,
        all.stdout.lines().count(),
        "{}",
        all.text()
    );
    printed.sort();
    let mut wanted: Vec<&str> = lines.iter().map(String::as_str).collect();
    wanted.sort();
    assert_eq!(printed, wanted, "{}", all.text());

    let domain = sandbox
        .run()
        .args(["output", "distribution_domain"])
        .expect_read_only()
        .output();
    assert_eq!(
        domain.stdout,
        format!("{}\n", outputs["distribution_domain"].as_str().unwrap())
    );

    let json = sandbox.run().arg("output").expect_read_only().json();
    assert_eq!(
        without_status(json.doc["outputs"].as_object().unwrap().clone()),
        outputs
    );

    // An unknown name: exit 2 before any request, naming the allowed ones.
    let bad = sandbox
        .run()
        .args(["output", "no_such_output"])
        .expect_code(2)
        .output();
    assert!(bad.requests.is_empty(), "{:?}", bad.requests);
    for key in cattube_stages::Registry::standard().output_keys() {
        assert!(bad.stderr.contains(key), "{key} not named: {}", bad.text());
    }
}

/// The stacks `stacks` lists, by name, with what it says of each.
fn listed(doc: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    doc["stacks"]
        .as_array()
        .unwrap_or_else(|| panic!("no stacks in {doc}"))
        .iter()
        .map(|s| (s["stack"].as_str().unwrap().to_string(), s.clone()))
        .collect()
}

#[test]
fn stacks_lists_every_stack_by_its_tags() {
    let emulators = Emulators::start();
    let none = emulators.sandbox(REGION);
    let empty = none.run().arg("stacks").expect_read_only().json();
    assert_eq!(listed(&empty.doc), vec![]);

    let sandboxes: Vec<_> = ["alpha", "beta", "gamma"]
        .into_iter()
        .map(|stack| {
            let sandbox = emulators.sandbox(REGION);
            sandbox
                .run()
                .args(["--stack", stack, "up"])
                .expect_code(0)
                .output();
            (stack, sandbox)
        })
        .collect();
    // Another region's stack is not this region's.
    emulators
        .sandbox("us-west-2")
        .run()
        .args(["--stack", "elsewhere", "up"])
        .expect_code(0)
        .output();

    let (_, alpha) = &sandboxes[0];
    let ran = alpha
        .run()
        .args(["--stack", "alpha", "stacks"])
        .expect_read_only()
        .json();
    let stacks = listed(&ran.doc);
    let names: Vec<&str> = stacks.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"], "{}", ran.doc);
    for (name, stack) in &stacks {
        // The emulator's tagging API covers the three buckets (source, destination,
        // failures), the function, its log group and the distribution (not IAM; the
        // MediaConvert stand-in has no tagging API).
        assert_eq!(stack["resources"], 6, "{name}: {stack}");
        assert!(stack["expires_at"].is_null(), "{name}: {stack}");
        assert_eq!(stack["expired"], false, "{name}: {stack}");
    }
    // Only alpha's configuration knows where alpha's state is.
    assert!(stacks[0].1["state"]
        .as_str()
        .unwrap()
        .ends_with("cattube.state.json"));
    assert!(stacks[1].1["state"].is_null());

    let text = alpha.run().arg("stacks").expect_code(0).output();
    for name in ["alpha", "beta", "gamma"] {
        assert!(text.stdout.contains(name), "{}", text.text());
    }
    assert!(!text.stdout.contains("elsewhere"), "{}", text.text());
    // The count is said to be the tagging API's, not the stack's size.
    assert!(
        text.stdout
            .contains("TAGGED: the resources the tagging API reports"),
        "{}",
        text.text()
    );
}

/// The expiry `stacks` reports for `stack`.
fn expiry_of(sandbox: &support::Sandbox, stack: &str) -> serde_json::Value {
    let ran = sandbox
        .run()
        .args(["--stack", stack, "stacks"])
        .expect_code(0)
        .json();
    listed(&ran.doc)
        .into_iter()
        .find(|(name, _)| name == stack)
        .unwrap_or_else(|| panic!("{stack} not listed: {}", ran.doc))
        .1["expires_at"]
        .clone()
}

/// Seconds since the epoch of an RFC 3339 UTC time `stacks` printed.
fn epoch(at: &serde_json::Value) -> i64 {
    let text = at.as_str().unwrap_or_else(|| panic!("no expiry: {at}"));
    cattube_stages::stacks::parse_time(text)
        .unwrap_or_else(|| panic!("{text} is not RFC 3339"))
        .secs()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread")]
async fn ttl_tags_every_resource_and_a_later_up_keeps_it() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);

    // Bad durations: exit 2 naming --ttl and the form, before any request.
    for bad in ["48", "2w", "0h", "366d", "-1h", "h"] {
        let ran = sandbox
            .run()
            .args(["up", &format!("--ttl={bad}")])
            .expect_code(2)
            .output();
        assert!(ran.requests.is_empty(), "--ttl {bad}: {:?}", ran.requests);
        assert!(
            ran.stderr.contains("--ttl") && ran.stderr.contains("48h or 7d"),
            "--ttl {bad}: {}",
            ran.text()
        );
    }
    assert!(!sandbox.path().join("cattube.state.json").exists());

    let before = now();
    sandbox
        .run()
        .args(["up", "--ttl", "48h"])
        .expect_code(0)
        .output();
    let at = expiry_of(&sandbox, "cattube");
    let expires = epoch(&at);
    assert!(
        (before + 48 * 3600..=now() + 48 * 3600).contains(&expires),
        "{at} is not 48 h from now"
    );
    // Every taggable resource carries it, not just those the tagging API lists.
    let ctx = support::stack_context(
        &emulators,
        REGION,
        "cattube",
        &Default::default(),
        &cattube_stages::Registry::standard(),
    )
    .await;
    let role = ctx
        .clients
        .iam
        .list_role_tags()
        .role_name(ctx.name(cattube_stages::converter_role::ID))
        .send()
        .await
        .unwrap();
    assert!(
        role.tags()
            .iter()
            .any(|t| t.key() == "cattube:expires-at" && t.value() == at),
        "{:?}",
        role.tags()
    );
    let queue = ctx
        .clients
        .mediaconvert
        .list_tags_for_resource()
        .arn(format!(
            "arn:aws:mediaconvert:{REGION}:{}:queues/{}",
            ctx.account,
            ctx.name(cattube_stages::queue::ID)
        ))
        .send()
        .await
        .unwrap();
    let queue_tags = queue
        .resource_tags()
        .and_then(|t| t.tags())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        queue_tags.get("cattube:expires-at"),
        at.as_str().map(String::from).as_ref()
    );

    // A later `up` without --ttl keeps it: no drift, no write.
    converged(&sandbox, "up");
    converged(&sandbox, "status");
    assert_eq!(expiry_of(&sandbox, "cattube"), at);

    // A resource a later `up` recreates gets the expiry the others carry.
    let function = ctx.name(cattube_stages::converter_function::ID).to_string();
    ctx.clients
        .lambda
        .delete_function()
        .function_name(&function)
        .send()
        .await
        .unwrap();
    sandbox.run().arg("up").expect_code(0).output();
    let arn = format!(
        "arn:aws:lambda:{REGION}:{}:function:{function}",
        ctx.account
    );
    let tags = ctx
        .clients
        .lambda
        .list_tags()
        .resource(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().and_then(|t| t.get("cattube:expires-at")),
        at.as_str().map(String::from).as_ref(),
        "{tags:?}"
    );
    assert_eq!(expiry_of(&sandbox, "cattube"), at);

    // --ttl again sets a new one on every resource.
    sandbox
        .run()
        .args(["up", "--ttl", "1h"])
        .expect_code(0)
        .output();
    let again = expiry_of(&sandbox, "cattube");
    assert!(epoch(&again) < expires, "{again} after {at}");
    converged(&sandbox, "status");
}

/// `command` succeeds and writes nothing: the stack is as it wants it.
fn converged(sandbox: &support::Sandbox, command: &str) {
    sandbox.run().arg(command).expect_read_only().output();
}

/// What is left of `stack` in the emulators: every step's own lookup, as `leftovers()`.
async fn leftovers_of(emulators: &Emulators, stack: &str) -> Vec<String> {
    let registry = cattube_stages::Registry::standard();
    let ctx =
        support::stack_context(emulators, REGION, stack, &Default::default(), &registry).await;
    support::found_owned(&registry, &ctx).await
}

/// What `gc` said of each stack.
fn collected(doc: &serde_json::Value) -> Vec<(String, String)> {
    listed(doc)
        .into_iter()
        .map(|(name, s)| (name, s["gc"].as_str().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn gc_deletes_only_the_expired_stack_and_leaves_nothing_of_it() {
    let emulators = Emulators::start();
    let clients = support::stack_clients(&emulators, REGION).await;
    let account = clients.account_id().await.unwrap();
    // alpha's source bucket existed before alpha: adopted, and never deleted by gc.
    let adopted = format!("alpha-source-{account}-{REGION}");
    support::create_bucket(&clients.s3, &adopted, REGION).await;

    let mut sandboxes = Vec::new();
    for (stack, ttl) in [
        ("alpha", Some("1h")),
        ("beta", Some("48h")),
        ("gamma", None),
    ] {
        let sandbox = emulators.sandbox(REGION);
        let mut args = vec!["--stack", stack, "up"];
        args.extend(ttl.iter().flat_map(|t| ["--ttl", *t]));
        sandbox.run().args(&args).expect_code(0).output();
        sandboxes.push(sandbox);
    }
    // alpha's hour has passed: its resources say so.
    support::expire(&clients, REGION, "alpha").await;
    let alpha_before = leftovers_of(&emulators, "alpha").await;
    assert!(alpha_before.len() > 4, "{alpha_before:?}");
    let beta_before = leftovers_of(&emulators, "beta").await;
    let gamma_before = leftovers_of(&emulators, "gamma").await;

    // A fresh runner: no state file of any stack.
    let runner = emulators.sandbox(REGION);
    let dry = runner
        .run()
        .args(["gc", "--dry-run"])
        .expect_read_only()
        .json();
    assert_eq!(
        collected(&dry.doc),
        [
            ("alpha".to_string(), "would delete".to_string()),
            (
                "beta".to_string(),
                format!(
                    "kept: expires at {}",
                    listed(&dry.doc)[1].1["expires_at"].as_str().unwrap()
                )
            ),
            (
                "gamma".to_string(),
                "kept: no cattube:expires-at tag".to_string()
            ),
        ]
    );
    // No terminal to ask on and no --yes: nothing is done.
    let refused = runner.run().arg("gc").expect_code(2).output();
    assert!(refused.requests.is_empty(), "{:?}", refused.requests);
    assert!(refused.stderr.contains("--yes"), "{}", refused.text());

    // The first gc disables alpha's distribution and leaves it; a later one deletes it.
    let mut said = Vec::new();
    for _ in 0..10 {
        let ran = runner.run().args(["gc", "--yes"]).expect_code(0).json();
        said.push(ran.doc["stacks"].clone());
        // The runner knows no state of alpha's, and says what it deletes it by.
        if ran.doc["stacks"].to_string().contains("alpha") {
            assert!(
                ran.stderr.contains(
                    "deleting expired stack alpha (its state is not known here: found by its tags and default names)"
                ),
                "{}",
                ran.stderr
            );
        }
        let alpha = collected(&ran.doc).into_iter().find(|(n, _)| n == "alpha");
        match alpha {
            Some((_, what)) if what.starts_with("pending") => {
                std::thread::sleep(std::time::Duration::from_secs(1))
            }
            Some((_, what)) => assert!(what.starts_with("deleted"), "{said:#?}"),
            None => break,
        }
    }
    assert_eq!(
        leftovers_of(&emulators, "alpha").await,
        Vec::<String>::new(),
        "{said:#?}"
    );
    assert!(
        said.iter().any(|s| s.to_string().contains("deleted")),
        "{said:#?}"
    );
    // The others are whole, and the adopted bucket is still there.
    assert_eq!(leftovers_of(&emulators, "beta").await, beta_before);
    assert_eq!(leftovers_of(&emulators, "gamma").await, gamma_before);
    clients
        .s3
        .head_bucket()
        .bucket(&adopted)
        .send()
        .await
        .unwrap();
    let after = runner.run().arg("stacks").expect_code(0).json();
    let names: Vec<String> = listed(&after.doc).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["beta", "gamma"]);
}
