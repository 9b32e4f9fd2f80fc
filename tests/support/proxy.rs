//! A recording HTTP proxy between cattube and the emulator: it forwards every request and
//! remembers its method, path, operation and when it started and ended, so tests can count
//! requests, writes and sequential rounds. It can add a fixed latency to every request (as
//! real AWS has), which is what the benchmark (`examples/bench.rs`) measures against.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

pub struct RecordingProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingProxy {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`). An upstream nobody listens on makes
    /// a tripwire: requests are recorded and answered 502.
    pub fn start(upstream: &str) -> RecordingProxy {
        RecordingProxy::with_latency(upstream, Duration::ZERO)
    }

    /// Like [`RecordingProxy::start`], and every request waits `latency` before it is
    /// forwarded: a stand-in for the round trip to AWS.
    pub fn with_latency(upstream: &str, latency: Duration) -> RecordingProxy {
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
                            let (client, upstream, log) = (client.clone(), upstream.clone(), log.clone());
                            tokio::spawn(async move {
                                let service = hyper::service::service_fn(move |req| {
                                    forward(req, client.clone(), upstream.clone(), log.clone(), latency)
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
        form_action(&body)
    } else {
        String::new()
    };
    let mut seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        action,
        start,
        end: start,
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
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
    seen.end = Instant::now();
    log.lock().unwrap().push(seen);
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

fn form_action(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or_default()
        .to_string()
}
