//! Test support: the project virtualenv, moto's server on a free loopback port, a recording
//! proxy that counts the requests cattube sends, and a way to run the built binary against
//! them with no real AWS configuration in reach.

pub mod aws_errors;
pub mod clips;
pub mod distribution;
pub mod names;
pub mod proxy;
pub mod tally;
pub mod targets;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use cattube_stages::{Clients, Registry, Settings, StackContext};

pub use proxy::{FaultPlan, RecordingProxy};

/// Every resource of the registry, `(id, stage)`, in its order (the order `plan` lists).
pub static RESOURCES: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    Registry::standard()
        .steps()
        .iter()
        .map(|step| (step.id(), step.stage()))
        .collect()
});

/// The ids of [`RESOURCES`].
/// The ids a stack with no `cattube.toml` has: every registered resource its default
/// settings want (the `[notify]` topic only with `[notify] email`).
pub static WANTED_BY_DEFAULT: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let settings = Settings::default();
    Registry::standard()
        .steps()
        .iter()
        .filter(|step| step.wanted(&settings))
        .map(|step| step.id())
        .collect()
});

pub static IDS: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| RESOURCES.iter().map(|(id, _)| *id).collect());

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

/// Bytes that are not all the same (xorshift from `seed`), so a misplaced part would show.
pub fn video_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
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

/// The SDK configuration of the test's own clients, for arranging drift and checking results.
pub async fn sdk_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// An S3 client of the test's own, for arranging drift and checking results.
pub async fn s3_client(endpoint: &str, region: &str) -> aws_sdk_s3::Client {
    let config = sdk_config(endpoint, region).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

/// An object put by someone other than cattube (its user, the converter, another runner).
pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
}

/// The bucket's policy document, as S3 returns it.
pub async fn bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    let got = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    got.policy().unwrap().to_string()
}

/// The function's configuration, as Lambda describes it.
pub async fn function_configuration(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput {
    let got = lambda.get_function_configuration().function_name(function);
    got.send().await.unwrap()
}

/// The function's environment variables, as Lambda holds them (none: empty).
pub async fn function_environment(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> std::collections::HashMap<String, String> {
    let config = function_configuration(lambda, function).await;
    let variables = config.environment().and_then(|e| e.variables());
    variables.cloned().unwrap_or_default()
}

/// The function's resource-based policy (its invoke permissions), parsed.
pub async fn function_policy(lambda: &aws_sdk_lambda::Client, function: &str) -> serde_json::Value {
    let got = lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .unwrap();
    serde_json::from_str(got.policy().unwrap()).unwrap()
}

/// Every inline policy of the role: its name, and its document as IAM returns it
/// (URL-encoded).
pub async fn inline_policies(iam: &aws_sdk_iam::Client, role: &str) -> BTreeMap<String, String> {
    let listed = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let mut documents = BTreeMap::new();
    for name in listed.policy_names() {
        let got = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        documents.insert(name.clone(), got.policy_document().to_string());
    }
    documents
}

/// The ARNs of the managed policies attached to the role.
pub async fn attached_policies(iam: &aws_sdk_iam::Client, role: &str) -> Vec<String> {
    let listed = iam
        .list_attached_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    let arns = listed.attached_policies().iter();
    arns.map(|p| p.policy_arn().unwrap().to_string()).collect()
}

/// The row of a text summary (`status`, `up`, `down`) for resource `id`.
#[track_caller]
pub fn row<'a>(text: &'a str, id: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split_once("] ")
                .is_some_and(|(_, rest)| rest.split_whitespace().next() == Some(id))
        })
        .unwrap_or_else(|| panic!("no {id} row in:\n{text}"))
}

/// The bucket's event notifications to Lambda functions, as S3 returns them.
pub async fn lambda_notifications(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Vec<aws_sdk_s3::types::LambdaFunctionConfiguration> {
    let got = s3.get_bucket_notification_configuration().bucket(bucket);
    let got = got.send().await.unwrap();
    got.lambda_function_configurations().to_vec()
}

/// The bucket's tags, key to value.
pub async fn bucket_tags(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, String> {
    let got = s3.get_bucket_tagging().bucket(bucket).send().await.unwrap();
    let tags = got.tag_set().iter();
    tags.map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Sets the bucket's policy to `policy`, as its owner would by hand.
pub async fn put_bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str, policy: &str) {
    let put = s3.put_bucket_policy().bucket(bucket).policy(policy);
    put.send().await.unwrap();
}

/// The JSON document's line for resource `id`.
#[track_caller]
pub fn resource<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {doc}"))
}

/// `upload-url`'s arguments for a multipart grant of `key`: `size` bytes in two parts.
pub fn two_part_grant<'a>(size: &'a str, key: &'a str) -> [&'a str; 6] {
    ["--multipart", "--size", size, "--parts", "2", key]
}

