//! A recording HTTP proxy between cattube and the emulator: it forwards every request and
//! remembers its method, path, operation and when it started and ended, so tests can count
//! requests, writes and sequential rounds. It can add a fixed latency to every request (as
//! real AWS has), which is what the benchmark (`examples/bench.rs`) measures against.
//!
//! It can also misbehave, following a [`FaultPlan`] that several proxies may share (moto's
//! and the MediaConvert stand-in's, so that "the k-th write" counts across both):
//! - fail one chosen write with a non-retryable `AccessDenied`, in the error shape of the
//!   service it was meant for (told by the SigV4 credential scope). The write is chosen by
//!   its operation's identity (see [`Seen::operation`]), not by its arrival order: steps run
//!   in parallel, so "the k-th write" would be a different one from run to run;
//! - answer the first attempt of every write with a throttling or 5xx error (alternately),
//!   which the SDK must retry;
//! - delay every request, so that a run is reliably in flight when a test signals it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cattube_stages::aws::ErrorShape;
use cattube_stages::Service;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// One request the proxy forwarded.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// `Action=` of a query-protocol request (IAM, STS), empty for REST APIs.
    pub action: String,
    /// The region the request was signed for (its SigV4 credential scope).
    pub region: String,
    /// The operation's identity, the same in every run: service, method, path (with
    /// CloudFront's generated ids replaced by `{id}`), the query's keys, and for the query
    /// protocol the action and the names of what it acts on (`RoleName`, `PolicyName`,
    /// `PolicyArn`). E.g. `s3 PUT /cattube-source-…?encryption`,
    /// `iam POST / PutRolePolicy RoleName=…&PolicyName=…`.
    pub operation: String,
    /// When the proxy received the request and when it had answered it.
    pub start: Instant,
    pub end: Instant,
}

impl Seen {
    /// Whether the request can change anything: REST reads are GET and HEAD; query-protocol
    /// reads are POSTs whose action is a Get, List or Describe.
    pub fn is_write(&self) -> bool {
        match self.method.as_str() {
            "GET" | "HEAD" => false,
            _ if !self.action.is_empty() => !["Get", "List", "Describe"]
                .iter()
                .any(|p| self.action.starts_with(p)),
            _ => true,
        }
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}?{} {}",
            self.method, self.path, self.query, self.action
        )
    }
}

/// What the proxies sharing it should do wrong. All counters start from the last change.
#[derive(Default)]
pub struct FaultPlan {
    inner: Mutex<PlanState>,
    /// Chosen requests answered with an exact AWS error (see [`Answer`]).
    answers: Mutex<Vec<Answer>>,
    /// Writes held until the test opens their gate (see [`FaultPlan::gate`]).
    gates: Mutex<Vec<Arc<Gate>>>,
}

/// Holds the first write (first attempt) its matcher picks until [`Gate::open`]: a run is
/// then known to be waiting on exactly that write for as long as the test needs, however
/// slow the machine (a fixed delay only makes that likely). Held before it is forwarded
/// ([`FaultPlan::gate`]), or once the emulator has done it, before its answer goes back
/// ([`FaultPlan::gate_answer`]: the write is done and the run does not know it yet).
pub struct Gate {
    matches: Box<dyn Fn(&Seen) -> bool + Send + Sync>,
    answer: bool,
    reached: Mutex<Option<Seen>>,
    open: tokio::sync::watch::Sender<bool>,
}

impl Gate {
    /// The write held (or let through once opened), once it has arrived.
    pub fn reached(&self) -> Option<Seen> {
        self.reached.lock().unwrap().clone()
    }

    /// Lets the held write (and any later one) through.
    pub fn open(&self) {
        self.open.send_replace(true);
    }
}

/// Picks requests by service and request.
pub type Matcher = dyn Fn(&str, &Seen) -> bool + Send;

/// Answers the requests `matches` picks (given the service and the request) with `reply`,
/// at most `times` of them, first attempts only unless `retries` is set. Independent of the
/// other faults of the plan, and kept across [`FaultPlan::clear`] until
/// [`FaultPlan::clear_answers`].
pub struct Answer {
    pub matches: Box<Matcher>,
    pub reply: super::aws_errors::AwsErrorReply,
    pub times: usize,
    pub retries: bool,
    /// The requests answered so far.
    pub answered: Vec<Seen>,
}

impl Answer {
    pub fn new(
        reply: super::aws_errors::AwsErrorReply,
        times: usize,
        matches: impl Fn(&str, &Seen) -> bool + Send + 'static,
    ) -> Answer {
        Answer {
            matches: Box::new(matches),
            reply,
            times,
            retries: false,
            answered: Vec::new(),
        }
    }

