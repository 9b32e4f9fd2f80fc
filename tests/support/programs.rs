//! The project's other programs run for real by the tests: the browser drivers, the
//! converter function's handler and the project's Python.

use std::path::Path;
use std::process::Command;

use super::{repo_root, venv_python, Emulators};

use super::Sandbox;
/// Runs the player's Playwright script (tests/browser/player.test.mjs) in `mode` against the
/// page at `url`; its `RESULT` line.
pub fn browse(url: &str, mode: &str, screenshot: &Path) -> serde_json::Value {
    let screenshot = screenshot.to_string_lossy();
    node_result(
        "tests/browser/player.test.mjs",
        &[
            ("PLAYER_URL", url),
            ("MODE", mode),
            ("SCREENSHOT", &screenshot),
        ],
    )
}

/// Runs a browser driver of tests/browser with `env`: the document of its `RESULT` line
/// (the test fails, showing its output, when the driver does).
pub fn node_result(script: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let out = Command::new("node")
        .arg(repo_root().join(script))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} {env:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT in {stdout}"));
    serde_json::from_str(line).unwrap()
}

/// Runs `cmd` to the end and returns its output; fails the test, naming the command and
/// showing its stderr, when it does not exit 0.
#[track_caller]
pub fn succeeded(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the converter function's handler (lambda-artifact/handler.py) on `event` for real:
/// with the function's own environment `env`, MediaConvert at the stand-in, the other
/// services at `endpoints` (`AWS_ENDPOINT_URL…` variables), and no AWS configuration in
/// reach. Its result document.
pub fn run_converter(
    emulators: &Emulators,
    sandbox: &Sandbox,
    env: &std::collections::HashMap<String, String>,
    endpoints: &[(&str, &str)],
    region: &str,
    event: &str,
) -> serde_json::Value {
    let out = Command::new(venv_python())
        .current_dir(repo_root().join("lambda-artifact"))
        .env_clear()
        .envs(env)
        .env("AWS_ENDPOINT_URL_MEDIACONVERT", &emulators.standin.url)
        .envs(endpoints.iter().copied())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_CONFIG_FILE", sandbox.path().join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", sandbox.path().join("no-creds"))
        // -B: no __pycache__ in lambda-artifact/ (cattube zips that folder).
        .args([
            "-B",
            "-c",
            "import json, sys, handler; print(json.dumps(handler.lambda_handler(json.loads(sys.argv[1]), None)))",
            event,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "handler: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// Runs the project's Python with `args` in `dir` (no bytecode written: lambda-artifact/
/// is zipped as it is); its stdout, which must be a success.
pub fn run_python(dir: &Path, args: &[&str]) -> String {
    let out = succeeded(
        Command::new(venv_python())
            .current_dir(dir)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .arg("-B")
            .args(args),
    );
    String::from_utf8(out.stdout).unwrap()
}
