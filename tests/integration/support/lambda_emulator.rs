//! The AWS Lambda Runtime API, as much of it as a function uses: it hands out
//! queued events on `GET /2018-06-01/runtime/invocation/next` (long poll) and
//! collects what the function posts to `.../{id}/response` and `.../{id}/error`.
//! It runs on its own Tokio runtime, so the tests stay synchronous.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

use super::function::{Process, READY_TIMEOUT};

/// What the function posted for one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `response`, `error`, or `init/error`.
    pub kind: String,
    pub body: Value,
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    outcomes: std_mpsc::Sender<(String, Outcome)>,
    /// `next` long polls open now, and the most seen at once: Lambda
    /// Managed Instances' concurrency shows as that many polling loops.
    polling: AtomicUsize,
    most_polling: AtomicUsize,
}

pub struct LambdaEmulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<(String, Value)>,
    outcomes: std_mpsc::Receiver<(String, Outcome)>,
    /// Outcomes that arrived while another one was awaited.
    received: HashMap<String, Outcome>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LambdaEmulator {
    pub fn start() -> LambdaEmulator {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a Tokio runtime for the emulator");
        let (queue, events) = mpsc::unbounded_channel();
        let (outcome_sender, outcomes) = std_mpsc::channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events),
            outcomes: outcome_sender,
            polling: AtomicUsize::new(0),
            most_polling: AtomicUsize::new(0),
        });
        let kept = shared.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the Runtime API emulator");
        let addr = listener.local_addr().expect("emulator address");
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(shared.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        LambdaEmulator {
            addr,
            shared: kept,
            queue,
            outcomes,
            received: HashMap::new(),
            runtime: Some(runtime),
        }
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// The environment Lambda gives a function, pointing at this emulator.
    pub fn function_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_LAMBDA_RUNTIME_API".into(), self.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), "gatehouse-test".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ]
    }

    /// The most `next` long polls the function had open at once.
    pub fn most_concurrent_polls(&self) -> usize {
        self.shared.most_polling.load(Ordering::SeqCst)
    }

    /// Queues `event` under a fresh request id, which it returns.
    pub fn invoke(&self, event: Value) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.queue
            .send((request_id.clone(), event))
            .expect("the emulator is running");
        request_id
    }

    /// Waits for what the function posted for `request_id`, failing early
    /// if `function` exits.
    #[track_caller]
    pub fn outcome(&mut self, request_id: &str, function: &mut Process) -> Outcome {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(outcome) = self.received.remove(request_id) {
                return outcome;
            }
            match self.outcomes.recv_timeout(Duration::from_millis(100)) {
                Ok((id, outcome)) => {
                    self.received.insert(id, outcome);
                }
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    function.assert_running();
                    assert!(
                        Instant::now() < deadline,
                        "no Runtime API response for {request_id} within {READY_TIMEOUT:?}\n{}",
                        function.report()
                    );
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => panic!("the emulator stopped"),
            }
        }
    }

    /// The posted response for `request_id`; an `error` post fails the test.
    #[track_caller]
    pub fn response(&mut self, request_id: &str, function: &mut Process) -> Value {
        let outcome = self.outcome(request_id, function);
        assert_eq!(
            outcome.kind, "response",
            "the function reported an error for {request_id}: {}",
            outcome.body
        );
        outcome.body
    }
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let route = path.strip_prefix("/2018-06-01/runtime/").unwrap_or("");
    if request.method() == Method::GET && route == "invocation/next" {
        // Long poll, as the real API does, until an event is queued.
        let now = shared.polling.fetch_add(1, Ordering::SeqCst) + 1;
        shared.most_polling.fetch_max(now, Ordering::SeqCst);
        let next = shared.events.lock().await.recv().await;
        shared.polling.fetch_sub(1, Ordering::SeqCst);
        let Some((request_id, event)) = next else {
            return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, Bytes::new()));
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            + 30_000;
        let deadline = u64::try_from(deadline).unwrap_or(u64::MAX);
        let mut response = reply(StatusCode::OK, Bytes::from(event.to_string()));
        let headers = response.headers_mut();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("lambda-runtime-aws-request-id", request_id.parse().unwrap());
        headers.insert("lambda-runtime-deadline-ms", deadline.into());
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:gatehouse-test"
                .parse()
                .unwrap(),
        );
        return Ok(response);
    }
    if request.method() == Method::POST {
        let (id, kind) = if route == "init/error" {
            ("init".to_owned(), "init/error")
        } else if let Some(rest) = route.strip_prefix("invocation/") {
            match rest.rsplit_once('/') {
                Some((id, kind @ ("response" | "error"))) => (id.to_owned(), kind),
                _ => return Ok(reply(StatusCode::NOT_FOUND, Bytes::new())),
            }
        } else {
            return Ok(reply(StatusCode::NOT_FOUND, Bytes::new()));
        };
        let body = request
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        let _ = shared.outcomes.send((
            id,
            Outcome {
                kind: kind.to_owned(),
                body,
            },
        ));
        return Ok(reply(
            StatusCode::ACCEPTED,
            Bytes::from_static(b"{\"status\":\"OK\"}"),
        ));
    }
    Ok(reply(StatusCode::NOT_FOUND, Bytes::new()))
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}
