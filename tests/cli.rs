//! Bad input never surprises: each case exits 2 with one line naming the key or flag and what
//! is allowed, before any request is sent (a tripwire proxy records any that would be).

use crate::support;

use support::tally::Tally;
use support::{RecordingProxy, Sandbox};

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    toml: Option<&'static str>,
    state: Option<&'static str>,
    expect: &'static str,
    /// Other files in the working directory: (name, content).
    files: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "stack with capitals",
        args: &["--stack", "CatTube", "plan"],
        toml: None,
        state: None,
        expect: "--stack",
        files: &[],
    },
    Case {
        name: "stack too long",
        args: &["--stack", "a-very-long-stack-name-indeed", "plan"],
        toml: None,
        state: None,
        expect: "1 to 20",
        files: &[],
    },
    Case {
        name: "stack starting with xn--",
        args: &["--stack", "xn--cat", "status"],
        toml: None,
        state: None,
        expect: "xn--",
        files: &[],
    },
    Case {
        name: "region shape",
        args: &["--region", "moon", "status"],
        toml: None,
        state: None,
        expect: "--region",
        files: &[],
    },
    Case {
        name: "output format",
        args: &["--output", "yaml", "status"],
        toml: None,
        state: None,
        expect: "--output",
        files: &[],
    },
    Case {
        name: "unknown flag",
        args: &["--frobnicate", "status"],
        toml: None,
        state: None,
        expect: "--frobnicate",
        files: &[],
    },
    Case {
        name: "unknown command",
        args: &["deploy"],
        toml: None,
        state: None,
        expect: "deploy",
        files: &[],
    },
    Case {
        name: "unknown top-level key",
        args: &["plan"],
        toml: Some("colour = \"blue\"\n"),
        state: None,
        expect: "unknown field `colour`",
        files: &[],
    },
    Case {
        name: "malformed toml",
        args: &["plan"],
        toml: Some("stack = \n"),
        state: None,
        expect: "line 1",
        files: &[],
    },
    Case {
        name: "unknown resource id",
        args: &["plan"],
        toml: Some("[names]\nsource = \"abc\"\n"),
        state: None,
        expect: "unknown resource id 'source'",
        files: &[],
    },
    Case {
        name: "bucket with capitals",
        args: &["plan"],
        toml: Some("[names]\nsource-bucket = \"Cats\"\n"),
        state: None,
        expect: "names.source-bucket",
        files: &[],
    },
    Case {
        name: "bucket as IP address",
        args: &["plan"],
        toml: Some("[names]\ndestination-bucket = \"192.168.1.10\"\n"),
        state: None,
        expect: "IP address",
        files: &[],
    },
    Case {
        name: "bucket with xn-- prefix",
        args: &["plan"],
        toml: Some("[names]\nsource-bucket = \"xn--cats\"\n"),
        state: None,
        expect: "xn--",
        files: &[],
    },
    Case {
        name: "bucket with -s3alias suffix",
        args: &["plan"],
        toml: Some("[names]\nsource-bucket = \"cats-s3alias\"\n"),
        state: None,
        expect: "-s3alias",
        files: &[],
    },
    Case {
        name: "bucket too short",
        args: &["plan"],
        toml: Some("[names]\nsource-bucket = \"ab\"\n"),
        state: None,
        expect: "3 to 63",
        files: &[],
    },
    Case {
        name: "same bucket twice",
        args: &["plan"],
        toml: Some("[names]\nsource-bucket = \"cats\"\ndestination-bucket = \"cats\"\n"),
        state: None,
        expect: "must differ",
        files: &[],
    },
    Case {
        name: "region in file",
        args: &["plan"],
        toml: Some("region = \"EU-WEST-1\"\n"),
        state: None,
        expect: "region in",
        files: &[],
    },
    Case {
        name: "architecture",
        args: &["plan"],
        toml: Some("[function]\narchitecture = \"sparc\"\n"),
        state: None,
        expect: "arm64, x86_64",
        files: &[],
    },
    Case {
        name: "reserved tag",
        args: &["plan"],
        toml: Some("[tags]\n\"cattube:stack\" = \"x\"\n"),
        state: None,
        expect: "reserved",
        files: &[],
    },
    Case {
        name: "missing job template",
        args: &["plan"],
        toml: Some("[job]\ntemplate = \"nope.json\"\n"),
        state: None,
        expect: "job.template",
        files: &[],
    },
    Case {
        name: "missing --config",
        args: &["--config", "nope.toml", "plan"],
        toml: None,
        state: None,
        expect: "--config",
        files: &[],
    },
    Case {
        name: "corrupt state",
        args: &["status"],
        toml: None,
        state: Some("{\"schema\": 1, \"stack\""),
        expect: "not valid JSON",
        files: &[],
    },
    Case {
        name: "state of another stack",
        args: &["up"],
        toml: None,
        state: Some(
            r#"{"schema":1,"stack":"other","account":"1","region":"eu-west-1","resources":{}}"#,
        ),
        expect: "belongs to stack 'other'",
        files: &[],
    },
    Case {
        name: "state of a newer cattube",
        args: &["up"],
        toml: None,
        state: Some(r#"{"schema":99,"stack":"cattube"}"#),
        expect: "newer cattube",
        files: &[],
    },
    Case {
        name: "unreadable state (a directory)",
        args: &["--state", ".", "up"],
        toml: None,
        state: None,
        expect: "cannot read it",
        files: &[],
    },
    Case {
        name: "state with an unknown ownership",
        args: &["up"],
        toml: None,
        state: Some(
            r#"{"schema":1,"stack":"cattube","account":"1","region":"eu-west-1","resources":{"queue":{"name":"q","ownership":"stolen"}}}"#,
        ),
        expect: "not cattube state",
        files: &[],
    },
    Case {
        name: "state with an unknown key",
        args: &["down", "--yes"],
        toml: None,
        state: Some(
            r#"{"schema":1,"stack":"cattube","account":"1","region":"eu-west-1","colour":1}"#,
        ),
        expect: "not cattube state",
        files: &[],
    },
    Case {
        name: "state that is a JSON array",
        args: &["status"],
        toml: None,
        state: Some("[]"),
        expect: "not cattube state",
        files: &[],
    },
    Case {
        name: "job.json not JSON",
        args: &["up"],
        toml: Some("[job]\ntemplate = \"job.json\"\n"),
        state: None,
        expect: "not valid JSON",
        files: &[("job.json", "{\"Settings\": ")],
    },
    Case {
        name: "job.json without Settings",
        args: &["plan"],
        toml: Some("[job]\ntemplate = \"job.json\"\n"),
        state: None,
        expect: "has no Settings",
        files: &[("job.json", "{\"Queue\": \"x\"}")],
    },
    Case {
        name: "unknown key in a table",
        args: &["plan"],
        toml: Some("[function]\nmemory = 256\n"),
        state: None,
        expect: "unknown field `memory`",
        files: &[],
    },
    Case {
        name: "value of the wrong type",
        args: &["plan"],
        toml: Some("[function]\nmemory-mb = \"lots\"\n"),
        state: None,
        expect: "memory-mb",
        files: &[],
    },
    Case {
        name: "a log retention CloudWatch Logs does not allow",
        args: &["up"],
        toml: Some("[function]\nlog-retention-days = 10\n"),
        state: None,
        expect: "log-retention-days 10 is not a retention CloudWatch Logs allows; allowed: 1, 3, 5, 7, 14, 30,",
        files: &[],
    },
    Case {
        name: "invalid stack in file",
        args: &["plan"],
        toml: Some("stack = \"Bad_Stack\"\n"),
        state: None,
        expect: "stack",
        files: &[],
    },
    Case {
        name: "unknown flag of a command",
        args: &["up", "--force"],
        toml: None,
        state: None,
        expect: "--force",
        files: &[],
    },
    Case {
        name: "value given to a switch",
        args: &["down", "--yes=maybe"],
        toml: None,
        state: None,
        expect: "--yes",
        files: &[],
    },
    Case {
        name: "missing value of a flag",
        args: &["status", "--stack"],
        toml: None,
        state: None,
        expect: "--stack",
        files: &[],
    },
    Case {
        name: "upload a missing file",
        args: &["upload", "nope.mp4"],
        toml: None,
        state: None,
        expect: "nope.mp4: no such file",
        files: &[],
    },
    Case {
        name: "upload an empty directory",
        args: &["upload", "."],
        toml: None,
        state: None,
        expect: "has no files to upload",
        files: &[],
    },
    Case {
        name: "upload nothing",
        args: &["upload"],
        toml: None,
        state: None,
        expect: "FILE",
        files: &[],
    },
    Case {
        name: "jobs --limit 0",
        args: &["jobs", "--limit", "0"],
        toml: None,
        state: None,
        expect: "--limit",
        files: &[],
    },
    Case {
        name: "jobs --limit 1001",
        args: &["jobs", "--limit", "1001"],
        toml: None,
        state: None,
        expect: "--limit",
        files: &[],
    },
    Case {
        name: "url without a key",
        args: &["url"],
        toml: None,
        state: None,
        expect: "KEY",
        files: &[],
    },
    Case {
        name: "url of an empty key",
        args: &["url", ""],
        toml: None,
        state: None,
        expect: "KEY is empty",
        files: &[],
    },
    Case {
        name: "url of a folder",
        args: &["url", "cats/"],
        toml: None,
        state: None,
        expect: "is a folder",
        files: &[],
    },
    Case {
        name: "down of a recorded stack without terminal or --yes",
        args: &["down"],
        toml: None,
        state: Some(
            r#"{"schema":1,"stack":"cattube","account":"1","region":"eu-west-1","resources":{"queue":{"name":"q","ownership":"created"}}}"#,
        ),
        expect: "--yes",
        files: &[],
    },
];

