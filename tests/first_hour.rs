//! What a new user tripped on (issue 28): a closed pipe, no credentials behind a refusing
//! instance-metadata endpoint, a lock file left by a run refused before any request,
//! line numbers of typos, an optional resource shown one way, `down` with nothing to do.

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;

use support::names::REGION;
use support::{row, Emulators, RecordingProxy, Sandbox};

fn stderr_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// Every entry of the sandbox's directory: a refused run leaves none.
fn entries(sandbox: &Sandbox) -> Vec<String> {
    std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A refused run `args` wrote no file in the sandbox and sent no request.
#[track_caller]
fn untouched(sandbox: &Sandbox, tripwire: &RecordingProxy, args: &[&str]) {
    let left = entries(sandbox);
    assert!(left.is_empty(), "{args:?} left {left:?}");
    let sent = tripwire.requests();
    assert!(sent.is_empty(), "{args:?} sent {sent:?}");
}

/// Runs the binary with its stdout a pipe whose reader is already gone (`| head` that has
/// read enough): the write fails with EPIPE every time, no race. A raw command, not a
/// [`crate::support::Run`]: a `Run` captures stdout, and this run's stdout must be that pipe.
fn with_closed_stdout(sandbox: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = sandbox
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reader_that_stops_early_is_a_normal_end() {
    let sandbox = Sandbox::new("http://127.0.0.1:9", REGION);
    for shell in ["bash", "zsh", "fish"] {
        let (code, stderr) = with_closed_stdout(&sandbox, &["completions", shell]);
        assert_eq!(code, Some(0), "completions {shell}: {stderr}");
        assert!(
            !stderr.contains("panicked"),
            "completions {shell}: {stderr}"
        );
    }
    // The JSON document of a refused run goes the same way (the error line is on stderr).
    sandbox.write("cattube.toml", "regoin = \"eu-west-1\"\n");
    let (code, stderr) = with_closed_stdout(&sandbox, &["--output", "json", "status"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A stand-in for the EC2 instance metadata service off an instance that refuses every
/// request with 403, as a network that blocks it may (the token PUT first).
fn refusing_imds() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (url, handle)
}

#[test]
fn no_credentials_is_exit_2_with_a_hint_and_leaves_no_file() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::behind(&tripwire, REGION);
    let (imds, _imds) = refusing_imds();
    for args in [&["status"][..], &["up"], &["down", "--yes"]] {
        let refused = sandbox
            .run()
            .args(args)
            .env("AWS_EC2_METADATA_DISABLED", "false")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)
            .env("AWS_ACCESS_KEY_ID", "")
            .env("AWS_SECRET_ACCESS_KEY", "")
            .expect_code(2)
            .output();
        let lines = stderr_lines(&refused.stderr);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(
            lines[0].starts_with("error: no AWS credentials found: set AWS_PROFILE")
                && lines[0].ends_with("(instance metadata refused the request)"),
            "{args:?}: {lines:?}"
        );
        let disabled = sandbox
            .run()
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "")
            .env("AWS_SECRET_ACCESS_KEY", "")
            .expect_code(2)
            .output();
        let lines = stderr_lines(&disabled.stderr);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(
            lines[0].ends_with("export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            "{args:?}: {lines:?}"
        );
        untouched(&sandbox, &tripwire, args);
    }
}

#[test]
fn no_region_leaves_no_lock_file() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::behind(&tripwire, REGION);
    for args in [&["up"][..], &["down", "--yes"]] {
        let out = sandbox.run().args(args).env_remove("AWS_REGION").output();
        let stderr = out.stderr.as_str();
        assert_eq!(out.code, Some(2), "{stderr}");
        assert!(stderr.contains("no AWS region"), "{stderr}");
        untouched(&sandbox, &tripwire, args);
    }
}

#[test]
fn a_typo_is_reported_on_its_own_line() {
    let sandbox = Sandbox::new("http://127.0.0.1:9", REGION);
    let typo_on = |line: usize, typo: &str| {
        let mut text = String::new();
        let filler = [
            "stack = \"cats\"",
            "",
            "[job]",
            "profile = \"hls\"",
            "",
            "[function]",
            "memory-mb = 512",
        ];
        for i in 1..line {
            text.push_str(filler.get(i - 1).copied().unwrap_or("# more"));
            text.push('\n');
        }
        text.push_str(typo);
        text.push('\n');
        text
    };
    for (line, typo) in [
        (1, "regoin = \"eu-west-1\""),
        (2, "regoin = \"eu-west-1\""),
        (3, "regoin = \"eu-west-1\""),
        (8, "timeout-sec = 30"),
    ] {
        sandbox.write("cattube.toml", &typo_on(line, typo));
        let out = sandbox.run().arg("status").expect_code(2).output();
        assert!(
            out.stderr.contains(&format!("cattube.toml line {line} ")),
            "typo on line {line}: {}",
            out.stderr
        );
    }
    sandbox.write(
        "cattube.toml",
        "stack = \"cats\"\n\n[names]\nsource-bucket = \"my-cats-in\"\nsorce-bucket = \"x\"\n",
    );
    let out = sandbox.run().arg("status").expect_code(2).output();
    assert!(
        out.stderr.contains(
            "cattube.toml line 5 (names.sorce-bucket): unknown resource id 'sorce-bucket'"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unwanted_optional_resource_is_off_everywhere_and_down_with_nothing_needs_no_terminal() {
    let emulators = Emulators::start();
    let sandbox = emulators.sandbox(REGION);
    // A stack that never came up: nothing to delete, no prompt, no terminal, exit 0.
    let down = sandbox.run().arg("down").expect_read_only().output();
    assert!(
        down.stdout.contains("down: nothing to delete"),
        "{}",
        down.text()
    );
    assert!(!down.stderr.contains("--yes"), "{}", down.text());

    let plan = sandbox.run().arg("plan").expect_code(3).output();
    let up = sandbox.run().arg("up").expect_code(0).output();
    let status = sandbox.run().arg("status").expect_code(0).output();
    let down = sandbox
        .run()
        .args(["down", "--yes"])
        .expect_code(0)
        .output();
    for (command, out) in [
        ("plan", &plan),
        ("up", &up),
        ("status", &status),
        ("down", &down),
    ] {
        let topic = row(&out.stdout, "notification-topic");
        assert_eq!(
            topic.split_whitespace().next(),
            Some("off"),
            "{command}: {topic}"
        );
    }
    let rows: Vec<&str> = plan.stdout.lines().filter(|l| l.contains(" [")).collect();
    // Every optional resource this config does not want ([notify], [domain]).
    let off = rows
        .iter()
        .filter(|l| l.split_whitespace().next() == Some("off"))
        .count();
    assert!(off >= 1, "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!(
            "plan: {} to create, 0 to update, 0 unchanged, {off} off",
            rows.len() - off
        )),
        "{}",
        plan.stdout
    );
    assert!(
        up.stdout.contains(&format!(", 0 unchanged, {off} off")),
        "{}",
        up.stdout
    );
    assert!(
        status
            .stdout
            .contains(&format!("all resources ok, {off} off")),
        "{}",
        status.stdout
    );
}
