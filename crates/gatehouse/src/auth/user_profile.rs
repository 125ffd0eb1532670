//! User enrichment: the profile of an authenticated principal, fetched from
//! a user service (`USER_SERVICE_URL`) when the token carries only an id.
//!
//! Built once per process and shared by every request it serves:
//!
//! - **Cached per process** for `cache_ttl`, bounded to [`MAX_CACHED`]
//!   subjects, so a busy user costs one call per TTL, not one per request.
//! - **One call per subject at a time (single flight).** Concurrent requests
//!   for the same subject wait on one call; a cancelled leader hands the call
//!   to a waiter, and a failure is not remembered, so nobody is wedged.
//! - **An outage is not a refusal.** When the service times out, refuses the
//!   connection, or answers 5xx, 429 or something that is not a profile, the
//!   last known profile serves (from this process, even past its TTL, or from
//!   the `gatehouse_users` table), marked as stale. With neither, the answer
//!   is [`ProfileError::Unavailable`] (503), never a 401.
//! - **A 404 is a refusal.** The user does not exist: [`ProfileError::NotFound`]
//!   (401 `user_not_found`). It is remembered only briefly, since the user may
//!   be created a moment later, and it drops the stored profile, so a deleted
//!   user is not resurrected by a later outage.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::header::{AUTHORIZATION, HeaderValue};
use http::{HeaderMap, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio_postgres::types::Type;

use crate::auth::identity::Identity;
use crate::auth::settings::UserServiceSettings;
use crate::bounded_cache::{BoundedCache, Lifetime};
use crate::clock::unix_now;
use crate::db::Database;
use crate::outbound::{Outbound, display_url};
use crate::single_flight::{Flights, lock};

/// How long a 404 is remembered: long enough to absorb a burst of requests
/// from a deleted user, short enough that a newly created one gets in soon.
const NOT_FOUND_TTL: Duration = Duration::from_secs(30);

/// The most subjects held in the process cache: bounds memory whatever the
/// number of distinct users a long-lived process sees.
pub(crate) const MAX_CACHED: usize = 10_000;

/// Characters left as they are in the id's path segment: RFC 3986's
/// unreserved set. Everything else (`/`, `?`, `#`, `%`, spaces) is encoded,
/// so an id can never change which resource is asked for.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where a profile came from, so the caller can tell (and report) a stale one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProfileSource {
    /// Fetched from the user service by this call.
    UserService,
    /// From this process's cache, within its TTL.
    Cache,
    /// From this process's cache past its TTL: the user service is down.
    StaleCache,
    /// From the `gatehouse_users` table: the user service is down and this
    /// process had no copy.
    Database,
}

/// A user's profile as the user service last returned it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Profile {
    /// The JSON object the user service answered with.
    pub data: serde_json::Value,
    pub source: ProfileSource,
    /// When the user service returned it, in Unix seconds.
    pub fetched_at: i64,
}

/// Why no profile could be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProfileError {
    /// The user service answered 404: the user does not exist.
    #[error("the user service has no user with this id")]
    NotFound,
    /// The user service failed and no earlier profile is held.
    /// `detail` is safe to log: names the failure and the URL target (no
    /// query, no key).
    #[error("the user service is unavailable and no earlier profile is held: {detail}")]
    Unavailable { detail: String },
}

/// The profile cache and single-flight gate for one user service. Build it
/// once per process.
pub(crate) struct UserProfiles {
    settings: UserServiceSettings,
    outbound: Outbound,
    /// `None` when the API key cannot be put in a header; every call then
    /// fails with a message saying so, rather than failing at start-up in a
    /// constructor that cannot return an error.
    authorization: Option<HeaderValue>,
    /// Never held across an `.await`.
    cache: Mutex<BoundedCache<String, EntryState>>,
    /// The call in progress per subject.
    flights: Flights<String, Result<Profile, ProfileError>>,
}

impl std::fmt::Debug for UserProfiles {
    // Counts only: the cache holds users' profiles.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserProfiles")
            .field("settings", &self.settings)
            .field("cached", &lock(&self.cache).len())
            .field("in_flight", &self.flights.len())
            .finish_non_exhaustive()
    }
}

enum EntryState {
    Found {
        data: serde_json::Value,
        fetched_at: i64,
        fresh_until: Instant,
    },
    Missing {
        until: Instant,
    },
}