    /// Retried attempts of the same call are answered too (while `times` lasts).
    pub fn retries_too(mut self) -> Answer {
        self.retries = true;
        self
    }
}

#[derive(Default)]
struct PlanState {
    /// Fail the write of this operation key ([`FaultPlan::operations`]), once.
    fail_operation: Option<String>,
    /// Hold the write of this operation key this long before answering it.
    hold_operation: Option<(String, Duration)>,
    /// Answer every write's first attempt with a retryable error.
    throttle: bool,
    delay: Duration,
    /// Writes counted since the plan was last set (first attempts only).
    writes: usize,
    /// Their operation keys, in arrival order: the identity, then `#n` for its n-th write
    /// (so that two writes of the same identity are still told apart).
    operations: Vec<String>,
    /// The requests answered with an injected error, and the service they were for.
    injected: Vec<(String, Seen)>,
    /// The operation keys of the writes answered `AccessDenied` by `fail_operation`.
    denied: Vec<String>,
}

enum Fault {
    Deny,
    Throttle,
    ServerError,
}

impl FaultPlan {
    /// Fails the write whose operation key (as [`FaultPlan::operations`] lists them, counted
    /// from now) is `key`, once, with `AccessDenied`.
    pub fn fail_operation(&self, key: &str) {
        let mut plan = self.inner.lock().unwrap();
        *plan = PlanState {
            fail_operation: Some(key.to_string()),
            delay: plan.delay,
            ..Default::default()
        };
    }

    /// Holds the write whose operation key is `key` for `hold` before it is forwarded, so
    /// that a run is known to be waiting on exactly that write.
    pub fn hold_operation(&self, key: &str, hold: Duration) {
        let mut plan = self.inner.lock().unwrap();
        *plan = PlanState {
            hold_operation: Some((key.to_string(), hold)),
            delay: plan.delay,
            ..Default::default()
        };
    }

    /// The operation keys of the writes (first attempts) since the plan was last set.
    pub fn operations(&self) -> Vec<String> {
        self.inner.lock().unwrap().operations.clone()
    }

    /// Answers the first attempt of every write with 429/503 or 500 (alternately).
    pub fn throttle_writes(&self) {
        let mut plan = self.inner.lock().unwrap();
        *plan = PlanState {
            throttle: true,
            delay: plan.delay,
            ..Default::default()
        };
    }

    /// Delays every request by `delay` before forwarding it.
    pub fn delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    /// Adds an [`Answer`]; returns its index for [`FaultPlan::answered`].
    pub fn answer(&self, answer: Answer) -> usize {
        let mut answers = self.answers.lock().unwrap();
        answers.push(answer);
        answers.len() - 1
    }

    /// The requests answer `index` has answered.
    pub fn answered(&self, index: usize) -> Vec<Seen> {
        self.answers.lock().unwrap()[index].answered.clone()
    }

    pub fn clear_answers(&self) {
        self.answers.lock().unwrap().clear();
    }

    /// A closed [`Gate`] for the first write `matches` picks, until [`Gate::open`].
    pub fn gate(&self, matches: impl Fn(&Seen) -> bool + Send + Sync + 'static) -> Arc<Gate> {
        self.add_gate(matches, false)
    }

    /// A closed [`Gate`] for the answer to the first write `matches` picks: the emulator
    /// has done the write, its answer waits until [`Gate::open`].
    pub fn gate_answer(
        &self,
        matches: impl Fn(&Seen) -> bool + Send + Sync + 'static,
    ) -> Arc<Gate> {
        self.add_gate(matches, true)
    }

    fn add_gate(
        &self,
        matches: impl Fn(&Seen) -> bool + Send + Sync + 'static,
        answer: bool,
    ) -> Arc<Gate> {
        let gate = Arc::new(Gate {
            matches: Box::new(matches),
            answer,
            reached: Mutex::new(None),
            open: tokio::sync::watch::channel(false).0,
        });
        self.gates.lock().unwrap().push(gate.clone());
        gate
    }

    /// Waits while `seen` is the write (or, with `answer`, its answer) a closed gate holds.
    async fn pass_gates(&self, seen: &Seen, first_attempt: bool, answer: bool) {
        if !seen.is_write() || !first_attempt {
            return;
        }
        let gate = self.gates.lock().unwrap().iter().find_map(|gate| {
            let mut reached = gate.reached.lock().unwrap();
            (reached.is_none() && gate.answer == answer && (gate.matches)(seen)).then(|| {
                *reached = Some(seen.clone());
                gate.clone()
            })
        });
        if let Some(gate) = gate {
            let _ = gate.open.subscribe().wait_for(|open| *open).await;
        }
    }

