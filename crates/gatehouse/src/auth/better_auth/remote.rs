//! Validating a Better Auth session by asking the auth server, for
//! deployments that cannot reach the auth database (`AUTH_SERVER_URL`).
//!
//! The credential is forwarded the way it arrived (cookie or bearer) to
//! `GET <AUTH_SERVER_URL>/api/auth/get-session`, and the answer is kept in a
//! per-process cache, because a network round trip per request would double
//! the latency of every call and turn our traffic into the auth server's load:
//!
//! - **Keyed by a hash.** Entries are keyed by the SHA-256 of the credential,
//!   so the cache holds no usable token.
//! - **Never past the session.** A session is served from the cache for at
//!   most `cache_ttl`, and never once its `expiresAt` has passed (checked at
//!   read time against the request time). A revoked session therefore stays
//!   accepted for at most `cache_ttl`: that is the price of the cache.
//! - **Short negative entries.** "No session" is remembered for
//!   `negative_ttl`, so a client retrying with a dead cookie does not hammer
//!   the auth server, while a fresh sign-in is seen quickly.
//! - **Failures are not cached.** An outage must end as soon as the server
//!   is back.
//! - **One call per credential at a time.** Concurrent requests with the
//!   same credential (a page firing ten API calls) share one call.
//! - **Bounded.** A flood of random tokens cannot grow the cache past
//!   [`MAX_ENTRIES`], nor push cached users out: the runtime's one bounded
//!   cache (`bounded_cache.rs`) evicts "no session" answers first.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::bounded_cache::{BoundedCache, Lifetime};
use crate::outbound::{Outbound, OutboundResponse, display_url};
use crate::single_flight::{Flights, lock};

/// Default time a valid session is served from the cache.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Default time "no session" is served from the cache.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Default deadline for one call to the auth server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// The most entries the cache holds: a few MiB at worst.
pub const MAX_ENTRIES: usize = 10_000;
/// get-session calls one process makes at once. Credentials nobody has
/// seen (a flood of forgeries, when no secret lets us refuse them first)
/// queue for a slot for at most the call timeout, then get 503: the auth
/// server's rate limit is not ours to spend, and cached users never wait.
pub const MAX_CONCURRENT_CALLS: usize = 16;

/// The Better Auth endpoint that answers with the session of a credential.
const GET_SESSION_PATH: &str = "/api/auth/get-session";

#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// Origin (+ optional base path) of the auth server, without trailing slash.
    pub base_url: String,
    /// How long a valid session is served from the cache (bounds how long a
    /// revoked session is still accepted).
    pub cache_ttl: Duration,
    /// How long "no session" is served from the cache.
    pub negative_ttl: Duration,
    /// Deadline for one call: connect, TLS, headers and body.
    pub timeout: Duration,
}

impl RemoteSettings {
    /// Settings with the default TTLs and timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        RemoteSettings {
            base_url: base_url.into(),
            cache_ttl: DEFAULT_CACHE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// How the credential arrived; it is forwarded the same way.
pub enum RemoteCredential<'a> {
    Cookie { name: &'a str, value: &'a str },
    Bearer(&'a str),
}

impl fmt::Debug for RemoteCredential<'_> {
    // The value is a live credential: a fingerprint only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteCredential::Cookie { name, value } => f
                .debug_struct("Cookie")
                .field("name", name)
                .field("fingerprint", &crate::secret::fingerprint(value.as_bytes()))
                .finish(),
            RemoteCredential::Bearer(token) => f
                .debug_tuple("Bearer")
                .field(&crate::secret::fingerprint(token.as_bytes()))
                .finish(),
        }
    }
}

