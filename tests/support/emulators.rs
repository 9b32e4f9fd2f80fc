//! The emulators the tests run cattube against: moto and the MediaConvert stand-in, each
//! on a free loopback port behind a recording proxy, and the project virtualenv they run in.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::proxy;
use super::{FaultPlan, RecordingProxy, Sandbox};

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

/// The MediaConvert stand-in (local/mediaconvert/server.py) on 127.0.0.1, stopped
/// on drop. moto has no MediaConvert.
pub struct StandIn {
    child: Child,
    pub url: String,
    _log_dir: tempfile::TempDir,
}

impl StandIn {
    pub fn start() -> StandIn {
        use std::io::BufRead;
        let log_dir = tempfile::tempdir().unwrap();
        let log = log_dir.path().join("standin.log");
        let mut child = Command::new(venv_python())
            .arg(repo_root().join("local/mediaconvert/server.py"))
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the MediaConvert stand-in");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "the stand-in said {line:?}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        StandIn {
            child,
            url,
            _log_dir: log_dir,
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request to the stand-in's test-only control endpoints (`/_standin/…`): its status
/// code and JSON answer.
pub fn standin_request(
    base: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://").expect("an http:// URL");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{path}: {answer}"));
    let doc = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
        .unwrap_or_default();
    (status, doc)
}

/// moto and the MediaConvert stand-in, each behind its own recording proxy; both proxies
/// follow one fault plan, so "the k-th write" counts across them.
pub struct Emulators {
    pub moto: Moto,
    pub standin: StandIn,
    pub aws: RecordingProxy,
    pub mediaconvert: RecordingProxy,
    pub faults: Arc<FaultPlan>,
}

impl Emulators {
    pub fn start() -> Emulators {
        Emulators::with_latency(Duration::ZERO)
    }

    /// Both emulators behind proxies that add `latency` to every request.
    pub fn with_latency(latency: Duration) -> Emulators {
        let moto = Moto::start();
        let standin = StandIn::start();
        let faults = Arc::new(FaultPlan::default());
        let aws = RecordingProxy::new(&moto.url, faults.clone(), latency);
        let mediaconvert = RecordingProxy::new(&standin.url, faults.clone(), latency);
        Emulators {
            moto,
            standin,
            aws,
            mediaconvert,
            faults,
        }
    }

    /// A sandbox whose cattube reaches both emulators through the proxies.
    pub fn sandbox(&self, region: &str) -> Sandbox {
        let mut sandbox = Sandbox::new(&self.aws.url, region);
        sandbox.mediaconvert = Some(self.mediaconvert.url.clone());
        sandbox.logs = vec![self.aws.log(), self.mediaconvert.log()];
        sandbox
    }

    /// Every request seen by both proxies, in the order they arrived.
    pub fn requests(&self) -> Vec<proxy::Seen> {
        let mut all = self.aws.requests();
        all.extend(self.mediaconvert.requests());
        all.sort_by_key(|s| s.start);
        all
    }

    /// The sequential rounds of every request seen by both proxies (the critical path).
    pub fn rounds(&self) -> usize {
        proxy::rounds(&self.requests())
    }

    pub fn writes(&self) -> Vec<proxy::Seen> {
        let mut all = self.aws.writes();
        all.extend(self.mediaconvert.writes());
        all
    }

    pub fn reset(&self) {
        self.aws.reset();
        self.mediaconvert.reset();
    }
}

/// POSTs `body` to the MediaConvert stand-in's test-only control endpoint `path` (at `base`,
/// its own address, not the proxy's) and wants 200.
pub fn standin_post(base: &str, path: &str, body: &str) {
    let (status, doc) = standin_request(base, "POST", path, body);
    assert_eq!(status, 200, "{path}: {doc}");
}

/// The one CreateJobTemplate body cattube sent (kept by the MediaConvert stand-in at
/// `standin`), which the stand-in validates against the operation's input shape in
/// botocore's model (no unknown field, every enum and bound respected).
pub fn sent_template(standin: &str) -> serde_json::Value {
    let (status, bodies) = standin_request(standin, "GET", "/_standin/bodies", "");
    assert_eq!(status, 200);
    let sent: Vec<&str> = bodies
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["operation"] == "CreateJobTemplate")
        .map(|b| b["body"].as_str().unwrap())
        .collect();
    assert_eq!(sent.len(), 1, "CreateJobTemplate bodies: {sent:?}");
    let (status, answer) = standin_request(
        standin,
        "POST",
        "/_standin/validate/CreateJobTemplate",
        sent[0],
    );
    assert_eq!(status, 200, "botocore's model refuses the body: {answer}");
    serde_json::from_str(sent[0]).unwrap()
}