    fn chosen_answer(
        &self,
        seen: &Seen,
        service: &str,
        first_attempt: bool,
    ) -> Option<Response<Full<Bytes>>> {
        let mut answers = self.answers.lock().unwrap();
        let answer = answers.iter_mut().find(|a| {
            a.answered.len() < a.times && (first_attempt || a.retries) && (a.matches)(service, seen)
        })?;
        answer.answered.push(seen.clone());
        Some(answer.reply.response())
    }

    /// The shape of a real first `up`: CreateFunction is answered with Lambda's fresh-role
    /// error until `propagation` after the last CreateRole the proxies passed on (IAM takes
    /// seconds to make a new role assumable by Lambda). Stays until [`FaultPlan::clear_answers`].
    #[allow(
        dead_code,
        reason = "only examples/bench.rs models IAM's propagation delay"
    )]
    pub fn propagate_roles(&self, propagation: Duration) {
        let created: Arc<Mutex<Option<Instant>>> = Arc::default();
        let noted = created.clone();
        // Answers nothing: notes when a role is created.
        self.answer(
            Answer::new(
                super::aws_errors::lambda_fresh_role(),
                usize::MAX,
                move |service, seen| {
                    if service == "iam" && seen.action == "CreateRole" {
                        *noted.lock().unwrap() = Some(Instant::now());
                    }
                    false
                },
            )
            .retries_too(),
        );
        self.answer(
            Answer::new(
                super::aws_errors::lambda_fresh_role(),
                usize::MAX,
                move |service, seen| {
                    service == "lambda"
                        && seen.method == "POST"
                        && seen.path == "/2015-03-31/functions"
                        && created
                            .lock()
                            .unwrap()
                            .is_some_and(|at| at.elapsed() < propagation)
                },
            )
            .retries_too(),
        );
    }

    /// Back to a faithful proxy.
    pub fn clear(&self) {
        *self.inner.lock().unwrap() = PlanState::default();
    }

    /// Writes (first attempts) seen since the plan was last set.
    pub fn writes(&self) -> usize {
        self.inner.lock().unwrap().writes
    }

    /// The operation keys of the writes that `fail_operation` answered with `AccessDenied`.
    pub fn denied(&self) -> Vec<String> {
        self.inner.lock().unwrap().denied.clone()
    }

    /// The requests that were answered with an injected error: (service, request).
    pub fn injected(&self) -> Vec<(String, Seen)> {
        self.inner.lock().unwrap().injected.clone()
    }

    fn decide(&self, seen: &Seen, service: &str, first_attempt: bool) -> (Option<Fault>, Duration) {
        let mut plan = self.inner.lock().unwrap();
        let delay = plan.delay;
        if !seen.is_write() || !first_attempt {
            return (None, delay);
        }
        plan.writes += 1;
        let n = plan.writes;
        let nth = 1 + plan
            .operations
            .iter()
            .filter(|k| k.rsplit_once(" #").map(|(op, _)| op) == Some(seen.operation.as_str()))
            .count();
        let key = operation_key(&seen.operation, nth);
        plan.operations.push(key.clone());
        let delay = match &plan.hold_operation {
            Some((held, hold)) if *held == key => delay + *hold,
            _ => delay,
        };
        let fault = if plan.fail_operation.as_deref() == Some(key.as_str()) {
            Some(Fault::Deny)
        } else if plan.throttle {
            Some(if n.is_multiple_of(2) {
                Fault::ServerError
            } else {
                Fault::Throttle
            })
        } else {
            None
        };
        if matches!(fault, Some(Fault::Deny)) {
            plan.denied.push(key);
        }
        if fault.is_some() {
            plan.injected.push((service.to_string(), seen.clone()));
        }
        (fault, delay)
    }
}

/// The service a signed request is for: the fourth field of its SigV4 credential scope
/// (`Credential=AKID/20250101/eu-west-1/s3/aws4_request`).
fn service_of(headers: &hyper::HeaderMap) -> String {
    let service = scope_field(headers, 3);
    if service.is_empty() {
        "s3".into()
    } else {
        service
    }
}

/// Field `n` of a signed request's SigV4 credential scope (2: region, 3: service).
fn scope_field(headers: &hyper::HeaderMap, n: usize) -> String {
    headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|scope| scope.split('/').nth(n))
        .unwrap_or_default()
        .to_string()
}