/// A session the auth server vouched for. Holds no token.
#[derive(Debug, Clone)]
pub struct RemoteSession {
    pub user_id: String,
    pub session_id: Option<String>,
    /// Unix seconds, from `session.expiresAt`.
    pub expires_at: i64,
    /// Unix seconds, from `session.createdAt`.
    pub created_at: Option<i64>,
    /// The `user` object as the auth server sent it.
    pub user: Map<String, Value>,
    /// Served from the process cache rather than a call.
    pub cached: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The auth server answered, and there is no valid session for this
    /// credential (null body, or 401/403).
    #[error("the auth server has no valid session for this credential")]
    NoSession,
    /// Timeout, connection refused, 5xx, 429, non-JSON or unexpected JSON:
    /// our dependency failed, never the user's fault. `detail` is safe to
    /// log (no credential).
    #[error("the auth server could not validate the session: {detail}")]
    Unavailable { detail: String },
}

/// SHA-256 of the credential's kind, name and value.
type CacheKey = [u8; 32];

type Outcome = Result<RemoteSession, RemoteError>;

/// A call in progress that later callers with the same credential wait on.

#[derive(Clone)]
struct Entry {
    /// `None` for "no session".
    session: Option<RemoteSession>,
    /// Monotonic, so a caller's `now` cannot stretch the TTL.
    fresh_until: Instant,
}

impl Entry {
    /// Servable at this instant and request time: within its TTL, and its
    /// session (if any) not expired.
    fn is_live(&self, instant: Instant, now: i64) -> bool {
        instant < self.fresh_until
            && self
                .session
                .as_ref()
                .is_none_or(|session| session.expires_at > now)
    }
}

/// Process-wide: holds the cache, so build it once per process.
pub struct RemoteSessions {
    settings: RemoteSettings,
    outbound: Outbound,
    /// `<base_url>/api/auth/get-session`.
    endpoint: String,
    /// The endpoint as messages may show it (no credentials, no query).
    target: String,
    cache: Mutex<BoundedCache<CacheKey, Entry>>,
    flights: Flights<CacheKey, Outcome>,
    calls: tokio::sync::Semaphore,
}

impl fmt::Debug for RemoteSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSessions")
            .field("settings", &self.settings)
            .field("target", &self.target)
            .field("cached_entries", &lock(&self.cache).len())
            .field("in_flight", &self.flights.len())
            .finish_non_exhaustive()
    }
}

impl RemoteSessions {
    pub fn new(settings: RemoteSettings, outbound: Outbound) -> Self {
        let endpoint = format!(
            "{}{GET_SESSION_PATH}",
            settings.base_url.trim_end_matches('/')
        );
        let target = display_url(&endpoint);
        RemoteSessions {
            settings,
            outbound,
            endpoint,
            target,
            cache: Mutex::new(BoundedCache::new(MAX_ENTRIES)),
            flights: Flights::default(),
            calls: tokio::sync::Semaphore::new(MAX_CONCURRENT_CALLS),
        }
    }

    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }

    /// `now` in unix seconds (callers pass the request time).
    pub async fn validate(
        &self,
        credential: RemoteCredential<'_>,
        now: i64,
    ) -> Result<RemoteSession, RemoteError> {
        let key = cache_key(&credential);
        if let Some(hit) = self.lookup(&key, now) {
            return hit;
        }
        self.flights
            .run(key, || async {
                // A flight that finished between our lookup and joining
                // has filled the cache: use that rather than call again.
                if let Some(hit) = self.lookup(&key, now) {
                    return hit;
                }
                let outcome = self.call(&credential).await;
                self.store(key, &outcome, now);
                outcome
            })
            .await
    }

    fn lookup(&self, key: &CacheKey, now: i64) -> Option<Outcome> {
        let cache = lock(&self.cache);
        let entry = cache.get(key)?;
        if !entry.is_live(Instant::now(), now) {
            return None;
        }
        Some(match &entry.session {
            Some(session) => Ok(RemoteSession {
                cached: true,
                ..session.clone()
            }),
            None => Err(RemoteError::NoSession),
        })
    }

    fn store(&self, key: CacheKey, outcome: &Outcome, now: i64) {
        let (session, ttl) = match outcome {
            Ok(session) => {
                // An answer already expired by our clock (clock skew) is
                // passed on, not kept.
                let left = u64::try_from(session.expires_at.saturating_sub(now)).unwrap_or(0);
                let ttl = self.settings.cache_ttl.min(Duration::from_secs(left));
                (Some(session.clone()), ttl)
            }
            Err(RemoteError::NoSession) => (None, self.settings.negative_ttl),
            Err(RemoteError::Unavailable { .. }) => return,
        };
        if ttl.is_zero() {
            return;
        }
        let instant = Instant::now();
        let Some(fresh_until) = instant.checked_add(ttl) else {
            return;
        };
        let lifetime = Lifetime {
            dead_after: Some(fresh_until.into_std()),
            negative: session.is_none(),
        };
        lock(&self.cache).insert(
            key,
            Entry {
                session,
                fresh_until,
            },
            lifetime,
            instant.into_std(),
        );
    }

    async fn call(&self, credential: &RemoteCredential<'_>) -> Outcome {
        let headers = forwarded_headers(credential)?;
        // One deadline for the wait and the call: a request never waits
        // longer than AUTH_SERVER_TIMEOUT_SECS in all.
        let deadline = Instant::now() + self.settings.timeout;
        let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, self.calls.acquire()).await else {
            return Err(RemoteError::Unavailable {
                detail: format!(
                    "this instance already has {MAX_CONCURRENT_CALLS} get-session calls in flight to {} (a flood of unknown session tokens?)",
                    self.target
                ),
            });
        };
        let response = self
            .outbound
            .get_with_headers(
                &self.endpoint,
                headers,
                deadline.saturating_duration_since(Instant::now()),
            )
            .await
            .map_err(|err| RemoteError::Unavailable {
                detail: err.to_string(),
            })?;
        interpret(&response, &self.target)
    }
}

