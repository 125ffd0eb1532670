//! The process-wide HTTP(S) client for calls to other services: the JWKS
//! endpoint now, auth servers and user services later.
//!
//! One client per process, because a TLS configuration (root store parse)
//! and a connection pool are worth reusing across the many requests a
//! Vercel process serves; it is built on first use, so a function that
//! never calls out never pays for it. Every call has a deadline covering
//! connect, TLS, headers and body, and bodies are capped, so a slow or
//! hostile upstream can neither hold a request nor exhaust memory. Failures
//! are classified (timeout, connect, TLS, body too large, bad URL) because
//! each one needs a different fix, and their messages are safe to log: the
//! URL is shown without credentials or query string.

use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, DATE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// The largest response body accepted. A JWKS is a few KiB; anything near
/// this is not what we asked for.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Idle pooled connections older than this are not reused. Upstreams, load
/// balancers and NATs drop idle sockets (and a frozen Lambda never sees the
/// FIN), so a short limit avoids sending a request into a dead socket.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A cheap-to-clone handle on an HTTP(S) client. Clones share one
/// connection pool and one TLS configuration.
#[derive(Clone, Default)]
pub struct Outbound {
    client: Arc<OnceLock<Result<HttpClient, OutboundError>>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

/// A response whose body has been read in full (within [`MAX_BODY_BYTES`]).
#[derive(Clone)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl std::fmt::Debug for OutboundResponse {
    // The body may carry tokens (auth servers answer with them): length only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl OutboundResponse {
    pub fn content_type(&self) -> Option<&str> {
        self.header(CONTENT_TYPE)
    }

    /// All `Cache-Control` lines joined with `, `, as RFC 9110 allows.
    pub fn cache_control(&self) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    pub fn date(&self) -> Option<&str> {
        self.header(DATE)
    }

    fn header(&self, name: http::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// Why an outbound call failed. `target` is `scheme://host[:port]/path`,
/// without user info or query, so every message is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("the URL is not usable ({detail}); give an absolute http:// or https:// URL")]
    InvalidUrl { detail: &'static str },
    #[error("{target} did not answer within {}", seconds(*timeout))]
    Timeout { target: String, timeout: Duration },
    #[error("could not connect to {target}: {detail}")]
    Connect { target: String, detail: String },
    #[error("TLS with {target} failed: {detail}")]
    Tls { target: String, detail: String },
    #[error("the response from {target} is over the {limit}-byte limit")]
    BodyTooLarge { target: String, limit: usize },
    #[error("the HTTP exchange with {target} failed: {detail}")]
    Http { target: String, detail: String },
}

impl Outbound {
    /// A new client with its own pool. Most code wants [`Outbound::shared`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide client.
    pub fn shared() -> Self {
        static SHARED: OnceLock<Outbound> = OnceLock::new();
        SHARED.get_or_init(Outbound::new).clone()
    }

    /// `GET url`, reading the whole body, all within `timeout`.
    pub async fn get(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        self.get_with_headers(url, HeaderMap::new(), timeout).await
    }

    /// `GET url` with extra request headers (a forwarded cookie, an API
    /// key), reading the whole body, all within `timeout`. The headers are
    /// never logged: they carry credentials.
    pub async fn get_with_headers(
        &self,
        url: &str,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        self.send(http::Method::GET, url, headers, timeout).await
    }

    /// A bodiless request with any method (`OPTIONS` for a CORS preflight,
    /// as `gatehouse probe` sends), read as [`Outbound::get`] reads.
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        let uri = parse_url(url)?;
        let target = display_target(&uri);
        let client = self.client()?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(Empty::new())
            .map_err(|_| OutboundError::InvalidUrl {
                detail: "it cannot be put in a request line",
            })?;
        request.headers_mut().extend(headers);
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|err| classify(&err, &target))?;
            let (parts, body) = response.into_parts();
            let body = read_capped(body, &parts.headers, &target).await?;
            Ok(OutboundResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_elapsed) => Err(OutboundError::Timeout { target, timeout }),
        }
    }

    fn client(&self) -> Result<&HttpClient, OutboundError> {
        self.client
            .get_or_init(build_client)
            .as_ref()
            .map_err(Clone::clone)
    }
}

const USER_AGENT_VALUE: &str = concat!("gatehouse/", env!("CARGO_PKG_VERSION"));

fn build_client() -> Result<HttpClient, OutboundError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|err| OutboundError::Tls {
            target: "(any)".to_owned(),
            detail: format!("the TLS configuration could not be built: {err}"),
        })?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(8)
        .build(connector))
}