/// How one call to the user service ended.
enum CallError {
    NotFound,
    Unavailable(String),
}

impl UserProfiles {
    pub(crate) fn new(settings: UserServiceSettings, outbound: Outbound) -> Self {
        let authorization = HeaderValue::from_str(&format!("Bearer {}", settings.api_key.expose()))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        UserProfiles {
            settings,
            outbound,
            authorization,
            cache: Mutex::new(BoundedCache::new(MAX_CACHED)),
            flights: Flights::default(),
        }
    }

    /// The profile of `subject`: from the cache while fresh, else from the
    /// user service (stored in `db`), else the last known one, marked stale.
    ///
    /// `db` is None when DATABASE_URL is unset (then no upsert, no stored
    /// fallback). A database error during upsert is logged (tracing::warn!,
    /// target "gatehouse::users") and does not fail the request; a database
    /// error during fallback just means no fallback.
    /// The user service is asked for the identity's subject; the cache and
    /// `gatehouse_users` keep it under the whole identity, so two issuers'
    /// users of one `sub` never share a stored profile.
    pub(crate) async fn profile(
        &self,
        identity: &Identity,
        db: Option<&Database>,
    ) -> Result<Profile, ProfileError> {
        if identity.subject().is_empty() {
            return Err(ProfileError::NotFound);
        }
        let key = identity.as_str();
        if let Some(hit) = self.cached(key) {
            return hit;
        }
        self.flights
            .run(key.to_owned(), || self.fetch(identity, db))
            .await
    }

    /// A fresh cache entry's answer, if there is one.
    fn cached(&self, subject: &str) -> Option<Result<Profile, ProfileError>> {
        let cache = lock(&self.cache);
        let now = Instant::now();
        match cache.get(subject)? {
            EntryState::Found {
                data,
                fetched_at,
                fresh_until,
            } if now < *fresh_until => Some(Ok(Profile {
                data: data.clone(),
                source: ProfileSource::Cache,
                fetched_at: *fetched_at,
            })),
            EntryState::Missing { until } if now < *until => Some(Err(ProfileError::NotFound)),
            _ => None,
        }
    }

    /// A cached profile whatever its age, for when the service is down.
    fn stale(&self, subject: &str) -> Option<Profile> {
        match lock(&self.cache).get(subject)? {
            EntryState::Found {
                data, fetched_at, ..
            } => Some(Profile {
                data: data.clone(),
                source: ProfileSource::StaleCache,
                fetched_at: *fetched_at,
            }),
            EntryState::Missing { .. } => None,
        }
    }

    /// The single-flight body: one call to the user service and what follows.
    async fn fetch(
        &self,
        identity: &Identity,
        db: Option<&Database>,
    ) -> Result<Profile, ProfileError> {
        // The key everything here is stored under.
        let subject = identity.as_str();
        // Someone may have filled the cache between our miss and this flight.
        if let Some(hit) = self.cached(subject) {
            return hit;
        }
        match self.call(identity.subject()).await {
            Ok(data) => {
                let fetched_at = unix_now();
                let now = Instant::now();
                self.remember(
                    subject,
                    EntryState::Found {
                        data: data.clone(),
                        fetched_at,
                        fresh_until: now + self.settings.cache_ttl,
                    },
                );
                if let Some(db) = db
                    && let Err(err) = store(db, subject, &data, fetched_at).await
                {
                    tracing::warn!(
                        target: "gatehouse::users",
                        user_id = subject,
                        error = %err,
                        "the profile could not be stored in gatehouse_users; it will not serve during a user service outage"
                    );
                }
                Ok(Profile {
                    data,
                    source: ProfileSource::UserService,
                    fetched_at,
                })
            }
            Err(CallError::NotFound) => {
                let until = Instant::now() + NOT_FOUND_TTL.min(self.settings.cache_ttl);
                self.remember(subject, EntryState::Missing { until });
                if let Some(db) = db
                    && let Err(err) = forget(db, subject).await
                {
                    tracing::warn!(
                        target: "gatehouse::users",
                        user_id = subject,
                        error = %err,
                        "the profile of a user the user service no longer knows could not be removed from gatehouse_users"
                    );
                }
                Err(ProfileError::NotFound)
            }
            Err(CallError::Unavailable(detail)) => self.fall_back(subject, db, detail).await,
        }
    }