/// Whether `tags` (key, value), as any service's SDK returns them, hold the default stack's
/// tag `cattube:stack=cattube`.
pub fn has_stack_tag<'a, K, V>(tags: impl IntoIterator<Item = (K, V)>) -> bool
where
    K: Into<Option<&'a str>>,
    V: Into<Option<&'a str>>,
{
    tags.into_iter()
        .any(|(k, v)| k.into() == Some("cattube:stack") && v.into() == Some("cattube"))
}

/// A JSON array of strings, as they are (anything else in it fails the test).
#[track_caller]
pub fn strings(array: &serde_json::Value) -> Vec<&str> {
    field_of_each(array, |item| item.as_str())
}

/// The string `field` of each object of a JSON array (a missing one fails the test).
#[track_caller]
pub fn field_strings<'a>(array: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    field_of_each(array, |item| item[field].as_str())
}

#[track_caller]
fn field_of_each<'a>(
    array: &'a serde_json::Value,
    read: impl Fn(&'a serde_json::Value) -> Option<&'a str>,
) -> Vec<&'a str> {
    let items = array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"));
    items
        .iter()
        .map(|item| read(item).unwrap_or_else(|| panic!("no string in {item}")))
        .collect()
}

/// `status`'s line for resource `id` is drifted, and its drift `says` (part of it).
#[track_caller]
pub fn assert_drifted(doc: &serde_json::Value, id: &str, says: &str) {
    let line = resource(doc, id);
    assert_eq!(line["status"], "drifted", "{line}");
    assert!(
        line["drift"].to_string().contains(says),
        "{says:?} not in {line}"
    );
}

/// Every line of the JSON document's `resources` says `action` (the failure names those
/// that do not).
#[track_caller]
pub fn assert_every_action(doc: &serde_json::Value, action: &str) {
    let other: Vec<String> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != action)
        .map(|r| format!("{} {}", r["id"], r["action"]))
        .collect();
    assert!(other.is_empty(), "not {action}: {other:?} in {doc}");
}

fn json_of(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}"))
}

/// The ownerships a state record may have.
pub const OWNERSHIPS: &[&str] = &["creating", "created", "adopted"];

/// The state file checked: absent (`None`), or valid JSON of schema 1 for `stack` whose every
/// record names a resource and has a known ownership. Panics, saying why, otherwise.
pub fn checked_state(path: &Path, stack: &str) -> Option<serde_json::Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("state file {}: {e}", path.display()),
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("state file is not JSON ({e}): {text}"));
    assert_eq!(doc["schema"], 1, "schema: {text}");
    assert_eq!(doc["stack"], stack, "stack: {text}");
    for key in ["account", "region"] {
        assert!(doc[key].is_string(), "{key}: {text}");
    }
    for (id, record) in doc["resources"].as_object().expect("resources").iter() {
        assert!(record["name"].is_string(), "{id} has no name: {text}");
        let ownership = record["ownership"].as_str().unwrap_or_default();
        assert!(
            OWNERSHIPS.contains(&ownership),
            "{id} has ownership {ownership:?}: {text}"
        );
    }
    Some(doc)
}

/// The stack's clients pointed straight at the emulators (not through the proxies: a check
/// of the test's is neither counted as cattube's requests nor refused by a fault plan).
pub async fn stack_clients(emulators: &Emulators, region: &str) -> Clients {
    let moto = Clients::new(&sdk_config(&emulators.moto.url, region).await);
    Clients {
        // MediaConvert is the stand-in's, not moto's.
        mediaconvert: Clients::new(&sdk_config(&emulators.standin.url, region).await).mediaconvert,
        ..moto
    }
}

/// The context of stack `stack` in `region` as cattube builds it for `steps`: the emulators'
/// account, the names resolved from `overrides` (`[names]`) and the defaults.
pub async fn stack_context(
    emulators: &Emulators,
    region: &str,
    stack: &str,
    overrides: &BTreeMap<String, String>,
    registry: &Registry,
) -> StackContext {
    let clients = stack_clients(emulators, region).await;
    let account = clients.account_id().await.expect("the emulators' account");
    let names = registry.resolve_names(stack, &account, region, overrides);
    let settings = Settings {
        propagation_timeout: Duration::from_secs(2),
        ..Settings::default()
    };
    StackContext::new(
        stack,
        &account,
        region,
        names,
        &BTreeMap::new(),
        settings,
        clients,
    )
}