fn parse_url(url: &str) -> Result<Uri, OutboundError> {
    let uri: Uri = url.parse().map_err(|_| OutboundError::InvalidUrl {
        detail: "it does not parse as a URL",
    })?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => {
            return Err(OutboundError::InvalidUrl {
                detail: "the scheme is not http or https",
            });
        }
        None => {
            return Err(OutboundError::InvalidUrl {
                detail: "it has no scheme",
            });
        }
    }
    let authority = uri.authority().ok_or(OutboundError::InvalidUrl {
        detail: "it has no host",
    })?;
    if authority.as_str().contains('@') {
        return Err(OutboundError::InvalidUrl {
            detail: "credentials in the URL are not supported",
        });
    }
    if authority.host().is_empty() {
        return Err(OutboundError::InvalidUrl {
            detail: "it has no host",
        });
    }
    Ok(uri)
}

/// `scheme://host[:port]/path` of a URL given as text, without user info,
/// query or fragment: what a message may show. An unparsable URL shows as
/// its part before any `?` or `#`.
pub fn display_url(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(uri) if uri.authority().is_some() => display_target(&uri),
        _ => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// `scheme://host[:port]/path`: what a log line may show of a URL.
fn display_target(uri: &Uri) -> String {
    let host = uri
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or_default())
        .unwrap_or_default();
    format!(
        "{}://{host}{}",
        uri.scheme_str().unwrap_or("http"),
        uri.path()
    )
}