#[test]
fn bad_input_exits_2_with_one_line_and_sends_nothing() {
    // Nothing listens behind the tripwire: any request would be recorded.
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let mut failures = Vec::new();
    for case in CASES {
        let sandbox = Sandbox::new(&tripwire.url, "eu-west-1");
        if let Some(toml) = case.toml {
            sandbox.write("cattube.toml", toml);
        }
        if let Some(state) = case.state {
            sandbox.write("cattube.state.json", state);
        }
        for (name, content) in case.files {
            sandbox.write(name, content);
        }
        let out = sandbox.run().args(case.args).output();
        let stderr = out.stderr.as_str().to_string();
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        if out.code != Some(2) {
            failures.push(format!(
                "{}: exit {:?}, stderr {stderr}",
                case.name, out.code
            ));
        } else if lines.len() != 1 || !lines[0].contains(case.expect) {
            failures.push(format!(
                "{}: expected one line containing {:?}, got {lines:?}",
                case.name, case.expect
            ));
        }
        if let Some(state) = case.state {
            let after = std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap();
            if after != state {
                failures.push(format!("{}: the state file was changed", case.name));
            }
        }
    }
    let sent = tripwire.requests();
    assert!(sent.is_empty(), "bad input sent requests: {sent:?}");
    eprintln!(
        "FIGURES bad inputs rejected (table): {}/{}",
        CASES.len() - failures.len(),
        CASES.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn json_output_carries_the_error_too() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::new(&tripwire.url, "eu-west-1");
    let out = sandbox
        .run()
        .args(["--stack", "Bad", "status"])
        .expect_code(2)
        .json();
    let doc = out.doc;
    assert_eq!(doc["command"], "status");
    assert!(doc["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--stack"));
    assert_eq!(doc["resources"], serde_json::json!([]));
}

#[test]
fn help_lists_the_working_commands() {
    // Help reaches no AWS: a sandbox whose endpoint nothing answers.
    let sandbox = Sandbox::new("http://127.0.0.1:9", "eu-west-1");
    let help = sandbox.run().arg("--help").expect_code(0).output().stdout;
    for command in ["plan", "up", "status", "upload", "jobs", "url", "down"] {
        assert!(
            help.contains(&format!("  {command} ")),
            "{command} missing from --help:\n{help}"
        );
    }
}

/// A job.json that lacks what a job needs is exit 2 naming the file and the problem, before
/// any request. (One that is not JSON, or has no Settings, is in the table above.)
#[test]
fn bad_job_json_is_refused_before_any_request() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let cases = [
        (
            "{\"Settings\": {\"OutputGroups\": [{\"Outputs\": [{}]}]}}",
            "OutputGroupSettings.Type",
        ),
        (
            "{\"Settings\": {\"OutputGroups\": [{\"OutputGroupSettings\": {\"Type\": \"FILE_GROUP_SETTINGS\"}, \"Outputs\": []}]}}",
            "Outputs must be a non-empty list",
        ),
        ("{\"Settings\": {}}", "has no Settings.OutputGroups"),
    ];
    let mut rejected = Tally::new();
    for (content, problem) in cases {
        let sandbox = Sandbox::new(&tripwire.url, "eu-west-1");
        sandbox.write("cattube.toml", "[job]\ntemplate = \"my-job.json\"\n");
        sandbox.write("my-job.json", content);
        let out = sandbox.run().arg("up").output();
        rejected.check(content, || {
            let stderr = out.stderr.as_str();
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(out.code, Some(2), "{stderr}");
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(
                lines[0].contains("my-job.json") && lines[0].contains(problem),
                "{stderr}"
            );
        });
    }
    let sent = tripwire.requests();
    eprintln!(
        "FIGURES bad inputs rejected (job.json): {}/{}",
        rejected.held,
        cases.len()
    );
    rejected.assert_all_held("bad job.json");
    assert!(sent.is_empty(), "bad job.json sent requests: {sent:?}");
}

