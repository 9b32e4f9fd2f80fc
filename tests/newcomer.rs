//! The first hour of a new user: every message true, one line per problem, no Rust
//! internals on screen; help that shows the way; uploads that resume.

use crate::support;

use std::time::Duration;

use support::{field_strings, s3_client, sdk_config, Emulators, RecordingProxy, Sandbox};

use support::names::{REGION, SOURCE};

fn stderr_lines(out: &support::Ran) -> Vec<String> {
    out.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// What `Debug` output of the SDK's errors looks like on screen.
fn assert_no_debug(text: &str) {
    for tell in [
        "DispatchFailure",
        "ConnectorError",
        "{ source",
        "Some(",
        "kind: ",
    ] {
        assert!(
            !text.contains(tell),
            "Rust Debug output ({tell}) in: {text}"
        );
    }
}

#[test]
fn no_credentials_is_one_line_with_the_remedy() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::new(&tripwire.url, REGION);
    for args in [&["plan"][..], &["status"], &["-v", "up"]] {
        let out = sandbox
            .run()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args(args)
            .output();
        let lines = stderr_lines(&out);
        assert_eq!(out.code, Some(2), "{args:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(
            lines[0].starts_with("error: no AWS credentials found: set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID"),
            "{args:?}: {lines:?}"
        );
        assert_no_debug(&lines[0]);
    }
    assert!(tripwire.requests().is_empty(), "{:?}", tripwire.requests());
}

#[test]
fn a_profile_no_file_defines_is_named() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::new(&tripwire.url, REGION);
    let out = sandbox
        .run()
        .env("AWS_PROFILE", "nosuch")
        .arg("status")
        .output();
    let lines = stderr_lines(&out);
    assert_eq!(out.code, Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("profile 'nosuch' is not in") && lines[0].contains("no-aws-config"),
        "{lines:?}"
    );
    let out = sandbox.run().args(["--profile", "other", "plan"]).output();
    assert_eq!(out.code, Some(2));
    assert!(stderr_lines(&out)[0].contains("profile 'other' is not in"));
    assert!(tripwire.requests().is_empty(), "{:?}", tripwire.requests());

    // `default` missing from every file is no error (the SDK's chain goes on to the
    // environment's keys, as on a CI runner with AWS_PROFILE=default): the run reaches AWS.
    let out = sandbox
        .run()
        .env("AWS_PROFILE", "default")
        .env("AWS_MAX_ATTEMPTS", "1")
        .arg("status")
        .output();
    let stderr = out.stderr.as_str();
    assert!(!stderr.contains("is not in"), "default: {stderr}");
    assert!(
        !tripwire.requests().is_empty(),
        "AWS_PROFILE=default with keys in the environment sent nothing"
    );
    tripwire.reset();

    // Profiles the SDK finds (`[profile x]` in config, `[x]` in credentials) are accepted:
    // the run goes on to AWS (here a proxy to nowhere) instead.
    sandbox.write("no-aws-config", "[profile real]\nregion = eu-west-1\n");
    sandbox.write(
        "no-aws-credentials",
        "[keys]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    );
    for profile in ["real", "keys"] {
        let out = sandbox
            .run()
            .env("AWS_PROFILE", profile)
            .env("AWS_MAX_ATTEMPTS", "1")
            .arg("status")
            .output();
        let stderr = out.stderr.as_str();
        assert!(!stderr.contains("is not in"), "{profile}: {stderr}");
    }
    assert!(
        !tripwire.requests().is_empty(),
        "the defined profiles sent nothing"
    );
}

#[test]
fn a_failed_connection_shows_no_rust_debug_output() {
    // Nothing listens on this port: every call fails to connect.
    let sandbox = Sandbox::new(
        &format!("http://127.0.0.1:{}", support::free_port()),
        REGION,
    );
    for verbose in [false, true] {
        let mut run = sandbox.run().env("AWS_MAX_ATTEMPTS", "1");
        if verbose {
            run = run.arg("-v");
        }
        let out = run.arg("plan").output();
        let stderr = out.stderr.as_str();
        assert_eq!(out.code, Some(1), "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert_no_debug(stderr);
    }
}

#[test]
fn a_wrong_type_in_the_config_names_the_kind_of_value() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::new(&tripwire.url, REGION);
    sandbox.write("cattube.toml", "[function]\nmemory-mb = \"lots\"\n");
    let out = sandbox.run().arg("plan").output();
    let lines = stderr_lines(&out);
    assert_eq!(out.code, Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("function.memory-mb") && lines[0].contains("expected a whole number"),
        "{lines:?}"
    );
    assert!(!lines[0].contains("i64"), "{lines:?}");
}

fn help(args: &[&str]) -> String {
    // Help reaches no AWS: a sandbox whose endpoint nothing answers.
    let sandbox = Sandbox::new("http://127.0.0.1:9", REGION);
    sandbox.run().args(args).expect_code(0).output().stdout
}