async fn read_capped(
    mut body: hyper::body::Incoming,
    headers: &HeaderMap,
    target: &str,
) -> Result<Bytes, OutboundError> {
    let too_large = || OutboundError::BodyTooLarge {
        target: target.to_owned(),
        limit: MAX_BODY_BYTES,
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| OutboundError::Http {
            target: target.to_owned(),
            detail: format!("reading the body: {}", chain_text(&err)),
        })?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

/// Sorts a client error into the class whose fix it needs.
fn classify(err: &hyper_util::client::legacy::Error, target: &str) -> OutboundError {
    let errors = chain(err);
    if let Some(tls) = errors
        .iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
    {
        return OutboundError::Tls {
            target: target.to_owned(),
            detail: tls.to_string(),
        };
    }
    if err.is_connect() {
        // hyper-rustls reports a failed handshake as an `io::Error` wrapping
        // the TLS error; a failed TCP connect or DNS lookup arrives as the
        // HTTP connector's own error type instead.
        let tls_stage = target.starts_with("https:")
            && StdError::source(err).is_some_and(|source| source.is::<std::io::Error>());
        let detail = connect_detail(&errors);
        return if tls_stage {
            OutboundError::Tls {
                target: target.to_owned(),
                detail,
            }
        } else {
            OutboundError::Connect {
                target: target.to_owned(),
                detail,
            }
        };
    }
    OutboundError::Http {
        target: target.to_owned(),
        detail: chain_text(err),
    }
}

fn connect_detail(errors: &[&(dyn StdError + 'static)]) -> String {
    let kind = errors
        .iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    match kind {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            "connection refused: nothing is listening on that host and port".to_owned()
        }
        // Skip the client's own "client error (Connect)" wrapper.
        _ => match errors.get(1) {
            Some(cause) => chain_text(*cause),
            None => "unknown error".to_owned(),
        },
    }
}

/// The error and its causes, outermost first. `io::Error::source` skips the
/// error it wraps (it returns the inner error's source), so custom I/O errors
/// are descended through `get_ref` instead.
fn chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut next = Some(err);
    while let Some(current) = next {
        out.push(current);
        if out.len() > 16 {
            break;
        }
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
    }
    out
}

/// The messages of an error chain joined by `: `, repeated ones dropped.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for error in chain(err) {
        let text = error.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// A tiny real HTTP server on loopback for tests of outbound callers: counts
/// requests and answers with a status, headers, body and delay that the
/// test can change between requests.
#[cfg(test)]
pub(crate) mod test_server {
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use bytes::Bytes;
    use http::{HeaderMap, Response, StatusCode, Uri};
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;

    #[derive(Clone, Debug)]
    pub(crate) struct Reply {
        pub status: StatusCode,
        pub headers: Vec<(&'static str, String)>,
        pub body: Bytes,
        pub delay: Duration,
    }

    impl Reply {
        pub(crate) fn json(body: impl Into<Bytes>) -> Self {
            Reply {
                status: StatusCode::OK,
                headers: vec![("content-type", "application/json".to_owned())],
                body: body.into(),
                delay: Duration::ZERO,
            }
        }

        pub(crate) fn status(mut self, status: u16) -> Self {
            self.status = StatusCode::from_u16(status).unwrap();
            self
        }

        pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
            self.headers.retain(|(existing, _)| *existing != name);
            self.headers.push((name, value.to_owned()));
            self
        }

        pub(crate) fn delay(mut self, delay: Duration) -> Self {
            self.delay = delay;
            self
        }
    }

    #[derive(Debug)]
    pub(crate) struct TestServer {
        pub addr: SocketAddr,
        requests: Arc<AtomicUsize>,
        reply: Arc<Mutex<Reply>>,
        last_request: Arc<Mutex<Option<(Uri, HeaderMap)>>>,
        task: JoinHandle<()>,
    }

    impl TestServer {
        pub(crate) async fn start(reply: Reply) -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let requests = Arc::new(AtomicUsize::new(0));
            let reply = Arc::new(Mutex::new(reply));
            let last_request = Arc::new(Mutex::new(None));
            let task = tokio::spawn({
                let requests = requests.clone();
                let reply = reply.clone();
                let last_request = last_request.clone();
                async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            return;
                        };
                        let requests = requests.clone();
                        let reply = reply.clone();
                        let last_request = last_request.clone();
                        tokio::spawn(async move {
                            let service = service_fn(move |request: http::Request<_>| {
                                *last_request.lock().unwrap() =
                                    Some((request.uri().clone(), request.headers().clone()));
                                requests.fetch_add(1, Ordering::SeqCst);
                                let reply = reply.lock().unwrap().clone();
                                async move {
                                    tokio::time::sleep(reply.delay).await;
                                    let mut response = Response::new(Full::new(reply.body));
                                    *response.status_mut() = reply.status;
                                    for (name, value) in reply.headers {
                                        response.headers_mut().append(name, value.parse().unwrap());
                                    }
                                    Ok::<_, Infallible>(response)
                                }
                            });
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            });
            TestServer {
                addr,
                requests,
                reply,
                last_request,
                task,
            }
        }

        /// The URI and headers of the latest request (to check what a
        /// caller forwards).
        pub(crate) fn last_request(&self) -> Option<(Uri, HeaderMap)> {
            self.last_request.lock().unwrap().clone()
        }

        pub(crate) fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        pub(crate) fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }

        pub(crate) fn set_reply(&self, reply: Reply) {
            *self.reply.lock().unwrap() = reply;
        }
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    /// A loopback address where nothing listens (bound, then released).
    pub(crate) async fn refused_addr() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, TestServer, refused_addr};
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn get_returns_status_headers_and_body() {
        let server = TestServer::start(
            Reply::json(r#"{"keys":[]}"#)
                .header("cache-control", "public, max-age=300")
                .header("date", "Tue, 03 Feb 2026 10:00:00 GMT"),
        )
        .await;
        let outbound = Outbound::new();
        let response = outbound
            .get(&server.url("/jwks"), SECOND * 5)
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.body.as_ref(), br#"{"keys":[]}"#);
        assert_eq!(response.content_type(), Some("application/json"));
        assert_eq!(
            response.cache_control().as_deref(),
            Some("public, max-age=300")
        );
        assert_eq!(response.date(), Some("Tue, 03 Feb 2026 10:00:00 GMT"));
        // Clones share the client; a second call reuses the pooled connection.
        let again = outbound
            .clone()
            .get(&server.url("/jwks"), SECOND * 5)
            .await
            .unwrap();
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(server.requests(), 2);
        let debug = format!("{response:?}");
        assert!(
            debug.contains("body_len: 11") && !debug.contains("keys"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let outbound = Outbound::new();

        let refused = refused_addr().await;
        let err = outbound
            .get(&format!("http://{refused}/jwks?secret=1"), SECOND * 5)
            .await
            .unwrap_err();
        assert!(matches!(err, OutboundError::Connect { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "could not connect to http://{refused}/jwks: connection refused: nothing is listening on that host and port"
            )
        );

        let slow = TestServer::start(Reply::json("{}").delay(SECOND * 10)).await;
        let err = outbound
            .get(&slow.url("/"), Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, OutboundError::Timeout { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("did not answer within 0.2 s"),
            "{err}"
        );

        let big = TestServer::start(Reply::json(vec![b' '; MAX_BODY_BYTES + 1])).await;
        let err = outbound.get(&big.url("/"), SECOND * 5).await.unwrap_err();
        assert!(matches!(err, OutboundError::BodyTooLarge { .. }), "{err:?}");

        // TLS spoken to a plain HTTP server: the handshake fails.
        let plain = TestServer::start(Reply::json("{}")).await;
        let err = outbound
            .get(&format!("https://{}/", plain.addr), SECOND * 5)
            .await
            .unwrap_err();
        assert!(matches!(err, OutboundError::Tls { .. }), "{err:?}");

        for (url, detail) in [
            ("ftp://example.com/jwks", "the scheme is not http or https"),
            ("/api/auth/jwks", "it has no scheme"),
            (
                "https://user:pw@example.com/",
                "credentials in the URL are not supported",
            ),
            ("not a url", "it does not parse as a URL"),
        ] {
            let err = outbound.get(url, SECOND).await.unwrap_err();
            assert_eq!(err, OutboundError::InvalidUrl { detail }, "{url}");
            assert!(!err.to_string().contains("pw"));
        }
    }

    #[tokio::test]
    async fn shared_is_one_client() {
        let a = Outbound::shared();
        let b = Outbound::shared();
        assert!(Arc::ptr_eq(&a.client, &b.client));
        assert!(!Arc::ptr_eq(&a.client, &Outbound::new().client));
    }
}