/// How the service a request is signed for shapes its errors (the service list,
/// `cattube_stages::aws`); the query protocol's for a signing name it does not have.
fn shape_of(signing: &str) -> ErrorShape {
    Service::ALL
        .iter()
        .find(|service| service.signing_name() == signing)
        .map_or(ErrorShape::QueryXml, |service| service.error_shape())
}

/// The error a service would answer, in its protocol's shape (`aws_errors`: byte for byte
/// as the service sends it).
fn fault_response(service: &str, fault: &Fault) -> Response<Full<Bytes>> {
    use super::aws_errors::AwsErrorReply;
    let message = "injected by the test proxy";
    let shape = shape_of(service);
    let (status, code) = match (shape, fault) {
        (ErrorShape::RestJson, Fault::Deny) => (403, "AccessDeniedException"),
        (_, Fault::Deny) => (403, "AccessDenied"),
        (ErrorShape::S3Xml, Fault::Throttle) => (503, "SlowDown"),
        (ErrorShape::S3Xml, Fault::ServerError) => (500, "InternalError"),
        (ErrorShape::RestJson, Fault::Throttle) => (429, "TooManyRequestsException"),
        (ErrorShape::RestJson, Fault::ServerError) => (500, "ServiceException"),
        (ErrorShape::QueryXml, Fault::Throttle) => (400, "Throttling"),
        (ErrorShape::QueryXml, Fault::ServerError) => (500, "InternalFailure"),
    };
    let reply = match shape {
        ErrorShape::S3Xml => AwsErrorReply::s3(status, code, message),
        ErrorShape::RestJson if service == "lambda" => AwsErrorReply::lambda(status, code, message),
        ErrorShape::RestJson => AwsErrorReply::mediaconvert(status, code, message),
        ErrorShape::QueryXml if service == "cloudfront" => {
            AwsErrorReply::cloudfront(status, code, message)
        }
        ErrorShape::QueryXml => AwsErrorReply::query(service, status, code, message),
    };
    reply.response()
}

/// What a proxy has answered, shared with whoever reads it while the proxy runs.
pub type RequestLog = Arc<Mutex<Vec<Seen>>>;