#[test]
fn help_puts_global_flags_under_their_own_heading_with_examples_and_exit_codes() {
    for command in ["plan", "up", "status", "upload", "jobs", "url", "down"] {
        let text = help(&[command, "--help"]);
        let (own, global) = text
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{command}: no global heading:\n{text}"));
        for flag in ["--stack", "--region", "--profile", "--output", "--verbose"] {
            assert!(
                global.contains(flag),
                "{command}: {flag} not global:\n{text}"
            );
            assert!(
                !own.contains(flag),
                "{command}: {flag} among its own:\n{text}"
            );
        }
        assert!(global.contains("Examples:"), "{command}:\n{text}");
        assert!(global.contains("Exit codes:"), "{command}:\n{text}");
    }
    let down = help(&["down", "--help"]);
    let own = down.split_once("Global options:").unwrap().0;
    for flag in ["--yes", "--keep-buckets", "--no-wait"] {
        assert!(own.contains(flag), "{flag}:\n{down}");
    }
    let top = help(&["--help"]);
    for code in ["0 ", "1 ", "2 ", "3 ", "130 "] {
        assert!(
            top.split_once("Exit codes:")
                .unwrap()
                .1
                .lines()
                .any(|l| l.trim_start().starts_with(code)),
            "exit code {code}missing:\n{top}"
        );
    }
    assert!(top.contains("  completions "), "{top}");
}

#[test]
fn completions_are_printed_for_each_shell_even_with_a_broken_config() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::new(&tripwire.url, REGION);
    sandbox.write("cattube.toml", "this is not toml");
    for (shell, tell) in [
        ("bash", "_cattube()"),
        ("zsh", "#compdef cattube"),
        ("fish", "complete -c cattube"),
    ] {
        let out = sandbox.run().args(["completions", shell]).output();
        assert_eq!(out.code, Some(0), "{shell}");
        let script = out.stdout.as_str();
        assert!(script.contains(tell), "{shell}: {script}");
        assert!(
            script.contains("keep-buckets"),
            "{shell}: no subcommand flags"
        );
    }
    let out = sandbox.run().args(["completions", "cmd"]).output();
    assert_eq!(out.code, Some(2));
    assert!(tripwire.requests().is_empty());
}

/// The rows of a text summary: (stage, id, the rest of the row). A row too wide for 80
/// columns has its name on the next line, below the id (17 columns in): it is put back in
/// front of the note, where a narrow row has it.
fn rows(text: &str) -> Vec<(String, String, String)> {
    let mut lines = text.lines().peekable();
    let mut rows = Vec::new();
    while let Some(l) = lines.next() {
        let Some(open) = l.find('[') else { continue };
        let Some(close) = l[open..].find(']').map(|c| open + c) else {
            continue;
        };
        let stage = l[open + 1..close].trim().to_string();
        let rest = l[close + 1..].trim_start();
        let (id, mut rest) = rest
            .split_once(' ')
            .map_or((rest, String::new()), |(id, r)| (id, r.trim().to_string()));
        let name_below = lines.peek().and_then(|next| {
            let name = next.strip_prefix(&" ".repeat(17))?;
            (!name.starts_with([' ', '-'])).then_some(name)
        });
        if let Some(name) = name_below {
            rest = format!("{name}  {rest}").trim().to_string();
            lines.next();
        }
        rows.push((stage, id.to_string(), rest));
    }
    rows
}

fn stage_key(stage: &str) -> (u32, String) {
    let digits: String = stage.chars().take_while(char::is_ascii_digit).collect();
    (digits.parse().unwrap(), stage[digits.len()..].to_string())
}

fn assert_ordered_by_stage(what: &str, text: &str) {
    let rows = rows(text);
    assert_eq!(rows.len(), support::IDS.len(), "{what}:\n{text}");
    let stages: Vec<(u32, String)> = rows.iter().map(|r| stage_key(&r.0)).collect();
    assert!(
        stages.windows(2).all(|w| w[0] <= w[1]),
        "{what}: rows out of stage order:\n{text}"
    );
    let position = |id: &str| rows.iter().position(|r| r.1 == id).unwrap();
    assert!(
        position("mediaconvert-role") < position("converter-role"),
        "{text}"
    );
    assert!(
        position("distribution") < position("destination-bucket-policy"),
        "{text}"
    );
    assert!(!text.contains("(("), "{what}: nested parentheses:\n{text}");
}

fn name_of(text: &str, id: &str) -> String {
    rows(text)
        .into_iter()
        .find(|r| r.1 == id)
        .unwrap_or_else(|| panic!("no {id} row:\n{text}"))
        .2
}

