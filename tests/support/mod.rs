//! Test support: the project virtualenv, moto's server on a free loopback port, a recording
//! proxy that counts the requests cattube sends, and a way to run the built binary against
//! them with no real AWS configuration in reach.

#![allow(dead_code)]

pub mod proxy;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use proxy::RecordingProxy;

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The project virtualenv with the pinned emulator, created on first use.
pub fn venv_python() -> PathBuf {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/venv.sh"))
            .status()
            .expect("run scripts/venv.sh");
        assert!(status.success(), "scripts/venv.sh failed");
    });
    repo_root().join(".venv/bin/python")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on port {port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// moto's server (S3, IAM, STS, Lambda, CloudFront) on 127.0.0.1, stopped on drop.
pub struct Moto {
    child: Child,
    pub url: String,
    _log_dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let python = venv_python();
        let port = free_port();
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("moto.log");
        let mut child = Command::new(python)
            .arg(repo_root().join("tests/support/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start moto's server");
        wait_for_port(port, &mut child, "moto's server", &log);
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _log_dir: log_dir,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A working directory and the environment in which cattube only ever reaches `endpoint`.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub region: String,
}

impl Sandbox {
    pub fn new(endpoint: &str, region: &str) -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            endpoint: endpoint.to_string(),
            region: region.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The built binary, run in the sandbox with fake credentials and no shared AWS config.
    pub fn cattube(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("cattube").expect("the cattube binary");
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
            .arg("--no-progress");
        cmd
    }

    pub fn write(&self, name: &str, content: &str) {
        std::fs::write(self.path().join(name), content).unwrap();
    }
}

/// An S3 client of the test's own, for arranging drift and checking results.
pub async fn s3_client(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// The JSON document cattube printed.
pub fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