/// `upload` checks every file before anything is sent: an unreadable or special file among
/// good ones, or two files with the same key (also from a folder), and nothing is uploaded. (A missing file and
/// a directory are in the table above.)
#[test]
fn upload_refuses_bad_files_before_any_request() {
    let tripwire = RecordingProxy::start(&format!("http://127.0.0.1:{}", support::free_port()));
    let sandbox = Sandbox::new(&tripwire.url, "eu-west-1");
    sandbox.write("tabby cat.mp4", "meow");
    std::fs::create_dir(sandbox.path().join("more")).unwrap();
    sandbox.write("more/tabby cat.mp4", "purr");
    // A file nobody can read, root included (CI runs as root, who reads a mode-0000 file):
    // a symbolic link to itself (ELOOP).
    std::os::unix::fs::symlink("loop.mp4", sandbox.path().join("loop.mp4")).unwrap();
    assert!(std::fs::File::open(sandbox.path().join("loop.mp4")).is_err());
    let fifo = std::process::Command::new("mkfifo")
        .arg(sandbox.path().join("pipe.mp4"))
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(
        fifo.success(),
        "mkfifo failed: the special-file case needs a FIFO"
    );

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["upload", "tabby cat.mp4", "loop.mp4"],
            "cannot read loop.mp4",
        ),
        (
            vec!["upload", "tabby cat.mp4", "more"],
            "more/tabby cat.mp4 would both be uploaded",
        ),
        (vec!["upload", "pipe.mp4"], "not a regular file"),
        (
            vec!["upload", "tabby cat.mp4", "more/tabby cat.mp4"],
            "would both be uploaded as 'tabby cat.mp4'",
        ),
    ];
    let mut rejected = Tally::new();
    for (args, expect) in &cases {
        let out = sandbox.run().args(args).output();
        rejected.check(&format!("{args:?}"), || {
            let stderr = out.stderr.as_str();
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(out.code, Some(2), "{stderr}");
            assert_eq!(lines.len(), 1, "{stderr}");
            assert!(lines[0].contains(expect), "{stderr}");
        });
    }
    let sent = tripwire.requests();
    eprintln!(
        "FIGURES bad inputs rejected (upload files): {}/{}",
        rejected.held,
        cases.len()
    );
    rejected.assert_all_held("bad upload files");
    assert!(sent.is_empty(), "bad files sent requests: {sent:?}");
}