#[test]
fn tables_are_by_stage_and_name_the_distribution_and_the_policy_bucket() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    let destination = "cattube-destination-123456789012-eu-west-1";
    let text = |args: &[&str]| {
        let out = sandbox.run().args(args).output();
        out.stdout.as_str().to_string()
    };

    let plan = text(&["plan"]);
    assert_ordered_by_stage("plan", &plan);
    assert!(
        name_of(&plan, "destination-bucket-policy").starts_with(destination),
        "{plan}"
    );
    assert!(!name_of(&plan, "distribution").starts_with('-'), "{plan}");

    let up = text(&["up"]);
    assert_ordered_by_stage("up", &up);
    let domain = up
        .lines()
        .find_map(|l| l.trim().strip_prefix("distribution_domain: "))
        .unwrap_or_else(|| panic!("no domain:\n{up}"))
        .to_string();
    assert!(name_of(&up, "distribution").starts_with(&domain), "{up}");
    assert!(
        name_of(&up, "destination-bucket-policy").starts_with(destination),
        "{up}"
    );

    let status = text(&["status"]);
    assert_ordered_by_stage("status", &status);

    let down = text(&["down", "--yes", "--keep-buckets"]);
    assert_ordered_by_stage("down", &down);
    assert!(
        name_of(&down, "distribution").starts_with(&domain),
        "{down}"
    );
    assert!(
        name_of(&down, "destination-bucket-policy").starts_with(destination),
        "{down}"
    );
    let kept = name_of(&down, "source-bucket");
    assert!(
        kept.ends_with("kept with its objects: --keep-buckets"),
        "{down}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_say_what_is_true_on_the_emulator() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    assert_eq!(sandbox.run().arg("up").output().code, Some(0));

    // No job ever appears on the emulator: `jobs` names it instead of promising one.
    let out = sandbox.run().arg("jobs").output();
    let jobs = out.stdout.as_str();
    assert_eq!(out.code, Some(0));
    assert!(
        jobs.contains(&format!("the local emulator at {}", sandbox.endpoint))
            && jobs.contains("runs no Lambda function"),
        "{jobs}"
    );
    assert!(!jobs.contains("starts one"), "{jobs}");

    sandbox.write("tabby cat.mp4", "meow");
    let out = sandbox.run().args(["upload", "tabby cat.mp4"]).output();
    let upload = out.stdout.as_str();
    assert_eq!(out.code, Some(0));
    assert!(
        upload.contains("Nothing converts them here: the local emulator"),
        "{upload}"
    );
    assert!(!upload.contains("converts them now"), "{upload}");

    // `url` of a key never uploaded says so, on stderr; stdout stays the URLs.
    let out = sandbox.run().args(["url", "never.mp4"]).output();
    assert_eq!(out.code, Some(0));
    let stderr = out.stderr.as_str();
    assert!(
        stderr.contains("'never.mp4' was never uploaded"),
        "{stderr}"
    );
    let stdout = out.stdout.as_str();
    assert!(!stdout.contains("never uploaded"), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("https://")),
        "{stdout}"
    );
    let out = sandbox.run().args(["url", "tabby cat.mp4"]).output();
    let stderr = out.stderr.as_str();
    assert!(!stderr.contains("never uploaded"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_watch_shows_whole_ids_and_fails_when_a_watched_job_fails() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    assert_eq!(sandbox.run().arg("up").output().code, Some(0));
    let mediaconvert =
        aws_sdk_mediaconvert::Client::new(&sdk_config(&emulators.standin.url, REGION).await);
    let queue = mediaconvert
        .get_queue()
        .name("cattube-queue")
        .send()
        .await
        .unwrap()
        .queue
        .unwrap()
        .arn
        .unwrap();
    let mut ids = Vec::new();
    for key in ["cats/a.mp4", "cats/b.mp4"] {
        let job = mediaconvert
            .create_job()
            .role("arn:aws:iam::123456789012:role/cattube-eu-west-1-mediaconvert")
            .queue(&queue)
            .job_template("cattube-job")
            .settings(aws_sdk_mediaconvert::types::JobSettings::builder().build())
            .user_metadata("cattube:source-key", key)
            .send()
            .await
            .unwrap();
        ids.push(job.job.unwrap().id.unwrap());
    }

    let out = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| sandbox.run().args(["jobs", "--watch"]).output());
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            !watcher.is_finished(),
            "--watch returned while jobs are SUBMITTED"
        );
        let move_job = |id: &str, body: &str| {
            support::standin_post(
                &emulators.standin.url,
                &format!("/_standin/jobs/{id}/status"),
                body,
            )
        };
        move_job(&ids[0], r#"{"status": "COMPLETE"}"#);
        move_job(
            &ids[1],
            r#"{"status": "ERROR", "errorMessage": "Demuxer: no video track", "errorCode": 1010}"#,
        );
        watcher.join().unwrap()
    });
    let stdout = out.stdout.as_str();
    let stderr = out.stderr.as_str();
    assert_eq!(out.code, Some(1), "{stdout}{stderr}");
    for id in &ids {
        assert!(stdout.contains(id.as_str()), "{id} not whole in:\n{stdout}");
    }
    assert!(
        stderr.contains(&format!("{} ERROR (cats/b.mp4)", ids[1])),
        "{stderr}"
    );
    assert!(!stderr.contains(ids[0].as_str()), "{stderr}");

    // Watching again: nothing is unfinished, so nothing is watched and nothing failed.
    let out = sandbox.run().args(["jobs", "--watch"]).output();
    assert_eq!(out.code, Some(0));
}

