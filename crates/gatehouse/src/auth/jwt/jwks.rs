//! The per-process cache of an issuer's JWKS: the public keys that verify its
//! tokens.
//!
//! One cache per JWKS URL, shared by every request the process serves (a
//! Vercel process serves many at once), so it is built for that:
//!
//! - **Hot path without waiting.** A token whose key is held and fresh costs
//!   a read lock and an `Arc` clone: no async lock, no network, no copying.
//! - **One fetch at a time (single flight).** Fetches happen under an async
//!   mutex; whoever waited for it re-checks the state before fetching again,
//!   so fifty cold requests cause one HTTP request, not fifty.
//! - **Rotation without a flood.** A `kid` we do not hold triggers a refetch
//!   (the issuer may have just rotated), but at most once per
//!   `refetch_min_interval`: tokens with made-up kids cannot turn us into a
//!   load generator against the auth server.
//! - **An outage is not a refusal.** When a refresh fails, the keys we had
//!   keep verifying (stale-if-error) for up to `max_ttl` past their expiry,
//!   and a kid we cannot look up because the endpoint is failing is reported
//!   as [`JwksError::Unavailable`] (503), never as "key not found" (401).
//! - **Freshness from the publisher.** The TTL follows the response's
//!   `Cache-Control`, clamped to `[min_ttl, max_ttl]`.
//!
//! Every failure says what is wrong in terms of the fix: a 404 points at the
//! configured URL, an HTML page at a URL that reaches the frontend instead of
//! the auth server.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use http::header::{AGE, CACHE_CONTROL, LOCATION};
use http::{HeaderMap, StatusCode};
use jsonwebtoken::Algorithm;
use tokio::time::Instant;

use crate::auth::jwt::keys::{self, KeyError, SkippedKey, VerifyingKey};
use crate::outbound::{Outbound, OutboundError, OutboundResponse};

/// How long keys are trusted and how often the endpoint may be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    /// TTL when the response has no usable `Cache-Control` max-age.
    pub default_ttl: Duration,
    /// Lower bound of the TTL; also the TTL of `no-store`/`no-cache` answers.
    pub min_ttl: Duration,
    /// Upper bound of the TTL, and how long past expiry old keys are still
    /// served while the endpoint fails.
    pub max_ttl: Duration,
    /// The endpoint is asked at most once per this interval, whatever the
    /// reason (unknown kid, expiry, retry after a failure).
    pub refetch_min_interval: Duration,
    /// Deadline for one fetch: connect, TLS, headers and body.
    pub fetch_timeout: Duration,
}

impl Default for JwksSettings {
    /// The habits of established verifiers: ten minutes of caching, a kid
    /// miss refetches at most every 30 s.
    fn default() -> Self {
        JwksSettings {
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            refetch_min_interval: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// Why a fetch of the JWKS did not produce keys. Each message names the
/// cause precisely enough to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    #[error("the JWKS URL answers 404: check JWT_JWKS_URL / BETTER_AUTH_URL")]
    NotFound,
    #[error("the JWKS URL answers HTTP {status}{}", status_hint(*status))]
    Status { status: u16 },
    #[error(
        "the JWKS URL redirects (HTTP {status}) to {location}: set the JWKS URL to the final address"
    )]
    Redirect { status: u16, location: String },
    #[error(
        "the JWKS URL returned HTML (Content-Type {content_type}): it is probably the frontend's page, not the JWKS endpoint"
    )]
    Html { content_type: String },
    #[error("the JWKS URL did not return a JWKS: {0}")]
    NotAJwks(KeyError),
    #[error("{}", no_usable_keys(skipped))]
    NoUsableKeys { skipped: Vec<String> },
    #[error("{0}")]
    Transport(OutboundError),
    #[error("the JWKS has not been fetched yet")]
    NotFetched,
}

fn status_hint(status: u16) -> &'static str {
    match status {
        401 | 403 => {
            ": the endpoint must be public; check the URL is the JWKS, not a protected API"
        }
        500..=599 => ": the auth server is failing",
        _ => "",
    }
}

fn no_usable_keys(skipped: &[String]) -> String {
    if skipped.is_empty() {
        "the JWKS has an empty `keys` array: the issuer publishes no signing key yet".to_owned()
    } else {
        format!(
            "the JWKS has no usable signing key; skipped: {}",
            skipped.join("; ")
        )
    }
}

/// Why a key could not be handed out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JwksError {
    /// The JWKS was loaded and holds no key for this kid and algorithm. This
    /// is the token's problem (an old or foreign key), answered with 401.
    #[error("{}", describe_not_found(kid.as_deref(), *algorithm, *kid_algorithm, known_kids))]
    KeyNotFound {
        /// The token's kid; `None` for a token without one.
        kid: Option<String>,
        /// The token's algorithm.
        algorithm: Algorithm,
        /// Set when a key with this kid exists but verifies another algorithm.
        kid_algorithm: Option<Algorithm>,
        /// The kids the JWKS holds.
        known_kids: Vec<String>,
    },
    /// The keys could not be obtained: our dependency is failing, not the
    /// token. Answered with 503 `jwks_unavailable`.
    #[error("the JWKS at {url} could not be loaded: {reason}")]
    Unavailable { url: String, reason: FetchFailure },
}