/// Length-prefixed, so that no two different credentials hash the same input.
fn cache_key(credential: &RemoteCredential<'_>) -> CacheKey {
    let mut hasher = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    match credential {
        RemoteCredential::Cookie { name, value } => {
            part(b"cookie");
            part(name.as_bytes());
            part(value.as_bytes());
        }
        RemoteCredential::Bearer(token) => {
            part(b"bearer");
            part(b"");
            part(token.as_bytes());
        }
    }
    hasher.finalize().into()
}

fn forwarded_headers(credential: &RemoteCredential<'_>) -> Result<HeaderMap, RemoteError> {
    let (name, value, what) = match credential {
        RemoteCredential::Cookie { name, value } => {
            (COOKIE, format!("{name}={value}"), "Cookie header")
        }
        RemoteCredential::Bearer(token) => (
            AUTHORIZATION,
            format!("Bearer {token}"),
            "Authorization header",
        ),
    };
    // The credential came from a request header, so this fails only if the
    // caller handed over something it did not read from one.
    let mut value = HeaderValue::from_str(&value).map_err(|_| RemoteError::Unavailable {
        detail: format!(
            "the credential could not be forwarded: it contains bytes that an HTTP {what} cannot carry"
        ),
    })?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(name, value);
    Ok(headers)
}

