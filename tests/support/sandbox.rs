//! The sandbox a test runs cattube in: a working directory and an environment that reaches
//! only the emulators.

use std::path::Path;
use std::process::{Command, Stdio};

use super::proxy;
use super::RecordingProxy;

/// A working directory and the environment in which cattube only ever reaches `endpoint`
/// (and `mediaconvert` for MediaConvert, when set).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub mediaconvert: Option<String>,
    pub region: String,
    /// The logs of the proxies in front of `endpoint` and `mediaconvert`, whose requests a
    /// [`Run`] reports.
    pub logs: Vec<proxy::RequestLog>,
}

impl Sandbox {
    pub fn new(endpoint: &str, region: &str) -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            endpoint: endpoint.to_string(),
            mediaconvert: None,
            region: region.to_string(),
            logs: Vec::new(),
        }
    }

    /// A sandbox whose cattube reaches only `proxy`, whose requests its runs report.
    pub fn behind(proxy: &RecordingProxy, region: &str) -> Sandbox {
        let mut sandbox = Sandbox::new(&proxy.url, region);
        sandbox.logs = vec![proxy.log()];
        sandbox
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The built binary, run in the sandbox with fake credentials and no shared AWS config,
    /// drawing no progress: for the few runs a [`Run`] cannot describe (a closed stdout, a
    /// child signalled while its stdout is read).
    pub fn command(&self) -> Command {
        let mut cmd = self.command_for(&assert_cmd::cargo::cargo_bin("cattube"));
        cmd.arg("--no-progress");
        cmd
    }

    /// The binary started in the background with `env` added, no stdin, stdout discarded and
    /// stderr piped: for tests that signal or kill it while it runs.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        self.command()
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `program` run in the sandbox with the environment of [`Sandbox::cattube`].
    pub fn command_for(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.starts_with("CATTUBE_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", &self.region)
            .env("AWS_CONFIG_FILE", self.path().join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path().join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Retries of what AWS propagates slowly: an emulator needs none, keep them short.
            .env("CATTUBE_PROPAGATION_TIMEOUT", "2");
        if let Some(mediaconvert) = &self.mediaconvert {
            cmd.env("AWS_ENDPOINT_URL_MEDIACONVERT", mediaconvert);
        }
        cmd
    }

    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.path().join(name), content).unwrap();
    }
}