pub struct RecordingProxy {
    pub url: String,
    seen: RequestLog,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingProxy {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`). An upstream nobody listens on makes
    /// a tripwire: requests are recorded and answered 502.
    pub fn start(upstream: &str) -> RecordingProxy {
        RecordingProxy::new(upstream, Arc::new(FaultPlan::default()), Duration::ZERO)
    }

    /// Follows `faults` (shared with other proxies) and adds `latency` to every request.
    pub fn new(upstream: &str, faults: Arc<FaultPlan>, latency: Duration) -> RecordingProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let (upstream, log) = (upstream.trim_end_matches('/').to_string(), seen.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
                loop {
                    tokio::select! {
                        _ = &mut stop => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let (client, upstream, log, faults) =
                                (client.clone(), upstream.clone(), log.clone(), faults.clone());
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    forward(req, client.clone(), upstream.clone(), log.clone(), faults.clone(), latency)
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        RecordingProxy {
            url: format!("http://{addr}"),
            seen,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// Every request answered so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Seen> {
        let mut seen = self.seen.lock().unwrap().clone();
        seen.sort_by_key(|s| s.start);
        seen
    }

    pub fn writes(&self) -> Vec<Seen> {
        self.requests().into_iter().filter(Seen::is_write).collect()
    }

    pub fn reset(&self) {
        self.seen.lock().unwrap().clear();
    }

    /// The proxy's log, for a [`crate::support::Run`] to take its requests from.
    pub fn log(&self) -> RequestLog {
        self.seen.clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn forward(
    req: Request<Incoming>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream: String,
    log: Arc<Mutex<Vec<Seen>>>,
    faults: Arc<FaultPlan>,
    latency: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    let (mut parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let action = if parts.method == hyper::Method::POST {
        json_target(&parts.headers).unwrap_or_else(|| form_action(&body))
    } else {
        String::new()
    };
    let service = service_of(&parts.headers);
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        operation: operation(&service, &parts, &body),
        action,
        region: scope_field(&parts.headers, 2),
        start,
        end: start,
    };
    // Logged on arrival, so that a test can follow a run in flight; the end is stamped when
    // the answer has gone out.
    let index = {
        let mut log = log.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let finished = |log: &Mutex<Vec<Seen>>| {
        if let Some(entry) = log
            .lock()
            .unwrap()
            .get_mut(index)
            .filter(|e| e.start == start)
        {
            entry.end = Instant::now();
        }
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // The SDK numbers the attempts of one call: `amz-sdk-request: attempt=2; max=5`.
    let first_attempt = parts
        .headers
        .get("amz-sdk-request")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.contains("attempt=1;") || v.ends_with("attempt=1"));
    if let Some(reply) = faults.chosen_answer(&seen, &service, first_attempt) {
        finished(&log);
        return Ok(reply);
    }
    faults.pass_gates(&seen, first_attempt, false).await;
    let (fault, delay) = faults.decide(&seen, &service, first_attempt);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = fault {
        finished(&log);
        return Ok(fault_response(&service, &fault));
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    parts.uri = format!("{upstream}{path_and_query}")
        .parse()
        .expect("upstream uri");
    // The body is forwarded whole, so its length is known.
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(hyper::header::CONTENT_LENGTH, body.len().into());
    let response = match client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            parts.headers.remove(hyper::header::TRANSFER_ENCODING);
            Response::from_parts(parts, Full::new(body))
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Full::new(Bytes::from(format!("proxy: {e}"))))
            .unwrap(),
    };
    faults.pass_gates(&seen, first_attempt, true).await;
    finished(&log);
    Ok(response)
}

/// The number of sequential rounds in a trace: the longest chain of requests in which each
/// started only after the one before it had been answered (the critical path, counted in
/// round trips). Requests that overlap in time were in flight together: one round.
pub fn rounds(requests: &[Seen]) -> usize {
    let mut sorted: Vec<&Seen> = requests.iter().collect();
    sorted.sort_by_key(|s| s.start);
    // chain[i]: the longest chain that ends with request i.
    let mut chain = vec![0usize; sorted.len()];
    for i in 0..sorted.len() {
        chain[i] = 1
            + (0..i)
                .filter(|&j| sorted[j].end <= sorted[i].start)
                .map(|j| chain[j])
                .max()
                .unwrap_or(0);
    }
    chain.into_iter().max().unwrap_or(0)
}

/// The key of the `nth` write of an operation, as [`FaultPlan::operations`] lists it.
pub fn operation_key(operation: &str, nth: usize) -> String {
    format!("{operation} #{nth}")
}

/// See [`Seen::operation`].
fn operation(service: &str, parts: &hyper::http::request::Parts, body: &[u8]) -> String {
    // CloudFront names a distribution or OAC by the id it generated at create time.
    let mut after_kind = false;
    let path: Vec<&str> = parts
        .uri
        .path()
        .split('/')
        .map(|segment| {
            let generated = service == "cloudfront" && after_kind && !segment.is_empty();
            after_kind = matches!(segment, "distribution" | "origin-access-control");
            if generated {
                "{id}"
            } else {
                segment
            }
        })
        .collect();
    // Values that name an operation rather than a resource instance are kept.
    let mut query: Vec<String> = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k @ ("Operation" | "x-id"), v)) => format!("{k}={v}"),
            Some((k, _)) => k.to_string(),
            None => pair.to_string(),
        })
        .collect();
    query.sort();
    let mut out = format!("{service} {} {}", parts.method, path.join("/"));
    if !query.is_empty() {
        out.push_str(&format!("?{}", query.join("&")));
    }
    // JSON-protocol services (EventBridge, the tagging API) name the operation in a header.
    if let Some(target) = json_target(&parts.headers) {
        out.push_str(&format!(" {target}"));
    }
    // Lambda's two statements on one function (the S3 and EventBridge invoke permissions)
    // share AddPermission's path; the statement id tells them apart.
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(sid) = json.get("StatementId").and_then(|v| v.as_str()) {
            out.push_str(&format!(" StatementId={sid}"));
        }
    }
    let action = if parts.method == hyper::Method::POST {
        form_action(body)
    } else {
        String::new()
    };
    if !action.is_empty() {
        let form = String::from_utf8_lossy(body);
        let names: Vec<&str> = form
            .split('&')
            .filter(|p| {
                ["RoleName=", "PolicyName=", "PolicyArn="]
                    .iter()
                    .any(|k| p.starts_with(k))
            })
            .collect();
        out.push_str(&format!(" {action} {}", names.join("&")));
    }
    out
}

/// The action of a JSON-protocol request (the tagging API's): its `X-Amz-Target` header's
/// operation, `ResourceGroupsTaggingAPI_20170126.GetResources` → `GetResources`.
fn json_target(headers: &hyper::HeaderMap) -> Option<String> {
    let target = headers.get("x-amz-target")?.to_str().ok()?;
    Some(target.rsplit('.').next()?.to_string())
}

fn form_action(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}