/// What is left of the default stack `cattube` in `region`: every registered step's
/// [`Step::find_owned`], so a new resource kind is covered by every leak check.
pub async fn leftovers(emulators: &Emulators, region: &str) -> Vec<String> {
    let registry = Registry::standard();
    let ctx = stack_context(emulators, region, "cattube", &BTreeMap::new(), &registry).await;
    found_owned(&registry, &ctx).await
}

/// `down --yes` in `sandbox` succeeds and leaves nothing of the default stack: the end of
/// every test that stands one up. What `down` did.
pub async fn down_leaves_nothing(emulators: &Emulators, sandbox: &Sandbox) -> Ran {
    let down = sandbox.run().args(["down", "--yes"]).expect_code(0).json();
    let left = leftovers(emulators, &sandbox.region).await;
    assert!(left.is_empty(), "left behind {left:?}");
    down
}

/// What each step of `registry` finds of its own in the stack of `ctx`, one `id name` line each. A
/// lookup that fails is a line too: a leak check that cannot look must not pass.
pub async fn found_owned(registry: &Registry, ctx: &StackContext) -> Vec<String> {
    let mut left = Vec::new();
    for step in registry.steps() {
        match step.find_owned(ctx).await {
            Ok(found) => left.extend(found.iter().map(|f| format!("{} {}", step.id(), f.name))),
            Err(e) => left.push(format!("{} (cannot look: {e:#})", step.id())),
        }
    }
    left
}

/// Nothing of any kind the stack makes is left in the account ([`account_inventory`]).
pub async fn assert_account_empty(emulators: &Emulators, region: &str) {
    let left = account_inventory(emulators, region).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Everything of the stack's kinds in the whole emulated account, whoever owns it, one
/// `kind name` line each: buckets, CloudFront distributions and origin access controls, IAM
/// roles, Lambda functions, MediaConvert queues (but the account's `Default`) and job
/// templates. For what [`leftovers`] cannot tell: what someone else owns (adopted resources
/// that must survive `down`) and how many of a kind exist (a duplicate made by a crash).
pub async fn account_inventory(emulators: &Emulators, region: &str) -> Vec<String> {
    let Clients {
        s3,
        iam,
        lambda,
        mediaconvert,
        cloudfront,
        ..
    } = stack_clients(emulators, region).await;
    let mut left = Vec::new();
    for bucket in s3.list_buckets().send().await.unwrap().buckets() {
        left.push(format!("bucket {}", bucket.name().unwrap_or_default()));
    }
    let distributions = cloudfront.list_distributions().send().await.unwrap();
    if let Some(list) = distributions.distribution_list() {
        for d in list.items() {
            left.push(format!("distribution {}", d.id()));
        }
    }
    let oacs = cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .unwrap();
    if let Some(list) = oacs.origin_access_control_list() {
        for o in list.items() {
            left.push(format!("origin-access-control {}", o.name()));
        }
    }
    for role in iam.list_roles().send().await.unwrap().roles() {
        left.push(format!("role {}", role.role_name()));
    }
    for function in lambda.list_functions().send().await.unwrap().functions() {
        left.push(format!(
            "function {}",
            function.function_name().unwrap_or_default()
        ));
    }
    for queue in mediaconvert.list_queues().send().await.unwrap().queues() {
        let name = queue.name().unwrap_or_default();
        if name != "Default" {
            left.push(format!("queue {name}"));
        }
    }
    for template in mediaconvert
        .list_job_templates()
        .send()
        .await
        .unwrap()
        .job_templates()
    {
        left.push(format!(
            "job-template {}",
            template.name().unwrap_or_default()
        ));
    }
    left
}

/// An adopted bucket got the secure settings: public access blocked, default encryption,
/// bucket-owner ownership, and the TLS-only statement in its policy.
pub async fn assert_secure_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true)),
        "{bucket}"
    );
    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(
        !encryption
            .server_side_encryption_configuration()
            .unwrap()
            .rules()
            .is_empty(),
        "{bucket}"
    );
    let ownership = s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ownership.ownership_controls().unwrap().rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced",
        "{bucket}"
    );
    let policy = bucket_policy(s3, bucket).await;
    assert!(
        policy.contains("cattube-deny-insecure-transport"),
        "{bucket}: {policy}"
    );
}