fn describe_not_found(
    kid: Option<&str>,
    algorithm: Algorithm,
    kid_algorithm: Option<Algorithm>,
    known_kids: &[String],
) -> String {
    let known = if known_kids.is_empty() {
        "(none)".to_owned()
    } else {
        known_kids.join(", ")
    };
    match (kid, kid_algorithm) {
        (Some(kid), Some(held)) => {
            format!("the key with kid {kid:?} verifies {held:?}, but the token says {algorithm:?}")
        }
        (Some(kid), None) => format!("no key with kid {kid:?} in the JWKS; known kids: {known}"),
        (None, _) => format!(
            "the token has no kid and the JWKS does not hold exactly one {algorithm:?} key; try each key from `keys()` (known kids: {known})"
        ),
    }
}

/// A key the cache holds, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    pub kid: Option<String>,
    pub algorithm: Algorithm,
}

impl fmt::Display for KeySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{:?}",
            self.kid.as_deref().unwrap_or("(no kid)"),
            self.algorithm
        )
    }
}

/// What the cache holds and how it got there, for logs and health routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSnapshot {
    /// The JWKS URL, without credentials or query.
    pub url: String,
    pub keys: Vec<KeySummary>,
    /// Time since the keys held were fetched; `None` before the first success.
    pub fetched_ago: Option<Duration>,
    /// The TTL the keys held were given.
    pub ttl: Option<Duration>,
    /// True when the keys held are past their TTL (a refresh failed or is due).
    pub stale: bool,
    /// Fetch attempts since the process started, successful or not.
    pub fetch_count: u64,
    /// Why the latest fetch failed; `None` once a fetch succeeds.
    pub last_error: Option<String>,
    /// Keys of the last successful fetch that were left out, with reasons.
    pub skipped: Vec<String>,
}

impl JwksSnapshot {
    /// `kid/ALG, kid/ALG`, or `(none)`: the "keys tried" field of a refusal.
    pub fn keys_tried(&self) -> String {
        if self.keys.is_empty() {
            return "(none)".to_owned();
        }
        let labels: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        labels.join(", ")
    }
}

/// The cache. Build one per JWKS URL at cold start and share it (`Arc`).
pub struct JwksCache {
    url: String,
    display_url: String,
    settings: JwksSettings,
    client: Outbound,
    /// The current state, replaced whole after each fetch. Readers clone the
    /// `Arc` and drop the lock at once, so the lock is never held across an
    /// await and writers never wait long.
    state: RwLock<Arc<CacheState>>,
    /// Held across a fetch: the single-flight gate.
    fetch_gate: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.display_url)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct CacheState {
    /// The last successful fetch, kept through failures (stale-if-error).
    loaded: Option<Arc<Loaded>>,
    /// When the latest fetch, successful or not, started.
    last_attempt: Option<Instant>,
    /// Why the latest fetch failed; cleared by a success.
    last_error: Option<FetchFailure>,
}

struct Loaded {
    keys: Arc<Vec<Arc<VerifyingKey>>>,
    fetched_at: Instant,
    ttl: Duration,
    skipped: Vec<SkippedKey>,
}

impl Loaded {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fetched_at
            .checked_add(self.ttl)
            .is_none_or(|expires| now < expires)
    }

    /// Past its TTL, a key set is still served while refreshes fail, but not
    /// forever: a key the issuer withdrew must stop working eventually even
    /// if its endpoint stays down.
    fn is_usable(&self, now: Instant, max_stale: Duration) -> bool {
        self.fetched_at
            .checked_add(self.ttl)
            .and_then(|expires| expires.checked_add(max_stale))
            .is_none_or(|limit| now < limit)
    }
}

enum Lookup {
    Found(Arc<VerifyingKey>),
    Missing { kid_algorithm: Option<Algorithm> },
}