    /// The last known profile when the user service is down.
    async fn fall_back(
        &self,
        subject: &str,
        db: Option<&Database>,
        detail: String,
    ) -> Result<Profile, ProfileError> {
        let profile = match self.stale(subject) {
            Some(profile) => Some(profile),
            None => match db {
                Some(db) => self.load(db, subject).await,
                None => None,
            },
        };
        match profile {
            Some(profile) => {
                tracing::warn!(
                    target: "gatehouse::users",
                    user_id = subject,
                    source = ?profile.source,
                    fetched_at = profile.fetched_at,
                    error = detail.as_str(),
                    "the user service is unavailable; serving the last known profile"
                );
                Ok(profile)
            }
            None => Err(ProfileError::Unavailable { detail }),
        }
    }

    /// The stored profile, also kept in the process cache (already stale, so
    /// the service is still asked first next time).
    async fn load(&self, db: &Database, subject: &str) -> Option<Profile> {
        let row = match db
            .query_opt(
                "SELECT profile, extract(epoch FROM fetched_at)::int8 FROM gatehouse_users WHERE id = $1",
                &[(&subject, Type::TEXT)],
            )
            .await
        {
            Ok(row) => row?,
            Err(err) => {
                tracing::warn!(
                    target: "gatehouse::users",
                    user_id = subject,
                    error = %err,
                    "the stored profile could not be read from gatehouse_users"
                );
                return None;
            }
        };
        let data: serde_json::Value = row.try_get(0).ok()?;
        let fetched_at: i64 = row.try_get(1).ok()?;
        self.remember(
            subject,
            EntryState::Found {
                data: data.clone(),
                fetched_at,
                fresh_until: Instant::now(),
            },
        );
        Some(Profile {
            data,
            source: ProfileSource::Database,
            fetched_at,
        })
    }

    /// One GET to the user service, classified.
    async fn call(&self, subject: &str) -> Result<serde_json::Value, CallError> {
        let url = profile_url(&self.settings.url, subject);
        let target = display_url(&url);
        let Some(authorization) = self.authorization.clone() else {
            return Err(CallError::Unavailable(
                "USER_SERVICE_API_KEY contains characters that cannot be sent in an HTTP header"
                    .to_owned(),
            ));
        };
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        let response = self
            .outbound
            .get_with_headers(&url, headers, self.settings.timeout)
            .await
            .map_err(|err| CallError::Unavailable(err.to_string()))?;
        let status = response.status;
        if status == StatusCode::NOT_FOUND {
            return Err(CallError::NotFound);
        }
        if !status.is_success() {
            let detail = match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    format!("{target} answered {status}: it refuses USER_SERVICE_API_KEY")
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    format!("{target} answered {status}: it is rate limiting this service")
                }
                _ => format!("{target} answered {status}"),
            };
            return Err(CallError::Unavailable(detail));
        }
        let data: serde_json::Value = serde_json::from_slice(&response.body).map_err(|_| {
            let html = response
                .content_type()
                .is_some_and(|value| value.contains("html"));
            CallError::Unavailable(if html {
                format!(
                    "{target} answered an HTML page, not a profile: USER_SERVICE_URL likely points at a website rather than the user service API"
                )
            } else {
                format!("{target} answered {status} with a body that is not JSON")
            })
        })?;
        if !data.is_object() {
            return Err(CallError::Unavailable(format!(
                "{target} answers something that is not a profile: a JSON {}, not an object",
                json_kind(&data)
            )));
        }
        Ok(data)
    }

    /// Inserts or replaces an entry in the runtime's one bounded cache:
    /// when full, expired 404s go first, then other 404s, then the oldest
    /// profile. A profile never dies by age: it serves stale while the user
    /// service is down.
    fn remember(&self, subject: &str, state: EntryState) {
        let lifetime = match &state {
            EntryState::Found { .. } => Lifetime {
                dead_after: None,
                negative: false,
            },
            EntryState::Missing { until } => Lifetime {
                dead_after: Some(*until),
                negative: true,
            },
        };
        lock(&self.cache).insert(subject.to_owned(), state, lifetime, Instant::now());
    }
}