/// Creates a bucket of someone else's (not the stack's) in `region`, as a user would.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// A job of `file_input` on the default stack's queue, from its job template and with its
/// MediaConvert role, as the converter function submits it (in moto's account): its id.
pub async fn submit_job(
    mediaconvert: &aws_sdk_mediaconvert::Client,
    region: &str,
    file_input: &str,
) -> String {
    const ACCOUNT: &str = "123456789012";
    let input = aws_sdk_mediaconvert::types::Input::builder()
        .file_input(file_input)
        .build();
    let job = mediaconvert
        .create_job()
        .queue(format!(
            "arn:aws:mediaconvert:{region}:{ACCOUNT}:queues/cattube-queue"
        ))
        .role(format!(
            "arn:aws:iam::{ACCOUNT}:role/cattube-{region}-mediaconvert"
        ))
        .job_template("cattube-job")
        .settings(
            aws_sdk_mediaconvert::types::JobSettings::builder()
                .inputs(input)
                .build(),
        )
        .send()
        .await
        .unwrap();
    job.job().and_then(|j| j.id()).unwrap().to_string()
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

/// Drift behind cattube's back: every event notification of `bucket` removed.
pub async fn remove_notifications(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(aws_sdk_s3::types::NotificationConfiguration::builder().build())
        .send()
        .await
        .unwrap();
}

/// Drift behind cattube's back: the converter function's environment changed.
pub async fn drift_function_environment(lambda: &aws_sdk_lambda::Client, function: &str) {
    lambda
        .update_function_configuration()
        .function_name(function)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("DESTINATION_BUCKET", "elsewhere")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Drift behind cattube's back: `role` widened by an inline policy `everything` and a managed
/// policy `widening` (returned: its ARN), both allowing all of S3.
pub async fn widen_role(iam: &aws_sdk_iam::Client, role: &str) -> String {
    let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    iam.put_role_policy()
        .role_name(role)
        .policy_name("everything")
        .policy_document(everything)
        .send()
        .await
        .unwrap();
    let widening = iam
        .create_policy()
        .policy_name("widening")
        .policy_document(everything)
        .send()
        .await
        .unwrap();
    let widening = widening.policy().unwrap().arn().unwrap().to_string();
    iam.attach_role_policy()
        .role_name(role)
        .policy_arn(&widening)
        .send()
        .await
        .unwrap();
    widening
}

/// Moves `stack`'s expiry into the past on each resource the tagging API lists, as if its
/// `--ttl` had run out.
pub async fn expire(clients: &Clients, region: &str, stack: &str) {
    const PAST: &str = "2020-01-01T00:00:00Z";
    let listed = cattube_stages::stacks::list(clients, region).await.unwrap();
    let arns = &listed.iter().find(|s| s.stack == stack).unwrap().resources;
    for arn in arns {
        if let Some(bucket) = arn.strip_prefix("arn:aws:s3:::") {
            let live = clients
                .s3
                .get_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
            let mut tags: Vec<aws_sdk_s3::types::Tag> = live
                .tag_set()
                .iter()
                .filter(|t| t.key() != "cattube:expires-at")
                .cloned()
                .collect();
            tags.push(
                aws_sdk_s3::types::Tag::builder()
                    .key("cattube:expires-at")
                    .value(PAST)
                    .build()
                    .unwrap(),
            );
            let tagging = aws_sdk_s3::types::Tagging::builder()
                .set_tag_set(Some(tags))
                .build()
                .unwrap();
            clients
                .s3
                .put_bucket_tagging()
                .bucket(bucket)
                .tagging(tagging)
                .send()
                .await
                .unwrap();
        } else if arn.contains(":lambda:") {
            clients
                .lambda
                .tag_resource()
                .resource(arn)
                .tags("cattube:expires-at", PAST)
                .send()
                .await
                .unwrap();
        } else if arn.contains(":cloudfront:") {
            let tag = aws_sdk_cloudfront::types::Tag::builder()
                .key("cattube:expires-at")
                .value(PAST)
                .build()
                .unwrap();
            clients
                .cloudfront
                .tag_resource()
                .resource(arn)
                .tags(
                    aws_sdk_cloudfront::types::Tags::builder()
                        .items(tag)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        } else if arn.contains(":logs:") {
            clients
                .logs
                .tag_resource()
                .resource_arn(arn.trim_end_matches(":*"))
                .tags("cattube:expires-at", PAST)
                .send()
                .await
                .unwrap();
        } else {
            panic!("no way to tag {arn}");
        }
    }
}

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
