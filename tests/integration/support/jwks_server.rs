//! A JWKS endpoint on a real loopback socket (hyper 1 on its own thread), as
//! an issuer's `/.well-known/jwks.json` would be: its answer (status, body,
//! `Content-Type`, `Cache-Control`, a delay) can be changed while a function
//! uses it, and it counts every HTTP request it answers, so the tests see
//! exactly how often a function fetched the keys.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The path the server is reached at (it answers on any path).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// What the endpoint answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    /// A `Date` header instead of the server's clock (clock-skew tests).
    pub date: Option<String>,
    pub body: String,
    /// Waited before answering, so concurrent fetches would overlap.
    pub delay: Duration,
}

impl Reply {
    /// 200 `application/json` `{"keys": [...]}`.
    pub fn jwks(keys: &[Value]) -> Reply {
        Reply {
            status: 200,
            content_type: Some("application/json".to_owned()),
            cache_control: None,
            date: None,
            body: json!({ "keys": keys }).to_string(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with a small JSON error body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            content_type: Some("application/json".to_owned()),
            cache_control: None,
            date: None,
            body: json!({ "error": format!("status {status}") }).to_string(),
            delay: Duration::ZERO,
        }
    }

    /// 200 with a frontend's HTML page, what a JWKS URL pointing at the
    /// wrong app returns.
    pub fn html() -> Reply {
        Reply {
            status: 200,
            content_type: Some("text/html; charset=utf-8".to_owned()),
            cache_control: None,
            date: None,
            body: "<!doctype html><html><head><title>My App</title></head><body><div id=\"root\"></div></body></html>".to_owned(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn with_date(mut self, value: &str) -> Reply {
        self.date = Some(value.to_owned());
        self
    }

    pub fn with_cache_control(mut self, value: &str) -> Reply {
        self.cache_control = Some(value.to_owned());
        self
    }
}

struct Shared {
    reply: Mutex<Reply>,
    requests: AtomicUsize,
    /// Requests being answered now, and the most at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

/// The running server; stopped on drop.
pub struct JwksServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl JwksServer {
    pub fn start(reply: Reply) -> JwksServer {
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind the JWKS server");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the JWKS server's address");
        let shared = Arc::new(Shared {
            reply: Mutex::new(reply),
            requests: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a Tokio runtime for the JWKS server");
            runtime.block_on(serve(listener, serving, stopped));
        });
        JwksServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/.well-known/jwks.json`.
    pub fn url(&self) -> String {
        format!("http://{}{JWKS_PATH}", self.addr)
    }

    /// Changes the answer from the next request on.
    pub fn set(&self, reply: Reply) {
        *self.shared.reply.lock().unwrap() = reply;
    }

    /// The most requests this server was answering at once.
    pub fn most_concurrent(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// HTTP requests answered (or being answered) so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(listener: StdTcpListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a Tokio listener");
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_request: hyper::Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move {
                    shared.requests.fetch_add(1, Ordering::SeqCst);
                    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
                    let reply = shared.reply.lock().unwrap().clone();
                    if !reply.delay.is_zero() {
                        tokio::time::sleep(reply.delay).await;
                    }
                    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, Infallible>(response(&reply))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn response(reply: &Reply) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(reply.status);
    if let Some(content_type) = &reply.content_type {
        builder = builder.header("content-type", content_type);
    }
    if let Some(cache_control) = &reply.cache_control {
        builder = builder.header("cache-control", cache_control);
    }
    if let Some(date) = &reply.date {
        builder = builder.header("date", date);
    }
    builder
        .body(Full::new(Bytes::from(reply.body.clone())))
        .expect("a valid response")
}

/// A URL on a loopback port nothing listens on: connections are refused.
pub fn refused_url() -> String {
    let port = StdTcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    format!("http://127.0.0.1:{port}{JWKS_PATH}")
}