/// A state file of another account or region is refused (exit 2, one line naming both) once
/// STS has said who the credentials are: a read, and not a single write.
#[test]
fn state_of_another_account_or_region_is_refused_without_a_write() {
    const COMMANDS: [&[&str]; 3] = [&["up"], &["down", "--yes"], &["status"]];
    let emulators = support::Emulators::start();
    let mut rejected = Tally::new();
    let cases = [
        (
            r#"{"schema":1,"stack":"cattube","account":"111111111111","region":"eu-west-1","resources":{}}"#,
            "account 111111111111",
        ),
        (
            r#"{"schema":1,"stack":"cattube","account":"123456789012","region":"us-east-1","resources":{}}"#,
            "in us-east-1",
        ),
    ];
    for (state, expect) in cases {
        for args in COMMANDS {
            let sandbox = emulators.sandbox("eu-west-1");
            sandbox.write("cattube.state.json", state);
            let out = sandbox.run().args(args).output();
            rejected.check(&format!("{args:?} with {expect}"), || {
                let stderr = out.stderr.as_str().to_string();
                let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
                assert_eq!(out.code, Some(2), "{stderr}");
                assert_eq!(lines.len(), 1, "{stderr}");
                assert!(lines[0].contains(expect), "{stderr}");
                let after =
                    std::fs::read_to_string(sandbox.path().join("cattube.state.json")).unwrap();
                assert_eq!(after, state, "the state file was changed");
            });
        }
    }
    let writes = emulators.writes();
    eprintln!(
        "FIGURES bad inputs rejected (foreign state): {}/{}",
        rejected.held,
        cases.len() * COMMANDS.len()
    );
    rejected.assert_all_held("foreign state");
    assert!(
        writes.is_empty(),
        "a foreign state led to writes: {writes:?}"
    );
}