impl JwksCache {
    /// A cache for `url`. Nothing is fetched until the first lookup.
    pub fn new(url: String, settings: JwksSettings, client: Outbound) -> Self {
        let display_url = display_url(&url);
        JwksCache {
            url,
            display_url,
            settings,
            client,
            state: RwLock::new(Arc::new(CacheState::default())),
            fetch_gate: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    /// The JWKS URL as logs show it: without credentials or query.
    pub fn display_url(&self) -> &str {
        &self.display_url
    }

    /// The key with this `kid` for `algorithm`. A kid not held triggers a
    /// refetch (rate-limited); a token without a kid gets the key only when
    /// exactly one key has its algorithm (otherwise use [`JwksCache::keys`]
    /// and try each).
    pub async fn key(
        &self,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<Arc<VerifyingKey>, JwksError> {
        let state = self.current();
        let now = Instant::now();
        let mut stale_hit = false;
        if let Some(loaded) = &state.loaded
            && let Lookup::Found(key) = find(&loaded.keys, kid, algorithm)
        {
            if loaded.is_fresh(now) {
                return Ok(key);
            }
            stale_hit = loaded.is_usable(now, self.settings.max_ttl);
        }
        let state = self
            .refresh(stale_hit, |state, now| {
                state.loaded.as_ref().is_some_and(|loaded| {
                    loaded.is_fresh(now)
                        && matches!(find(&loaded.keys, kid, algorithm), Lookup::Found(_))
                })
            })
            .await;
        self.resolve(&state, kid, algorithm)
    }

    /// Every key held, for a token without a kid: the caller tries each key
    /// whose algorithm matches the token's.
    pub async fn keys(&self) -> Result<Arc<Vec<Arc<VerifyingKey>>>, JwksError> {
        let state = self.current();
        let now = Instant::now();
        let mut stale_hit = false;
        if let Some(loaded) = &state.loaded {
            if loaded.is_fresh(now) {
                return Ok(loaded.keys.clone());
            }
            stale_hit = loaded.is_usable(now, self.settings.max_ttl);
        }
        let state = self
            .refresh(stale_hit, |state, now| {
                state
                    .loaded
                    .as_ref()
                    .is_some_and(|loaded| loaded.is_fresh(now))
            })
            .await;
        match self.usable(&state) {
            Some(loaded) => Ok(loaded.keys.clone()),
            None => Err(self.unavailable(&state)),
        }
    }

    /// What the cache holds now. Never fetches.
    pub fn snapshot(&self) -> JwksSnapshot {
        let state = self.current();
        let now = Instant::now();
        let loaded = state.loaded.as_deref();
        JwksSnapshot {
            url: self.display_url.clone(),
            keys: loaded
                .map(|loaded| {
                    loaded
                        .keys
                        .iter()
                        .map(|key| KeySummary {
                            kid: key.kid.clone(),
                            algorithm: key.algorithm,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            fetched_ago: loaded.map(|loaded| now.saturating_duration_since(loaded.fetched_at)),
            ttl: loaded.map(|loaded| loaded.ttl),
            stale: loaded.is_some_and(|loaded| !loaded.is_fresh(now)),
            fetch_count: self.fetches.load(Ordering::Relaxed),
            last_error: state.last_error.as_ref().map(ToString::to_string),
            skipped: loaded
                .map(|loaded| loaded.skipped.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
        }
    }

    fn current(&self) -> Arc<CacheState> {
        // The lock guards a pointer swap: a panic elsewhere cannot leave the
        // state half-written, so a poisoned lock is still sound to read.
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Fetches unless `satisfied` already holds or the rate limit forbids
    /// it; returns the state to answer from. With `stale_hit` (the caller
    /// already has a usable, expired answer), a fetch in progress elsewhere
    /// is not waited for: the stale answer is served meanwhile.
    async fn refresh(
        &self,
        stale_hit: bool,
        satisfied: impl Fn(&CacheState, Instant) -> bool,
    ) -> Arc<CacheState> {
        let _gate = if stale_hit {
            match self.fetch_gate.try_lock() {
                Ok(gate) => gate,
                Err(_) => return self.current(),
            }
        } else {
            self.fetch_gate.lock().await
        };
        // Re-check: whoever held the gate before us may have fetched.
        let state = self.current();
        let now = Instant::now();
        if satisfied(&state, now) {
            return state;
        }
        if let Some(last) = state.last_attempt
            && now.saturating_duration_since(last) < self.settings.refetch_min_interval
        {
            return state;
        }
        self.fetch_and_store(&state).await
    }

    async fn fetch_and_store(&self, previous: &CacheState) -> Arc<CacheState> {
        let started = Instant::now();
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let next = match self.fetch().await {
            Ok((set, ttl)) => {
                for skipped in &set.skipped {
                    // Encryption keys often share a JWKS with signing keys:
                    // skipping them is routine. Anything else is worth a look.
                    if matches!(
                        skipped.reason,
                        KeyError::EncryptionKey
                            | KeyError::EncryptionAlgorithm { .. }
                            | KeyError::NotForVerification { .. }
                    ) {
                        tracing::debug!(target: "gatehouse::auth::jwks", url = %self.display_url, key = %skipped, "JWKS key skipped");
                    } else {
                        tracing::warn!(target: "gatehouse::auth::jwks", url = %self.display_url, key = %skipped, "JWKS key skipped");
                    }
                }
                let keys: Vec<Arc<VerifyingKey>> = set.keys.into_iter().map(Arc::new).collect();
                let labels: Vec<String> = keys.iter().map(|key| key.label()).collect();
                tracing::info!(
                    target: "gatehouse::auth::jwks",
                    url = %self.display_url,
                    keys = %labels.join(", "),
                    skipped = set.skipped.len(),
                    ttl_secs = ttl.as_secs(),
                    "JWKS loaded"
                );
                CacheState {
                    loaded: Some(Arc::new(Loaded {
                        keys: Arc::new(keys),
                        fetched_at: started,
                        ttl,
                        skipped: set.skipped,
                    })),
                    last_attempt: Some(started),
                    last_error: None,
                }
            }
            Err(failure) => {
                tracing::warn!(
                    target: "gatehouse::auth::jwks",
                    url = %self.display_url,
                    error = %failure,
                    serving_previous_keys = previous.loaded.is_some(),
                    "JWKS fetch failed"
                );
                CacheState {
                    loaded: previous.loaded.clone(),
                    last_attempt: Some(started),
                    last_error: Some(failure),
                }
            }
        };
        let next = Arc::new(next);
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = next.clone();
        next
    }

    async fn fetch(&self) -> Result<(keys::KeySet, Duration), FetchFailure> {
        let response = self
            .client
            .get(&self.url, self.settings.fetch_timeout)
            .await
            .map_err(FetchFailure::Transport)?;
        let set = parse_response(&response)?;
        Ok((set, ttl_from(&response.headers, &self.settings)))
    }

    fn usable<'a>(&self, state: &'a CacheState) -> Option<&'a Loaded> {
        state
            .loaded
            .as_deref()
            .filter(|loaded| loaded.is_usable(Instant::now(), self.settings.max_ttl))
    }

    fn resolve(
        &self,
        state: &CacheState,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Result<Arc<VerifyingKey>, JwksError> {
        let Some(loaded) = self.usable(state) else {
            return Err(self.unavailable(state));
        };
        match find(&loaded.keys, kid, algorithm) {
            Lookup::Found(key) => Ok(key),
            // The endpoint is failing: the key may well exist there.
            Lookup::Missing { .. } if state.last_error.is_some() => Err(self.unavailable(state)),
            Lookup::Missing { kid_algorithm } => Err(JwksError::KeyNotFound {
                kid: kid.map(str::to_owned),
                algorithm,
                kid_algorithm,
                known_kids: loaded
                    .keys
                    .iter()
                    .filter_map(|key| key.kid.clone())
                    .collect(),
            }),
        }
    }

    fn unavailable(&self, state: &CacheState) -> JwksError {
        JwksError::Unavailable {
            url: self.display_url.clone(),
            reason: state.last_error.clone().unwrap_or(FetchFailure::NotFetched),
        }
    }
}

fn find(keys: &[Arc<VerifyingKey>], kid: Option<&str>, algorithm: Algorithm) -> Lookup {
    match kid {
        Some(kid) => {
            let mut kid_algorithm = None;
            for key in keys {
                if key.kid.as_deref() == Some(kid) {
                    if key.algorithm == algorithm {
                        return Lookup::Found(key.clone());
                    }
                    kid_algorithm = Some(key.algorithm);
                }
            }
            Lookup::Missing { kid_algorithm }
        }
        None => {
            let mut matching = keys.iter().filter(|key| key.algorithm == algorithm);
            match (matching.next(), matching.next()) {
                (Some(key), None) => Lookup::Found(key.clone()),
                _ => Lookup::Missing {
                    kid_algorithm: None,
                },
            }
        }
    }
}

/// Turns a response into keys, or into the precise reason it holds none.
fn parse_response(response: &OutboundResponse) -> Result<keys::KeySet, FetchFailure> {
    let status = response.status;
    if status == StatusCode::NOT_FOUND {
        return Err(FetchFailure::NotFound);
    }
    if status.is_redirection() {
        let location = response
            .headers
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(display_url)
            .unwrap_or_else(|| "(no Location header)".to_owned());
        return Err(FetchFailure::Redirect {
            status: status.as_u16(),
            location,
        });
    }
    if !status.is_success() {
        return Err(FetchFailure::Status {
            status: status.as_u16(),
        });
    }
    let content_type = response.content_type().unwrap_or("").trim();
    let starts_with_tag = response
        .body
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'<');
    let html_type = content_type
        .get(..9)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("text/html"));
    if html_type || starts_with_tag {
        return Err(FetchFailure::Html {
            content_type: if content_type.is_empty() {
                "(none)".to_owned()
            } else {
                content_type.to_owned()
            },
        });
    }
    let set = keys::from_jwks(&response.body).map_err(FetchFailure::NotAJwks)?;
    if set.keys.is_empty() {
        return Err(FetchFailure::NoUsableKeys {
            skipped: set.skipped.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(set)
}

/// The TTL a response earns: `s-maxage` (we are a shared cache) or
/// `max-age`, minus `Age`, clamped to `[min_ttl, max_ttl]`; `min_ttl` for
/// `no-store`/`no-cache` (honouring "do not cache" literally would mean a
/// fetch per token); `default_ttl` without a usable directive.
fn ttl_from(headers: &HeaderMap, settings: &JwksSettings) -> Duration {
    let mut max_age = None;
    let mut s_maxage = None;
    for line in headers.get_all(CACHE_CONTROL) {
        let Ok(line) = line.to_str() else { continue };
        for directive in line.split(',') {
            let (name, value) = match directive.split_once('=') {
                Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return clamp(settings.min_ttl, settings);
            }
            let seconds = value.and_then(|value| value.parse::<u64>().ok());
            if name.eq_ignore_ascii_case("max-age") {
                max_age = seconds.or(max_age);
            } else if name.eq_ignore_ascii_case("s-maxage") {
                s_maxage = seconds.or(s_maxage);
            }
        }
    }
    let Some(lifetime) = s_maxage.or(max_age) else {
        return clamp(settings.default_ttl, settings);
    };
    let age = headers
        .get(AGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    clamp(Duration::from_secs(lifetime.saturating_sub(age)), settings)
}

/// `Duration::clamp` panics when min > max; settings are data, so a
/// misordered pair must not take the process down: max wins.
fn clamp(ttl: Duration, settings: &JwksSettings) -> Duration {
    ttl.max(settings.min_ttl).min(settings.max_ttl)
}

/// The URL without user info or query, for messages and logs.
fn display_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{EncodingKey, Header, Validation};
    use serde_json::{Value, json};

    use super::*;
    use crate::outbound::test_server::{Reply, TestServer, refused_addr};

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../../../tests/fixtures/jwt/", $name))
        };
    }

    const ED_A_JWK: &str = fixture!("ed25519-a.jwk.json");
    const ED_A_KEY: &str = fixture!("ed25519-a.key.pem");
    const ED_B_JWK: &str = fixture!("ed25519-b.jwk.json");
    const ED_B_KEY: &str = fixture!("ed25519-b.key.pem");
    const RSA_JWK: &str = fixture!("rsa-2048.jwk.json");
    const BETTER_AUTH_JWKS: &str = fixture!("better-auth-jwks.json");
    const KID_A: &str = "Jq0Xv4oQm3tYc8TnZ2bKpR7wLs1eHdUf";
    const KID_B: &str = "Vb6nP1sXk9QwE3rTy5uIo7aZl2mNc4Dg";
    const KID_RSA: &str = "rsa-2048-2026";
    const PATH: &str = "/api/auth/jwks";

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn jwks(jwks: &[&str]) -> String {
        let keys: Vec<Value> = jwks
            .iter()
            .map(|jwk| serde_json::from_str(jwk).unwrap())
            .collect();
        json!({ "keys": keys }).to_string()
    }

    /// Long intervals: nothing expires or becomes refetchable by accident.
    fn patient() -> JwksSettings {
        JwksSettings {
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            refetch_min_interval: Duration::from_secs(60),
            fetch_timeout: Duration::from_secs(5),
        }
    }

    /// Keys expire after `ttl` (served with `no-store`, so TTL = min_ttl)
    /// and the endpoint may be asked again after `interval`.
    fn quick(ttl: Duration, interval: Duration) -> JwksSettings {
        JwksSettings {
            min_ttl: ttl,
            refetch_min_interval: interval,
            ..patient()
        }
    }

    fn cache(server: &TestServer, settings: JwksSettings) -> JwksCache {
        JwksCache::new(server.url(PATH), settings, Outbound::new())
    }

    fn sign(private_pem: &str, kid: &str) -> String {
        let key = EncodingKey::from_ed_pem(private_pem.as_bytes()).unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        jsonwebtoken::encode(&header, &json!({"sub": "u1", "exp": now + 600}), &key).unwrap()
    }

    fn verifies(token: &str, key: &VerifyingKey) -> bool {
        jsonwebtoken::decode::<Value>(token, &key.key, &Validation::new(key.algorithm)).is_ok()
    }

    fn reason(result: Result<Arc<VerifyingKey>, JwksError>) -> FetchFailure {
        match result {
            Err(JwksError::Unavailable { reason, .. }) => reason,
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn one_fetch_serves_many_lookups() {
        let server = TestServer::start(Reply::json(BETTER_AUTH_JWKS)).await;
        let cache = cache(&server, patient());
        for _ in 0..200 {
            let key = cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
            assert_eq!(key.kid.as_deref(), Some(KID_A));
        }
        assert_eq!(cache.keys().await.unwrap().len(), 1);
        // Better Auth's key has no `alg`: it is found as EdDSA.
        assert!(verifies(
            &sign(ED_A_KEY, KID_A),
            &cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap()
        ));
        assert_eq!(server.requests(), 1);
        let snapshot = cache.snapshot();
        assert_eq!(snapshot.fetch_count, 1);
        assert_eq!(snapshot.keys_tried(), format!("{KID_A}/EdDSA"));
        assert_eq!(
            snapshot.ttl,
            Some(Duration::from_secs(600)),
            "no Cache-Control: default TTL"
        );
        assert!(!snapshot.stale);
        assert_eq!(snapshot.last_error, None);
        assert_eq!(snapshot.url, server.url(PATH));
    }

    #[test]
    fn ttl_follows_cache_control_within_bounds() {
        let settings = patient();
        let ttl = |lines: &[(&'static str, &str)]| {
            let mut headers = HeaderMap::new();
            for (name, value) in lines {
                headers.append(
                    http::header::HeaderName::from_static(name),
                    value.parse().unwrap(),
                );
            }
            ttl_from(&headers, &settings).as_secs()
        };
        assert_eq!(ttl(&[]), 600);
        assert_eq!(ttl(&[("cache-control", "public, max-age=120")]), 120);
        assert_eq!(ttl(&[("cache-control", "MAX-AGE=\"300\"")]), 300);
        assert_eq!(
            ttl(&[("cache-control", "max-age=5")]),
            60,
            "clamped up to min_ttl"
        );
        assert_eq!(
            ttl(&[("cache-control", "max-age=9999999")]),
            86_400,
            "clamped to max_ttl"
        );
        assert_eq!(ttl(&[("cache-control", "max-age=100, s-maxage=900")]), 900);
        assert_eq!(ttl(&[("cache-control", "no-store")]), 60);
        assert_eq!(ttl(&[("cache-control", "no-cache, max-age=3600")]), 60);
        assert_eq!(ttl(&[("cache-control", "max-age=soon")]), 600);
        assert_eq!(
            ttl(&[
                ("cache-control", "public"),
                ("cache-control", "max-age=240")
            ]),
            240
        );
        assert_eq!(
            ttl(&[("cache-control", "max-age=300"), ("age", "100")]),
            200
        );
        assert_eq!(
            ttl(&[("cache-control", "max-age=300"), ("age", "1000")]),
            60
        );
        // A misordered pair of bounds does not panic.
        let odd = JwksSettings {
            min_ttl: Duration::from_secs(100),
            max_ttl: Duration::from_secs(10),
            ..patient()
        };
        assert_eq!(ttl_from(&HeaderMap::new(), &odd), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn cache_control_sets_the_ttl_of_fetched_keys() {
        for (cache_control, expected) in [
            ("public, max-age=120", 120),
            ("max-age=5", 60),
            ("max-age=31536000, immutable", 86_400),
            ("no-store", 60),
        ] {
            let server = TestServer::start(
                Reply::json(BETTER_AUTH_JWKS).header("cache-control", cache_control),
            )
            .await;
            let cache = cache(&server, patient());
            cache.keys().await.unwrap();
            assert_eq!(
                cache.snapshot().ttl,
                Some(Duration::from_secs(expected)),
                "{cache_control}"
            );
        }
    }

    #[tokio::test]
    async fn expired_keys_are_refetched_and_fresh_ones_are_not() {
        let server =
            TestServer::start(Reply::json(BETTER_AUTH_JWKS).header("cache-control", "no-store"))
                .await;
        let cache = cache(&server, quick(ms(300), ms(10)));
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        assert_eq!(server.requests(), 1, "fresh: no refetch");
        tokio::time::sleep(ms(400)).await;
        assert!(cache.snapshot().stale);
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        assert_eq!(server.requests(), 2, "expired: refetched");
        assert!(!cache.snapshot().stale);
    }

    #[tokio::test]
    async fn rotation_a_new_kid_is_picked_up_and_both_keys_verify() {
        let server = TestServer::start(Reply::json(jwks(&[ED_A_JWK]))).await;
        let cache = cache(&server, quick(Duration::from_secs(60), ms(200)));
        let old = cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        assert!(verifies(&sign(ED_A_KEY, KID_A), &old));

        // The issuer rotates: key b is added, key a stays active.
        server.set_reply(Reply::json(jwks(&[ED_B_JWK, ED_A_JWK])));
        tokio::time::sleep(ms(300)).await;
        let new = cache.key(Some(KID_B), Algorithm::EdDSA).await.unwrap();
        assert_eq!(server.requests(), 2, "the unknown kid caused one refetch");
        assert!(verifies(&sign(ED_B_KEY, KID_B), &new));
        assert!(!verifies(&sign(ED_A_KEY, KID_A), &new));
        let old = cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        assert!(verifies(&sign(ED_A_KEY, KID_A), &old));
        assert_eq!(cache.keys().await.unwrap().len(), 2);
        assert_eq!(server.requests(), 2);

        // Later a is retired: once the set is refetched, a is unknown.
        server.set_reply(Reply::json(jwks(&[ED_B_JWK])));
        tokio::time::sleep(ms(300)).await;
        cache
            .key(Some("some-third-kid"), Algorithm::EdDSA)
            .await
            .unwrap_err();
        match cache.key(Some(KID_A), Algorithm::EdDSA).await {
            Err(JwksError::KeyNotFound {
                kid, known_kids, ..
            }) => {
                assert_eq!(kid.as_deref(), Some(KID_A));
                assert_eq!(known_kids, [KID_B]);
            }
            other => panic!("expected KeyNotFound, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let server = TestServer::start(Reply::json(jwks(&[ED_A_JWK]))).await;
        let cache = Arc::new(cache(&server, quick(Duration::from_secs(60), ms(1500))));
        cache.keys().await.unwrap();
        // Just loaded: an unknown kid does not refetch within the interval.
        let err = cache
            .key(Some("random-0"), Algorithm::EdDSA)
            .await
            .unwrap_err();
        assert_eq!(server.requests(), 1);
        assert!(
            err.to_string().contains(&format!(
                "no key with kid \"random-0\" in the JWKS; known kids: {KID_A}"
            )),
            "{err}"
        );

        tokio::time::sleep(ms(1600)).await;
        // A flood of made-up kids, sequential and concurrent.
        for i in 0..50 {
            let kid = format!("random-{i}");
            let err = cache.key(Some(&kid), Algorithm::EdDSA).await.unwrap_err();
            assert!(matches!(err, JwksError::KeyNotFound { .. }), "{err:?}");
        }
        let flood: Vec<_> = (50..100)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    cache
                        .key(Some(&format!("random-{i}")), Algorithm::EdDSA)
                        .await
                })
            })
            .collect();
        for task in flood {
            assert!(matches!(
                task.await.unwrap(),
                Err(JwksError::KeyNotFound { .. })
            ));
        }
        assert_eq!(
            server.requests(),
            2,
            "exactly one extra fetch for the flood"
        );
        // Known keys are still served from memory.
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        assert_eq!(server.requests(), 2);

        tokio::time::sleep(ms(1600)).await;
        cache
            .key(Some("random-again"), Algorithm::EdDSA)
            .await
            .unwrap_err();
        assert_eq!(server.requests(), 3, "the next interval allows one more");
    }

    #[tokio::test]
    async fn stale_keys_are_served_while_the_endpoint_fails() {
        let server =
            TestServer::start(Reply::json(BETTER_AUTH_JWKS).header("cache-control", "no-store"))
                .await;
        let cache = cache(&server, quick(ms(200), ms(200)));
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();

        let failures = [
            Reply::json("upstream broke").status(500),
            Reply::json("<!doctype html><title>Home</title>").header("content-type", "text/html"),
            Reply::json(r#"{"error":"nope"}"#),
            Reply::json("{}").status(404),
        ];
        for (round, failure) in failures.into_iter().enumerate() {
            server.set_reply(failure);
            tokio::time::sleep(ms(300)).await;
            let key = cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
            assert_eq!(key.kid.as_deref(), Some(KID_A));
            assert_eq!(server.requests(), round + 2, "round {round}: one retry");
            let snapshot = cache.snapshot();
            assert!(snapshot.stale);
            assert!(snapshot.last_error.is_some());
            assert_eq!(snapshot.keys_tried(), format!("{KID_A}/EdDSA"));
            // Retries are rate-limited too.
            cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
            cache.keys().await.unwrap();
            assert_eq!(
                server.requests(),
                round + 2,
                "round {round}: no retry within the interval"
            );
            // An unknown kid while failing: unavailable, not "not found".
            let failure = reason(cache.key(Some("new-kid"), Algorithm::EdDSA).await);
            assert_eq!(Some(failure.to_string()), snapshot.last_error);
        }
        assert_eq!(
            cache.snapshot().last_error.as_deref(),
            Some("the JWKS URL answers 404: check JWT_JWKS_URL / BETTER_AUTH_URL")
        );

        // Recovery: the next permitted fetch clears the error.
        server.set_reply(Reply::json(BETTER_AUTH_JWKS).header("cache-control", "max-age=600"));
        tokio::time::sleep(ms(300)).await;
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        let snapshot = cache.snapshot();
        assert_eq!(snapshot.last_error, None);
        assert!(!snapshot.stale);
        assert_eq!(snapshot.fetch_count, 6);
    }

    #[tokio::test]
    async fn stale_keys_stop_being_served_after_max_ttl() {
        let server =
            TestServer::start(Reply::json(BETTER_AUTH_JWKS).header("cache-control", "no-store"))
                .await;
        let settings = JwksSettings {
            min_ttl: ms(100),
            max_ttl: ms(100),
            refetch_min_interval: ms(10),
            ..patient()
        };
        let cache = cache(&server, settings);
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        server.set_reply(Reply::json("").status(503));
        tokio::time::sleep(ms(350)).await;
        let failure = reason(cache.key(Some(KID_A), Algorithm::EdDSA).await);
        assert_eq!(failure, FetchFailure::Status { status: 503 });
        assert!(matches!(
            cache.keys().await,
            Err(JwksError::Unavailable { .. })
        ));
    }

    #[tokio::test]
    async fn never_loaded_failures_name_their_cause() {
        type Expected = fn(&FetchFailure) -> bool;
        let cases: Vec<(Reply, Expected, &str)> = vec![
            (
                Reply::json("Not Found").status(404),
                |f| *f == FetchFailure::NotFound,
                "the JWKS URL answers 404: check JWT_JWKS_URL / BETTER_AUTH_URL",
            ),
            (
                Reply::json("<!DOCTYPE html><html><body>My app</body></html>")
                    .header("content-type", "text/html; charset=utf-8"),
                |f| matches!(f, FetchFailure::Html { .. }),
                "the JWKS URL returned HTML (Content-Type text/html; charset=utf-8): it is probably the frontend's page, not the JWKS endpoint",
            ),
            (
                Reply::json("\n  <html></html>").header("content-type", "application/json"),
                |f| matches!(f, FetchFailure::Html { .. }),
                "the JWKS URL returned HTML",
            ),
            (
                Reply::json(r#"{"session":null}"#),
                |f| matches!(f, FetchFailure::NotAJwks(KeyError::NotAJwks { .. })),
                "the JWKS URL did not return a JWKS: the document is JSON but not a JWKS",
            ),
            (
                Reply::json("keys: none").header("content-type", "text/plain"),
                |f| matches!(f, FetchFailure::NotAJwks(KeyError::NotJson { .. })),
                "the JWKS URL did not return a JWKS: the JWKS is not JSON",
            ),
            (
                Reply::json(r#"{"keys":[]}"#),
                |f| *f == FetchFailure::NoUsableKeys { skipped: vec![] },
                "the JWKS has an empty `keys` array",
            ),
            (
                Reply::json(jwks(&[
                    r#"{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB","kid":"e1"}"#,
                ])),
                |f| matches!(f, FetchFailure::NoUsableKeys { skipped } if skipped.len() == 1),
                "the JWKS has no usable signing key; skipped: key #0 (kid \"e1\"): the key has `use` \"enc\"",
            ),
            (
                Reply::json("oops").status(502),
                |f| *f == FetchFailure::Status { status: 502 },
                "the JWKS URL answers HTTP 502: the auth server is failing",
            ),
            (
                Reply::json("")
                    .status(308)
                    .header("location", "https://auth.example.com/api/auth/jwks?x=1"),
                |f| matches!(f, FetchFailure::Redirect { status: 308, .. }),
                "the JWKS URL redirects (HTTP 308) to https://auth.example.com/api/auth/jwks: set the JWKS URL to the final address",
            ),
            (
                Reply::json(BETTER_AUTH_JWKS).delay(Duration::from_secs(10)),
                |f| matches!(f, FetchFailure::Transport(OutboundError::Timeout { .. })),
                "did not answer within 0.3 s",
            ),
        ];
        let settings = JwksSettings {
            fetch_timeout: ms(300),
            ..patient()
        };
        for (reply, expected, message) in cases {
            let server = TestServer::start(reply).await;
            let cache = cache(&server, settings.clone());
            let result = cache.key(Some(KID_A), Algorithm::EdDSA).await;
            let Err(err @ JwksError::Unavailable { .. }) = result else {
                panic!("{message}: expected Unavailable, got {result:?}");
            };
            let JwksError::Unavailable { url, reason } = &err else {
                unreachable!()
            };
            assert!(expected(reason), "{message}: got {reason:?}");
            assert!(
                reason.to_string().contains(message),
                "{reason}\n  does not contain\n{message}"
            );
            assert_eq!(url, &server.url(PATH));
            assert!(
                err.to_string()
                    .starts_with(&format!("the JWKS at {url} could not be loaded: "))
            );
            // Within the interval, no new fetch: the same answer from memory.
            assert!(matches!(
                cache.keys().await,
                Err(JwksError::Unavailable { .. })
            ));
            assert_eq!(server.requests(), 1, "{message}");
            let snapshot = cache.snapshot();
            assert_eq!(snapshot.last_error, Some(reason.to_string()));
            assert!(snapshot.keys.is_empty() && !snapshot.stale);
        }

        let refused = refused_addr().await;
        let cache = JwksCache::new(format!("http://{refused}{PATH}"), settings, Outbound::new());
        let failure = reason(cache.key(None, Algorithm::EdDSA).await);
        assert!(
            matches!(&failure, FetchFailure::Transport(OutboundError::Connect { detail, .. }) if detail.contains("connection refused")),
            "{failure:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_cold_lookups_share_one_fetch() {
        let server =
            TestServer::start(Reply::json(jwks(&[ED_A_JWK, RSA_JWK])).delay(ms(300))).await;
        let cache = Arc::new(cache(&server, patient()));
        let lookups: Vec<_> = (0..50)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        cache.key(Some(KID_A), Algorithm::EdDSA).await.map(|_| ())
                    } else {
                        cache.key(Some(KID_RSA), Algorithm::RS256).await.map(|_| ())
                    }
                })
            })
            .collect();
        for lookup in lookups {
            lookup.await.unwrap().unwrap();
        }
        assert_eq!(server.requests(), 1);
        assert_eq!(cache.snapshot().fetch_count, 1);

        // The same when the fetch fails: one request, fifty precise refusals.
        let down = TestServer::start(Reply::json("").status(404).delay(ms(300))).await;
        let cache = Arc::new(JwksCache::new(down.url(PATH), patient(), Outbound::new()));
        let lookups: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.key(Some(KID_A), Algorithm::EdDSA).await })
            })
            .collect();
        for lookup in lookups {
            assert_eq!(reason(lookup.await.unwrap()), FetchFailure::NotFound);
        }
        assert_eq!(down.requests(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expired_keys_are_served_while_another_request_refreshes() {
        let server =
            TestServer::start(Reply::json(BETTER_AUTH_JWKS).header("cache-control", "no-store"))
                .await;
        let cache = Arc::new(cache(&server, quick(ms(100), ms(10))));
        cache.key(Some(KID_A), Algorithm::EdDSA).await.unwrap();
        server.set_reply(
            Reply::json(BETTER_AUTH_JWKS)
                .header("cache-control", "no-store")
                .delay(Duration::from_secs(2)),
        );
        tokio::time::sleep(ms(200)).await;
        let refreshing = tokio::spawn({
            let cache = cache.clone();
            async move { cache.key(Some(KID_A), Algorithm::EdDSA).await }
        });
        // Wait until the refresh is in flight.
        for _ in 0..100 {
            if server.requests() == 2 {
                break;
            }
            tokio::time::sleep(ms(10)).await;
        }
        assert_eq!(server.requests(), 2);
        let served = tokio::time::timeout(ms(500), cache.key(Some(KID_A), Algorithm::EdDSA)).await;
        assert!(
            matches!(served, Ok(Ok(_))),
            "the stale key is served without waiting: {served:?}"
        );
        refreshing.await.unwrap().unwrap();
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn lookups_match_kid_and_algorithm() {
        let server = TestServer::start(Reply::json(jwks(&[ED_A_JWK, RSA_JWK]))).await;
        let cache = cache(&server, patient());
        // Right kid, wrong algorithm: refused, and the message says why.
        let err = cache.key(Some(KID_A), Algorithm::RS256).await.unwrap_err();
        match &err {
            JwksError::KeyNotFound { kid_algorithm, .. } => {
                assert_eq!(*kid_algorithm, Some(Algorithm::EdDSA));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!("the key with kid \"{KID_A}\" verifies EdDSA, but the token says RS256")
        );
        // No kid: the one key of that algorithm.
        let rsa = cache.key(None, Algorithm::RS256).await.unwrap();
        assert_eq!(rsa.kid.as_deref(), Some(KID_RSA));
        let err = cache.key(None, Algorithm::ES256).await.unwrap_err();
        assert!(
            matches!(err, JwksError::KeyNotFound { kid: None, .. }),
            "{err:?}"
        );
        assert_eq!(server.requests(), 1);

        // Two keys of one algorithm and no kid: ambiguous; keys() lists both.
        let two = TestServer::start(Reply::json(jwks(&[ED_A_JWK, ED_B_JWK]))).await;
        let cache = JwksCache::new(two.url(PATH), patient(), Outbound::new());
        let err = cache.key(None, Algorithm::EdDSA).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("does not hold exactly one EdDSA key"),
            "{err}"
        );
        let token = sign(ED_B_KEY, KID_B);
        let keys = cache.keys().await.unwrap();
        let verifying: Vec<_> = keys.iter().filter(|key| verifies(&token, key)).collect();
        assert_eq!(verifying.len(), 1);
        assert_eq!(verifying[0].kid.as_deref(), Some(KID_B));
    }

    #[test]
    fn urls_are_shown_without_credentials_or_query() {
        assert_eq!(
            display_url("https://user:pw@auth.example.com/api/auth/jwks?token=x#f"),
            "https://auth.example.com/api/auth/jwks"
        );
        assert_eq!(
            display_url("http://127.0.0.1:3000"),
            "http://127.0.0.1:3000"
        );
        let cache = JwksCache::new(
            "https://u:secret@a.example/jwks?k=secret".to_owned(),
            patient(),
            Outbound::new(),
        );
        assert!(!format!("{cache:?}").contains("secret"));
        assert!(!cache.snapshot().url.contains("secret"));
    }
}