/// A poisoned lock only means another request panicked mid-update of a
/// cache; the map itself is still usable.
/// Upserts the profile, unless a newer one (from another instance) is there.
async fn store(
    db: &Database,
    subject: &str,
    data: &serde_json::Value,
    fetched_at: i64,
) -> Result<(), crate::db::DbError> {
    db.query(
        "INSERT INTO gatehouse_users (id, profile, fetched_at) VALUES ($1, $2, to_timestamp($3::float8)) \
         ON CONFLICT (id) DO UPDATE SET profile = EXCLUDED.profile, fetched_at = EXCLUDED.fetched_at \
         WHERE gatehouse_users.fetched_at <= EXCLUDED.fetched_at",
        &[
            (&subject, Type::TEXT),
            (data, Type::JSONB),
            (&fetched_at, Type::INT8),
        ],
    )
    .await
    .map(|_| ())
}

async fn forget(db: &Database, subject: &str) -> Result<(), crate::db::DbError> {
    db.query(
        "DELETE FROM gatehouse_users WHERE id = $1",
        &[(&subject, Type::TEXT)],
    )
    .await
    .map(|_| ())
}

/// The URL of `subject`'s profile: `{id}` in `template` replaced, or `/<id>`
/// appended to its path (before any query string).
pub(crate) fn profile_url(template: &str, subject: &str) -> String {
    // `.` and `..` are unreserved but are dot-segments that servers resolve
    // (`/users/..` is `/`), so they are encoded too.
    let encoded = if subject == "." || subject == ".." {
        subject.replace('.', "%2E")
    } else {
        utf8_percent_encode(subject, PATH_SEGMENT).to_string()
    };
    if template.contains("{id}") {
        return template.replace("{id}", &encoded);
    }
    let (base, query) = match template.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (template, None),
    };
    let mut url = format!("{}/{encoded}", base.trim_end_matches('/'));
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use std::sync::Arc;

    use super::*;

    fn id(subject: &str) -> Identity {
        Identity::new(crate::auth::identity::JWT, subject)
    }
    use crate::config::DatabaseConfig;
    use crate::db::url::DatabaseUrl;
    use crate::outbound::test_server::{Reply, TestServer, refused_addr};

    const KEY: &str = "usk_test_0123456789abcdef0123456789";

    fn settings(url: String, cache_ttl: Duration) -> UserServiceSettings {
        UserServiceSettings {
            url,
            api_key: crate::secret::Secret::new(KEY),
            cache_ttl,
            timeout: Duration::from_millis(500),
        }
    }

    fn profiles(url: String, cache_ttl: Duration) -> UserProfiles {
        UserProfiles::new(settings(url, cache_ttl), Outbound::new())
    }

    #[test]
    fn urls_are_built_from_a_template_or_a_base() {
        let cases = [
            (
                "https://u.example/users/{id}",
                "42",
                "https://u.example/users/42",
            ),
            (
                "https://u.example/users/{id}/profile?v=2",
                "a b",
                "https://u.example/users/a%20b/profile?v=2",
            ),
            (
                "https://u.example/users",
                "u-1._~",
                "https://u.example/users/u-1._~",
            ),
            (
                "https://u.example/users/",
                "42",
                "https://u.example/users/42",
            ),
            (
                "https://u.example/users?expand=all",
                "42",
                "https://u.example/users/42?expand=all",
            ),
            (
                "https://u.example/users",
                "a/b?c#d%e@f",
                "https://u.example/users/a%2Fb%3Fc%23d%25e%40f",
            ),
            (
                "https://u.example/users",
                "..",
                "https://u.example/users/%2E%2E",
            ),
            (
                "https://u.example/users",
                "é",
                "https://u.example/users/%C3%A9",
            ),
        ];
        for (template, id, want) in cases {
            assert_eq!(profile_url(template, id), want, "{template} {id}");
        }
        assert_eq!(
            display_url("https://u.example/users/42?token=x#f"),
            "https://u.example/users/42"
        );
    }

    #[tokio::test]
    async fn a_second_call_is_served_from_the_cache() {
        let server = TestServer::start(Reply::json(r#"{"name":"Ada"}"#)).await;
        let profiles = profiles(
            server.url("/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        let first = profiles.profile(&id("u1"), None).await.unwrap();
        assert_eq!(first.source, ProfileSource::UserService);
        assert_eq!(first.data, json!({"name": "Ada"}));
        let second = profiles.profile(&id("u1"), None).await.unwrap();
        assert_eq!(second.source, ProfileSource::Cache);
        assert_eq!(second.data, first.data);
        assert_eq!(second.fetched_at, first.fetched_at);
        assert_eq!(server.requests(), 1);
        // Another subject is another call.
        profiles.profile(&id("u2"), None).await.unwrap();
        assert_eq!(server.requests(), 2);
    }

    #[tokio::test]
    async fn a_down_service_serves_the_cached_profile_past_its_ttl_as_stale() {
        let server = TestServer::start(Reply::json(r#"{"name":"Ada"}"#)).await;
        // A zero TTL: every entry is past it at once.
        let profiles = profiles(server.url("/users/{id}"), Duration::ZERO);
        let first = profiles.profile(&id("u1"), None).await.unwrap();
        assert_eq!(first.source, ProfileSource::UserService);
        let failures = [
            Reply::json("{}").status(503),
            Reply::json("{}").status(500),
            Reply::json("{}").status(429),
            Reply::json("<html></html>").header("content-type", "text/html"),
            Reply::json("[1, 2]"),
            Reply::json("{}").delay(Duration::from_secs(5)),
        ];
        for (i, reply) in failures.into_iter().enumerate() {
            server.set_reply(reply.clone());
            let stale = profiles.profile(&id("u1"), None).await.unwrap();
            assert_eq!(stale.source, ProfileSource::StaleCache, "{reply:?}");
            assert_eq!(stale.data, json!({"name": "Ada"}));
            assert_eq!(stale.fetched_at, first.fetched_at);
            assert_eq!(
                server.requests(),
                i + 2,
                "the service is asked again each time"
            );
        }
        // Back up: fresh again.
        server.set_reply(Reply::json(r#"{"name":"Ada L."}"#));
        let fresh = profiles.profile(&id("u1"), None).await.unwrap();
        assert_eq!(fresh.source, ProfileSource::UserService);
        assert_eq!(fresh.data, json!({"name": "Ada L."}));
    }

    #[tokio::test]
    async fn a_down_service_with_nothing_cached_is_unavailable() {
        let refused = refused_addr().await;
        let profiles = profiles(
            format!("http://{refused}/users?key=q1"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        let err = profiles.profile(&id("u1"), None).await.unwrap_err();
        let ProfileError::Unavailable { detail } = &err else {
            panic!("{err:?}");
        };
        assert!(
            detail.contains(&format!("http://{refused}/users/u1")),
            "{detail}"
        );
        assert!(detail.contains("connection refused"), "{detail}");
        assert!(!detail.contains("q1") && !detail.contains(KEY), "{detail}");

        let server = TestServer::start(Reply::json(r#"["not", "a", "profile"]"#)).await;
        let profiles = self::profiles(
            server.url("/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        let err = profiles.profile(&id("u1"), None).await.unwrap_err();
        assert_eq!(
            err,
            ProfileError::Unavailable {
                detail: format!(
                    "{} answers something that is not a profile: a JSON array, not an object",
                    server.url("/users/u1")
                )
            }
        );
        server.set_reply(Reply::json("{}").status(502));
        let err = profiles.profile(&id("u1"), None).await.unwrap_err();
        assert!(
            err.to_string().ends_with("answered 502 Bad Gateway"),
            "{err}"
        );
        // A failure is not remembered: the service is asked each time.
        assert_eq!(server.requests(), 2);
        server.set_reply(Reply::json("{}").status(401));
        let err = profiles.profile(&id("u1"), None).await.unwrap_err();
        assert!(err.to_string().contains("USER_SERVICE_API_KEY"), "{err}");
        assert!(!err.to_string().contains(KEY), "{err}");
    }

    #[tokio::test]
    async fn a_404_is_not_found_and_remembered_briefly() {
        let server =
            TestServer::start(Reply::json(r#"{"error":"no such user"}"#).status(404)).await;
        let profiles = profiles(
            server.url("/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        assert_eq!(
            profiles.profile(&id("gone"), None).await.unwrap_err(),
            ProfileError::NotFound
        );
        assert_eq!(
            profiles.profile(&id("gone"), None).await.unwrap_err(),
            ProfileError::NotFound
        );
        assert_eq!(server.requests(), 1);
        assert_eq!(
            profiles.profile(&id(""), None).await.unwrap_err(),
            ProfileError::NotFound
        );
        assert_eq!(server.requests(), 1);

        // With a TTL shorter than 30 s, that TTL bounds the 404 too.
        let profiles = self::profiles(server.url("/users"), Duration::ZERO);
        profiles.profile(&id("gone"), None).await.unwrap_err();
        server.set_reply(Reply::json(r#"{"name":"New"}"#));
        let created = profiles.profile(&id("gone"), None).await.unwrap();
        assert_eq!(created.source, ProfileSource::UserService);
    }

    #[tokio::test]
    async fn a_404_drops_the_cached_profile() {
        let server = TestServer::start(Reply::json(r#"{"name":"Ada"}"#)).await;
        let profiles = profiles(server.url("/users"), Duration::ZERO);
        profiles.profile(&id("u1"), None).await.unwrap();
        server.set_reply(Reply::json("{}").status(404));
        assert_eq!(
            profiles.profile(&id("u1"), None).await.unwrap_err(),
            ProfileError::NotFound
        );
        server.set_reply(Reply::json("{}").status(503));
        assert!(matches!(
            profiles.profile(&id("u1"), None).await,
            Err(ProfileError::Unavailable { .. })
        ));
    }

    /// Accepts one connection, returns its request head, answers `body`.
    async fn capture_one_request(
        body: &'static str,
    ) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                let read = stream.read(&mut buffer).await.unwrap();
                if read == 0 {
                    break;
                }
                head.extend_from_slice(&buffer[..read]);
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&head).into_owned()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn the_api_key_is_sent_as_a_bearer_token_and_never_shown() {
        let (addr, request) = capture_one_request(r#"{"name":"Ada"}"#).await;
        let profiles = profiles(
            format!("http://{addr}/v1/users/{{id}}"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        let profile = profiles.profile(&id("user 1"), None).await.unwrap();
        assert_eq!(profile.data, json!({"name": "Ada"}));
        let head = tokio::time::timeout(Duration::from_secs(2), request)
            .await
            .unwrap()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            head.starts_with("get /v1/users/user%201 http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!(
                "\r\nauthorization: bearer {}\r\n",
                KEY.to_ascii_lowercase()
            )),
            "{head}"
        );
        let debug = format!("{profiles:?}");
        assert!(
            !debug.contains(KEY) && debug.contains("cached: 1"),
            "{debug}"
        );
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_call() {
        let server =
            TestServer::start(Reply::json(r#"{"name":"Ada"}"#).delay(Duration::from_millis(200)))
                .await;
        let profiles = profiles(
            server.url("/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        let u1 = id("u1");
        let calls = (0..8).map(|_| profiles.profile(&u1, None));
        let results = futures_util::future::join_all(calls).await;
        for result in results {
            assert_eq!(result.unwrap().data, json!({"name": "Ada"}));
        }
        assert_eq!(server.requests(), 1);
        assert!(profiles.flights.is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_or_failed_leader_does_not_wedge_followers() {
        let server =
            TestServer::start(Reply::json(r#"{"name":"Ada"}"#).delay(Duration::from_millis(300)))
                .await;
        let profiles = profiles(
            server.url("/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        // The leader gives up mid-call; a follower started with it finishes the work.
        let u1 = id("u1");
        let leader = tokio::time::timeout(Duration::from_millis(50), profiles.profile(&u1, None));
        let follower = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            profiles.profile(&id("u1"), None).await
        };
        let (leader, follower) = tokio::join!(leader, follower);
        assert!(leader.is_err(), "the leader timed out");
        assert_eq!(follower.unwrap().data, json!({"name": "Ada"}));

        // A failed call is shared by its waiters but not kept.
        server.set_reply(Reply::json("{}").status(503));
        let err = profiles.profile(&id("u2"), None).await.unwrap_err();
        assert!(matches!(err, ProfileError::Unavailable { .. }));
        server.set_reply(Reply::json(r#"{"name":"Bo"}"#));
        assert_eq!(
            profiles.profile(&id("u2"), None).await.unwrap().data,
            json!({"name": "Bo"})
        );
        assert!(profiles.flights.is_empty());
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let server = TestServer::start(Reply::json(r#"{"name":"Ada"}"#)).await;
        let mut profiles = profiles(
            server.url("/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        profiles.cache = Mutex::new(BoundedCache::new(3));
        for subject in ["a", "b", "c", "d", "e"] {
            profiles.profile(&id(subject), None).await.unwrap();
        }
        let cache = lock(&profiles.cache);
        assert_eq!(cache.len(), 3);
        assert!(
            cache.get("jwt:e").is_some()
                && cache.get("jwt:a").is_none()
                && cache.get("jwt:b").is_none()
        );
    }

    /// A throwaway database, dropped by [`TestDb::drop`].
    struct TestDb {
        name: String,
        admin: tokio_postgres::Client,
        db: Arc<Database>,
    }

    impl TestDb {
        async fn create() -> TestDb {
            let (admin, connection) = tokio_postgres::connect(
                "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3",
                tokio_postgres::NoTls,
            )
            .await
            .unwrap();
            tokio::spawn(connection);
            let name = format!("gh_users_{}", uuid::Uuid::new_v4().simple());
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let url = DatabaseUrl::parse(&format!(
                "postgres://postgres@127.0.0.1:5432/{name}?sslmode=disable"
            ))
            .unwrap();
            let config = DatabaseConfig {
                url,
                pool_max: 2,
                idle_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(3),
                statement_timeout: Duration::from_secs(3),
            };
            let db = Database::new(&config).unwrap();
            TestDb { name, admin, db }
        }

        async fn stored(&self, subject: &str) -> Option<(serde_json::Value, i64)> {
            self.db
                .query_opt(
                    "SELECT profile, extract(epoch FROM fetched_at)::int8 FROM gatehouse_users WHERE id = $1",
                    &[(&subject, Type::TEXT)],
                )
                .await
                .unwrap()
                .map(|row| (row.get(0), row.get(1)))
        }

        async fn drop(self) {
            self.db.close();
            drop(self.db);
            self.admin
                .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn profiles_are_stored_and_serve_when_the_service_is_down() {
        let test_db = TestDb::create().await;
        let db = test_db.db.clone();
        let server = TestServer::start(Reply::json(r#"{"name":"Ada"}"#)).await;

        // Before migrations the upsert fails: logged, the request still succeeds.
        let early = profiles(server.url("/users"), Duration::ZERO)
            .profile(&id("u0"), Some(&db))
            .await;
        crate::db::migrations::apply(&db, &[]).await.unwrap();

        let first = profiles(server.url("/users"), Duration::ZERO);
        let fetched = first.profile(&id("u1"), Some(&db)).await.unwrap();
        let stored_first = test_db.stored("jwt:u1").await;
        server.set_reply(Reply::json(r#"{"name":"Ada L."}"#));
        let refetched = first.profile(&id("u1"), Some(&db)).await.unwrap();
        let stored_second = test_db.stored("jwt:u1").await;

        // A fresh process: nothing cached, the service down.
        let refused = refused_addr().await;
        let second = profiles(
            format!("http://{refused}/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        );
        let from_db = second.profile(&id("u1"), Some(&db)).await;
        let from_cache = second.profile(&id("u1"), Some(&db)).await;
        let unknown = second.profile(&id("u9"), Some(&db)).await;
        let without_db = profiles(
            format!("http://{refused}/users"),
            crate::auth::settings::DEFAULT_USER_CACHE_TTL,
        )
        .profile(&id("u1"), None)
        .await;

        // A 404 removes the stored profile.
        server.set_reply(Reply::json("{}").status(404));
        let gone = first.profile(&id("u1"), Some(&db)).await;
        let stored_after_404 = test_db.stored("jwt:u1").await;
        drop(db);
        test_db.drop().await;

        assert_eq!(early.unwrap().source, ProfileSource::UserService);
        assert_eq!(fetched.source, ProfileSource::UserService);
        assert_eq!(
            stored_first,
            Some((json!({"name": "Ada"}), fetched.fetched_at))
        );
        assert_eq!(refetched.source, ProfileSource::UserService);
        assert_eq!(
            stored_second,
            Some((json!({"name": "Ada L."}), refetched.fetched_at))
        );
        let from_db = from_db.unwrap();
        assert_eq!(from_db.source, ProfileSource::Database);
        assert_eq!(from_db.data, json!({"name": "Ada L."}));
        assert_eq!(from_db.fetched_at, refetched.fetched_at);
        assert_eq!(from_cache.unwrap().source, ProfileSource::StaleCache);
        assert!(
            matches!(unknown, Err(ProfileError::Unavailable { .. })),
            "{unknown:?}"
        );
        assert!(
            matches!(without_db, Err(ProfileError::Unavailable { .. })),
            "{without_db:?}"
        );
        assert_eq!(gone.unwrap_err(), ProfileError::NotFound);
        assert_eq!(stored_after_404, None);
    }
}
