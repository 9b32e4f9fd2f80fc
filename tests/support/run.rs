//! One run of the built binary, described and then started (the `Run` builder), and what it
//! did (`Ran`).

use std::process::Command;
use std::time::{Duration, Instant};

use super::proxy;
use super::Sandbox;

impl Sandbox {
    /// A run of the built binary in the sandbox, to describe and then start (see [`Run`]).
    pub fn run(&self) -> Run<'_> {
        Run {
            sandbox: self,
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
            code: None,
            writes: None,
            progress: false,
        }
    }
}

/// One run of the built binary in a [`Sandbox`], in the spirit of casey/just's `Test`:
/// described with `args`, `env` and what to expect, then started by [`Run::output`]
/// or [`Run::json`], which check the expectations (panicking with stdout and stderr) and
/// return what happened, with the requests the sandbox's proxies answered during the run.
#[must_use = "a Run does nothing until .output() or .json()"]
pub struct Run<'a> {
    sandbox: &'a Sandbox,
    args: Vec<std::ffi::OsString>,
    env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    env_removed: Vec<std::ffi::OsString>,
    code: Option<i32>,
    writes: Option<usize>,
    progress: bool,
}

impl Run<'_> {
    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(
        mut self,
        key: impl AsRef<std::ffi::OsStr>,
        value: impl AsRef<std::ffi::OsStr>,
    ) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// `key` left out of the sandbox's environment (e.g. no credentials at all).
    pub fn env_remove(mut self, key: impl AsRef<std::ffi::OsStr>) -> Self {
        self.env_removed.push(key.as_ref().to_owned());
        self
    }

    /// The exit code the run must end with.
    pub fn expect_code(mut self, code: i32) -> Self {
        self.code = Some(code);
        self
    }

    /// How many writes the sandbox's proxies must see during the run.
    pub fn expect_writes(mut self, writes: usize) -> Self {
        self.writes = Some(writes);
        self
    }

    /// Exit 0 and not one write: a run that only reads (`status`, `output`, a converged
    /// `up`, a `down` with nothing to delete).
    pub fn expect_read_only(self) -> Self {
        self.expect_code(0).expect_writes(0)
    }

    /// Exit 2 and not one write: input refused before anything changed.
    pub fn expect_refused(self) -> Self {
        self.expect_code(2).expect_writes(0)
    }

    /// Progress drawn as at a user's terminal (a sandbox's runs pass `--no-progress`).
    pub fn with_progress(mut self) -> Self {
        self.progress = true;
        self
    }

    /// Starts the run on a pseudo-terminal, as a user at a terminal runs it (prompts,
    /// Ctrl-C, drawn progress), each expectation of the session failing after `timeout`.
    /// The exit code and writes are for the test to check.
    pub fn at_terminal(self, timeout: Duration) -> rexpect::session::PtySession {
        let millis = u64::try_from(timeout.as_millis()).unwrap();
        rexpect::session::spawn_command(self.command(&[]), Some(millis))
            .expect("spawn cattube on a pty")
    }

    /// Runs with `--output json` first: [`Ran::doc`] is the document, and stdout that is
    /// not one JSON document fails the test.
    #[track_caller]
    pub fn json(self) -> Ran {
        let mut ran = self.start(&["--output", "json"]);
        ran.doc = json_of(&ran.stdout);
        ran
    }

    /// Runs as described.
    #[track_caller]
    pub fn output(self) -> Ran {
        self.start(&[])
    }

    /// The binary with the sandbox's environment and what the run describes, `first`
    /// before its arguments.
    fn command(&self, first: &[&str]) -> Command {
        let mut cmd = self
            .sandbox
            .command_for(&assert_cmd::cargo::cargo_bin("cattube"));
        if !self.progress {
            cmd.arg("--no-progress");
        }
        cmd.args(first).args(&self.args);
        for key in &self.env_removed {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    #[track_caller]
    fn start(self, first: &[&str]) -> Ran {
        let mut cmd = self.command(first);
        let began = Instant::now();
        let out = cmd.output().unwrap();
        let requests = answered_since(&self.sandbox.logs, began);
        let ran = Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
            doc: serde_json::Value::Null,
            requests,
        };
        let what = format!("cattube {:?}", self.args);
        if let Some(code) = self.code {
            assert_eq!(ran.code, Some(code), "{what}: {}", ran.text());
        }
        if let Some(writes) = self.writes {
            let sent: Vec<&str> = ran.writes().iter().map(|s| s.operation.as_str()).collect();
            assert_eq!(sent.len(), writes, "{what} wrote {sent:#?}: {}", ran.text());
        }
        ran
    }
}

/// The requests of `logs` received at or after `since`, in the order they arrived.
fn answered_since(logs: &[proxy::RequestLog], since: Instant) -> Vec<proxy::Seen> {
    let mut seen: Vec<proxy::Seen> = logs
        .iter()
        .flat_map(|log| log.lock().unwrap().clone())
        .filter(|s| s.start >= since)
        .collect();
    seen.sort_by_key(|s| s.start);
    seen
}

/// What a [`Run`] did.
#[derive(Debug)]
pub struct Ran {
    /// `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The JSON document of a [`Run::json`], `Null` for [`Run::output`].
    pub doc: serde_json::Value,
    /// The requests the sandbox's proxies answered during the run, in the order they arrived.
    pub requests: Vec<proxy::Seen>,
}

/// The run ended with `code`; the failure names `what` and shows the run's output.
#[track_caller]
pub fn assert_code(out: &Ran, code: i32, what: &str) {
    assert_eq!(out.code, Some(code), "{what}: {}", out.text());
}

/// Sends the child SIGINT, as a Ctrl-C at its terminal would.
pub fn interrupt(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

impl Ran {
    /// The run's requests that can change something.
    pub fn writes(&self) -> Vec<&proxy::Seen> {
        self.requests.iter().filter(|s| s.is_write()).collect()
    }

    /// Both streams, for a failure message.
    pub fn text(&self) -> String {
        format!("stdout {}\nstderr {}", self.stdout, self.stderr)
    }
}

fn json_of(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}"))
}

/// `upload-url`'s arguments for a multipart grant of `key`: `size` bytes in two parts.
pub fn two_part_grant<'a>(size: &'a str, key: &'a str) -> [&'a str; 6] {
    ["--multipart", "--size", size, "--parts", "2", key]
}