fn puts(emulators: &Emulators) -> Vec<String> {
    emulators
        .aws
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" || (r.method == "POST" && r.query.starts_with("uploads")))
        .map(|r| r.path)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_of_a_folder_resume_and_skip_what_is_there() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    assert_eq!(sandbox.run().arg("up").output().code, Some(0));
    let s3 = s3_client(&emulators.moto.url, REGION).await;

    let videos = sandbox.path().join("videos");
    std::fs::create_dir_all(videos.join("kittens/.thumbs")).unwrap();
    std::fs::write(videos.join("tabby.mp4"), "meow").unwrap();
    std::fs::write(videos.join(".DS_Store"), "junk").unwrap();
    std::fs::write(videos.join("kittens/tiny.mov"), "mew").unwrap();
    std::fs::write(videos.join("kittens/.thumbs/t.jpg"), "hidden").unwrap();
    // Large enough for a multipart upload: its ETag is the parts' one.
    let big: Vec<u8> = (0..17 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(videos.join("big.mp4"), &big).unwrap();
    let keys = ["cats/big.mp4", "cats/kittens/tiny.mov", "cats/tabby.mp4"];
    let upload_folder = || {
        let out = sandbox
            .run()
            .args(["upload", "--prefix", "cats", "videos"])
            .output();
        assert_eq!(out.code, Some(0), "{}", out.stderr.as_str());
        out
    };

    // --dry-run: says what would go, sends nothing.
    emulators.reset();
    let doc = sandbox
        .run()
        .args(["upload", "--dry-run", "--prefix", "cats", "videos"])
        .expect_code(0)
        .json()
        .doc;
    let listed: Vec<&str> = field_strings(&doc["uploads"], "key");
    assert_eq!(listed, keys, "{doc}");
    assert!(doc["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["sent"] == false));
    assert!(emulators.writes().is_empty(), "{:?}", emulators.writes());

    // The folder, recursively, hidden files skipped.
    upload_folder();
    let listed = s3.list_objects_v2().bucket(SOURCE).send().await.unwrap();
    let mut stored: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    stored.sort();
    assert_eq!(stored, keys);

    // Again: everything is there with the same size and ETag, so nothing is sent.
    emulators.reset();
    let out = upload_folder();
    let text = out.stdout.as_str();
    assert_eq!(text.matches("(same size and ETag)").count(), 3, "{text}");
    assert!(
        puts(&emulators).is_empty(),
        "sent again: {:?}",
        puts(&emulators)
    );

    // One file changed, same size: only it goes again.
    std::fs::write(videos.join("tabby.mp4"), "purr").unwrap();
    let mut changed = big.clone();
    changed[9 * 1024 * 1024] ^= 1;
    std::fs::write(videos.join("big.mp4"), &changed).unwrap();
    emulators.reset();
    upload_folder();
    let sent = puts(&emulators);
    assert!(
        sent.iter().any(|p| p.ends_with("/cats/tabby.mp4")),
        "{sent:?}"
    );
    assert!(
        sent.iter().any(|p| p.ends_with("/cats/big.mp4")),
        "{sent:?}"
    );
    assert!(!sent.iter().any(|p| p.contains("tiny.mov")), "{sent:?}");
}

#[test]
fn files_upload_concurrently() {
    // Every request takes a while: files sent one after another never overlap.
    let emulators = Emulators::with_latency(Duration::from_millis(300));
    let sandbox = emulators.sandbox(REGION);
    assert_eq!(sandbox.run().arg("up").output().code, Some(0));
    let names = ["a.mp4", "b.mp4", "c.mp4", "d.mp4"];
    for name in names {
        sandbox.write(name, name);
    }
    emulators.reset();
    let out = sandbox.run().arg("upload").args(names).output();
    assert_eq!(out.code, Some(0));
    let mut puts: Vec<_> = emulators
        .aws
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), names.len());
    puts.sort_by_key(|r| r.start);
    let overlapping = puts.windows(2).any(|w| w[1].start < w[0].end);
    assert!(overlapping, "the uploads ran one after another");
}