/// What the auth server's answer means.
fn interpret(response: &OutboundResponse, target: &str) -> Outcome {
    let status = response.status.as_u16();
    let unavailable = |detail: String| RemoteError::Unavailable { detail };
    match status {
        200 => {}
        401 | 403 => return Err(RemoteError::NoSession),
        _ => {
            return Err(unavailable(format!(
                "{target} answered HTTP {status}{}",
                status_hint(status)
            )));
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
        let content_type = response.content_type().map_or_else(
            || "no Content-Type".to_owned(),
            |ct| format!("Content-Type {ct}"),
        );
        return Err(unavailable(format!(
            "{target} answered HTTP 200 with a body that is not JSON ({content_type}): AUTH_SERVER_URL probably points at something other than the Better Auth server, such as a frontend serving an HTML page"
        )));
    };
    let unexpected = |what: &str| {
        unavailable(format!(
            "{target} answered JSON that is not a Better Auth session: {what}"
        ))
    };
    let mut root = match body {
        Value::Null => return Err(RemoteError::NoSession),
        Value::Object(root) => root,
        _ => return Err(unexpected("neither null nor an object")),
    };
    let (session, user) = match (root.remove("session"), root.remove("user")) {
        (Some(Value::Object(session)), Some(Value::Object(user))) => (session, user),
        (Some(Value::Null), Some(Value::Null)) => return Err(RemoteError::NoSession),
        _ => return Err(unexpected("no `session` and `user` objects")),
    };
    let user_id = session
        .get("userId")
        .or_else(|| user.get("id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| unexpected("the session has no `userId`"))?
        .to_owned();
    let expires_at = session
        .get("expiresAt")
        .and_then(parse_timestamp)
        .ok_or_else(|| unexpected("`session.expiresAt` is missing or not a timestamp"))?;
    Ok(RemoteSession {
        user_id,
        session_id: session.get("id").and_then(Value::as_str).map(str::to_owned),
        expires_at,
        created_at: session.get("createdAt").and_then(parse_timestamp),
        user,
        cached: false,
    })
}

fn status_hint(status: u16) -> &'static str {
    match status {
        404 => {
            ": check AUTH_SERVER_URL is the Better Auth server's base URL (the part before /api/auth)"
        }
        429 => ": the auth server is rate-limiting this service",
        300..=399 => ": it redirects; set AUTH_SERVER_URL to the final address",
        500..=599 => ": the auth server is failing",
        _ => "",
    }
}

/// A timestamp as Better Auth serializes it (an ISO 8601 string), or, in
/// case a server sends the raw `Date` value, milliseconds since the epoch.
fn parse_timestamp(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => crate::clock::parse_rfc3339(text),
        Value::Number(number) => match number.as_i64() {
            Some(ms) => Some(ms.div_euclid(1000)),
            None => number
                .as_f64()
                .filter(|ms| ms.is_finite() && ms.abs() < 9.0e18)
                .map(|ms| (ms / 1000.0).floor() as i64),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant as StdInstant;

    use std::sync::Arc;

    use super::*;
    use crate::clock::rfc3339;
    use crate::outbound::test_server::{Reply, TestServer, refused_addr};

    const NOW: i64 = 1_796_000_000;
    const TOKEN: &str = "tok3n-abc.c2lnbmF0dXJl%3D";

    fn iso_ms(secs: i64) -> String {
        rfc3339(secs).replace('Z', ".000Z")
    }

    fn session_body(expires_at: i64) -> String {
        serde_json::json!({
            "session": {
                "id": "sess_1",
                "token": "raw-session-token",
                "userId": "user_1",
                "expiresAt": iso_ms(expires_at),
                "createdAt": iso_ms(NOW - 3600),
                "updatedAt": iso_ms(NOW - 60),
                "ipAddress": "203.0.113.7",
                "userAgent": "test"
            },
            "user": {
                "id": "user_1",
                "email": "ada@example.com",
                "name": "Ada",
                "emailVerified": true,
                "image": null
            }
        })
        .to_string()
    }

    fn sessions(server: &TestServer, cache_ttl: Duration) -> RemoteSessions {
        RemoteSessions::new(
            RemoteSettings {
                cache_ttl,
                ..RemoteSettings::new(server.url(""))
            },
            Outbound::new(),
        )
    }

    fn cookie(value: &str) -> RemoteCredential<'_> {
        RemoteCredential::Cookie {
            name: "better-auth.session_token",
            value,
        }
    }

    fn detail(err: RemoteError) -> String {
        match err {
            RemoteError::Unavailable { detail } => detail,
            RemoteError::NoSession => String::from("NoSession"),
        }
    }

    #[tokio::test]
    async fn positive_answer_is_parsed_and_then_cached() {
        let server = TestServer::start(Reply::json(session_body(NOW + 3600))).await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);

        let session = remote.validate(cookie(TOKEN), NOW).await.unwrap();
        assert_eq!(session.user_id, "user_1");
        assert_eq!(session.session_id.as_deref(), Some("sess_1"));
        assert_eq!(session.expires_at, NOW + 3600);
        assert_eq!(session.created_at, Some(NOW - 3600));
        assert_eq!(session.user["email"], "ada@example.com");
        assert!(!session.cached);

        let again = remote.validate(cookie(TOKEN), NOW + 1).await.unwrap();
        assert!(again.cached);
        assert_eq!(again.user_id, "user_1");
        assert_eq!(server.requests(), 1);

        // Another credential is another entry.
        remote.validate(cookie("other"), NOW).await.unwrap();
        remote
            .validate(RemoteCredential::Bearer(TOKEN), NOW)
            .await
            .unwrap();
        assert_eq!(server.requests(), 3);
        // The token is neither a key nor in the Debug output.
        let debug = format!("{remote:?} {session:?}");
        assert!(!debug.contains(TOKEN) && !debug.contains("raw-session-token"));
    }

    #[tokio::test]
    async fn cache_entry_is_not_served_past_the_ttl() {
        let server = TestServer::start(Reply::json(session_body(NOW + 3600))).await;
        let remote = sessions(&server, Duration::from_secs(1));
        remote.validate(cookie(TOKEN), NOW).await.unwrap();
        assert!(remote.validate(cookie(TOKEN), NOW).await.unwrap().cached);

        tokio::time::pause();
        tokio::time::advance(Duration::from_millis(1100)).await;
        tokio::time::resume();

        let fresh = remote.validate(cookie(TOKEN), NOW).await.unwrap();
        assert!(!fresh.cached);
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn cache_entry_is_not_served_past_the_session_expiry() {
        let server = TestServer::start(Reply::json(session_body(NOW + 1))).await;
        let remote = sessions(&server, Duration::from_secs(60));
        remote.validate(cookie(TOKEN), NOW).await.unwrap();
        assert!(remote.validate(cookie(TOKEN), NOW).await.unwrap().cached);

        // The session was extended meanwhile: the server says so.
        server.set_reply(Reply::json(session_body(NOW + 3600)));
        let later = remote.validate(cookie(TOKEN), NOW + 1).await.unwrap();
        assert!(!later.cached);
        assert_eq!(later.expires_at, NOW + 3600);
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn no_session_is_cached_briefly() {
        let server = TestServer::start(Reply::json("null")).await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);
        for _ in 0..3 {
            let err = remote.validate(cookie(TOKEN), NOW).await.unwrap_err();
            assert_eq!(err, RemoteError::NoSession);
        }
        assert_eq!(server.requests(), 1);

        tokio::time::pause();
        tokio::time::advance(DEFAULT_NEGATIVE_TTL + Duration::from_millis(100)).await;
        tokio::time::resume();
        server.set_reply(Reply::json(session_body(NOW + 3600)));
        // A fresh sign-in is seen once the negative entry ends.
        assert!(remote.validate(cookie(TOKEN), NOW).await.is_ok());
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn unauthorized_statuses_mean_no_session() {
        let server = TestServer::start(Reply::json("{}").status(401)).await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);
        let err = remote.validate(cookie("a"), NOW).await.unwrap_err();
        assert_eq!(err, RemoteError::NoSession);
        server.set_reply(Reply::json("{}").status(403));
        let err = remote.validate(cookie("b"), NOW).await.unwrap_err();
        assert_eq!(err, RemoteError::NoSession);
        server.set_reply(Reply::json(r#"{"session":null,"user":null}"#));
        let err = remote.validate(cookie("c"), NOW).await.unwrap_err();
        assert_eq!(err, RemoteError::NoSession);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_validations_share_one_call() {
        let server = TestServer::start(
            Reply::json(session_body(NOW + 3600)).delay(Duration::from_millis(200)),
        )
        .await;
        let remote = Arc::new(sessions(&server, DEFAULT_CACHE_TTL));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let remote = remote.clone();
                tokio::spawn(async move { remote.validate(cookie(TOKEN), NOW).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().user_id, "user_1");
        }
        assert_eq!(server.requests(), 1);
        assert!(remote.flights.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_failures_are_shared_then_retried() {
        let server = TestServer::start(
            Reply::json("{}")
                .status(503)
                .delay(Duration::from_millis(200)),
        )
        .await;
        let remote = Arc::new(sessions(&server, DEFAULT_CACHE_TTL));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let remote = remote.clone();
                tokio::spawn(async move { remote.validate(cookie(TOKEN), NOW).await })
            })
            .collect();
        for task in tasks {
            let err = task.await.unwrap().unwrap_err();
            assert!(matches!(err, RemoteError::Unavailable { .. }));
        }
        assert_eq!(server.requests(), 1);
        server.set_reply(Reply::json(session_body(NOW + 3600)));
        assert!(remote.validate(cookie(TOKEN), NOW).await.is_ok());
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn a_cancelled_leader_does_not_wedge_followers() {
        let server = TestServer::start(
            Reply::json(session_body(NOW + 3600)).delay(Duration::from_millis(300)),
        )
        .await;
        let remote = Arc::new(sessions(&server, DEFAULT_CACHE_TTL));
        let leader = tokio::time::timeout(
            Duration::from_millis(50),
            remote.validate(cookie(TOKEN), NOW),
        );
        let follower = {
            let remote = remote.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                remote.validate(cookie(TOKEN), NOW).await
            })
        };
        assert!(leader.await.is_err(), "the leader should time out");
        let session = tokio::time::timeout(Duration::from_secs(2), follower)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(session.user_id, "user_1");
        // The follower took the call over: the leader's call and its own.
        assert_eq!(server.requests(), 2);
        assert!(remote.validate(cookie(TOKEN), NOW).await.unwrap().cached);
        assert!(remote.flights.is_empty());

        // A leader cancelled with nobody waiting leaves nothing behind.
        let _ = tokio::time::timeout(
            Duration::from_millis(20),
            remote.validate(cookie("abandoned"), NOW),
        )
        .await;
        assert!(remote.flights.is_empty());
    }

    #[tokio::test]
    async fn server_error_is_unavailable_and_not_cached() {
        let server = TestServer::start(Reply::json(r#"{"error":"boom"}"#).status(500)).await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);
        let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
        assert_eq!(
            err,
            format!(
                "{} answered HTTP 500: the auth server is failing",
                server.url("/api/auth/get-session")
            )
        );
        let err = remote.validate(cookie(TOKEN), NOW).await.unwrap_err();
        assert!(matches!(err, RemoteError::Unavailable { .. }));
        assert_eq!(server.requests(), 2);

        server.set_reply(Reply::json("{}").status(429));
        let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
        assert!(err.contains("HTTP 429"), "{err}");
    }

    #[tokio::test]
    async fn slow_server_is_unavailable_within_the_timeout() {
        let server = TestServer::start(Reply::json("null").delay(Duration::from_secs(5))).await;
        let remote = RemoteSessions::new(
            RemoteSettings {
                timeout: Duration::from_millis(300),
                ..RemoteSettings::new(server.url(""))
            },
            Outbound::new(),
        );
        let started = StdInstant::now();
        let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(err.ends_with("did not answer within 0.3 s"), "{err}");
    }

    #[tokio::test]
    async fn refused_connection_is_unavailable() {
        let addr = refused_addr().await;
        let remote = RemoteSessions::new(
            RemoteSettings::new(format!("http://{addr}")),
            Outbound::new(),
        );
        let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
        assert!(err.contains("connection refused"), "{err}");
        assert!(!err.contains(TOKEN));
    }

    #[tokio::test]
    async fn html_or_foreign_json_is_unavailable_with_a_hint() {
        let server = TestServer::start(
            Reply::json("<!DOCTYPE html><html><body>Welcome</body></html>")
                .header("content-type", "text/html; charset=utf-8"),
        )
        .await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);
        let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
        assert!(
            err.contains("not JSON (Content-Type text/html; charset=utf-8)")
                && err.contains(
                    "AUTH_SERVER_URL probably points at something other than the Better Auth server"
                ),
            "{err}"
        );

        for body in [
            r#"{"ok":true}"#,
            "[]",
            r#"{"session":{"id":"s"},"user":{}}"#,
        ] {
            server.set_reply(Reply::json(body));
            let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
            assert!(err.contains("not a Better Auth session"), "{body}: {err}");
        }
        server.set_reply(Reply::json("{}").status(404));
        let err = detail(remote.validate(cookie(TOKEN), NOW).await.unwrap_err());
        assert!(err.contains("HTTP 404: check AUTH_SERVER_URL"), "{err}");
    }

    #[tokio::test]
    async fn credential_is_forwarded_as_it_arrived() {
        let server = TestServer::start(Reply::json(session_body(NOW + 3600))).await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);

        remote
            .validate(
                RemoteCredential::Cookie {
                    name: "__Secure-better-auth.session_token",
                    value: TOKEN,
                },
                NOW,
            )
            .await
            .unwrap();
        let (uri, headers) = server.last_request().unwrap();
        assert_eq!(uri.path(), "/api/auth/get-session");
        assert_eq!(
            headers[COOKIE],
            format!("__Secure-better-auth.session_token={TOKEN}").as_str()
        );
        assert!(headers.get(AUTHORIZATION).is_none());

        remote
            .validate(RemoteCredential::Bearer("bearer-tok"), NOW)
            .await
            .unwrap();
        let (_, headers) = server.last_request().unwrap();
        assert_eq!(headers[AUTHORIZATION], "Bearer bearer-tok");
        assert!(headers.get(COOKIE).is_none());

        // A base URL with a trailing slash and a base path.
        let nested =
            RemoteSessions::new(RemoteSettings::new(server.url("/auth/")), Outbound::new());
        nested.validate(cookie("x"), NOW).await.unwrap();
        let (uri, _) = server.last_request().unwrap();
        assert_eq!(uri.path(), "/auth/api/auth/get-session");
    }

    #[tokio::test]
    async fn unforwardable_credential_is_unavailable_without_echoing_it() {
        let server = TestServer::start(Reply::json("null")).await;
        let remote = sessions(&server, DEFAULT_CACHE_TTL);
        let err = detail(
            remote
                .validate(RemoteCredential::Bearer("secret\nvalue"), NOW)
                .await
                .unwrap_err(),
        );
        assert!(err.contains("Authorization header cannot carry"), "{err}");
        assert!(!err.contains("secret"));
        assert_eq!(server.requests(), 0);
    }

    #[tokio::test]
    async fn cache_size_is_bounded() {
        let server = TestServer::start(Reply::json(session_body(NOW + 3600))).await;
        let mut remote = sessions(&server, DEFAULT_CACHE_TTL);
        remote.cache = Mutex::new(BoundedCache::new(10));
        for i in 0..50 {
            let token = format!("token-{i}");
            remote.validate(cookie(&token), NOW).await.unwrap();
            assert!(lock(&remote.cache).len() <= 10);
        }
        // The newest entry is always kept.
        assert!(
            remote
                .validate(cookie("token-49"), NOW)
                .await
                .unwrap()
                .cached
        );
    }

    #[test]
    fn credential_debug_shows_no_value() {
        let debug = format!("{:?} {:?}", cookie(TOKEN), RemoteCredential::Bearer(TOKEN));
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(debug.contains("better-auth.session_token"));
    }

    #[test]
    fn timestamps_in_milliseconds_are_accepted() {
        assert_eq!(
            parse_timestamp(&serde_json::json!(1_796_618_400_123_i64)),
            Some(1_796_618_400)
        );
        assert_eq!(
            parse_timestamp(&serde_json::json!(1_796_618_400_500.0)),
            Some(1_796_618_400)
        );
        assert_eq!(parse_timestamp(&serde_json::json!(true)), None);
    }
}
