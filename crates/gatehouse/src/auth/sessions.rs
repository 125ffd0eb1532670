//! Sessions this API owns (`POST /api/auth/exchange`): for frontends on
//! another site, where the auth server's cookies never arrive (third-party
//! cookies are blocked, and `*.vercel.app` is a public suffix).
//!
//! - The token is `gs_` and 43 base64url characters (32 random bytes). Only
//!   its SHA-256 is stored, in Postgres: it survives restarts and redeploys
//!   and every instance shares it; nothing lives in a process's memory.
//! - The principal it was exchanged for is stored with it, so a session
//!   answers with the same subject, issuer and claims.
//! - Expiry slides: a session in use is extended to `SESSION_TTL_SECS` from
//!   now (default one day), at most once per thirtieth of it, so reads do not
//!   each cost a write; never past `SESSION_MAX_LIFETIME_SECS` from its
//!   creation (default 7 days), whatever the sliding does.
//! - It records its source, the credential it was exchanged for
//!   ([`SessionSource`]), and is refused when the source would be refused for
//!   a lasting reason: revoked, a stale token version, an issuer or secret
//!   no longer trusted, a Better Auth session gone. A `gs_` is never
//!   exchanged for another.
//! - Each subject holds at most `SESSION_MAX_PER_SUBJECT` sessions (the
//!   least recently used go first), and every exchange deletes a few expired
//!   sessions, so the table keeps only live ones.
//! - The cookie is `HttpOnly`, always `Secure`, `SameSite=Lax` (or `None`
//!   for cross-site use, never without `Secure`), and `__Host-` prefixed
//!   unless a `Domain` is configured.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::auth::credential::Credential;
use crate::auth::identity::{self, Identity};
use crate::auth::principal::{Method, Principal};
use crate::auth::refusal::{Facts, Refusal, store_unavailable};
use crate::auth::revocation::{RevocationState, Revoked};
use crate::auth::settings::{AuthSettings, SessionSettings, TokenVersion};
pub use crate::auth::settings::{DEFAULT_MAX_LIFETIME, DEFAULT_MAX_PER_SUBJECT, DEFAULT_TTL};
use crate::auth::verify::{Accepted, Attempt, Verify, database};
use crate::clock::rfc3339;
use crate::db::{Database, DbError, LazyDatabase};
use crate::reason::Reason;
use crate::secret::Secret;

pub use crate::auth::token_kind::SESSION_PREFIX as PREFIX;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session has this token")]
    NotFound,
    #[error("the session expired")]
    Expired { expires_at: i64 },
    /// Past `SESSION_MAX_LIFETIME_SECS` from its creation.
    #[error("the session reached its absolute lifetime")]
    LifetimeOver { created_at: i64 },
    /// Revoked by itself or by a sign-out-everywhere cutoff; its row was
    /// deleted, so it cannot come back when the revocation row expires.
    #[error("the session was revoked")]
    Revoked(Revoked),
    #[error("the system random number generator failed")]
    Random,
    #[error(transparent)]
    Store(#[from] DbError),
}

/// A new session: its token (shown once) and when it expires.
#[derive(Debug)]
pub struct Created {
    pub token: String,
    pub id: Uuid,
    pub expires_at: i64,
}

/// What a session stores of the principal it replaced.
fn stored(principal: &Principal) -> Value {
    json!({
        "subject": principal.subject,
        "namespace": principal.namespace,
        "issuer": principal.issuer,
        "method": principal.method,
        "claims": principal.claims,
    })
}

/// The credential a session was exchanged for, as far as it decides whether
/// that credential would still be accepted. Never the credential itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSource {
    /// `None` for sessions created before sources were recorded.
    pub method: Option<Method>,
    pub issuer: Option<String>,
    /// What a revocation of the source names (`jti:`, `sha256:`).
    pub revocation_id: Option<String>,
    pub token_version: Option<u64>,
    /// Fingerprint of the shared secret that verified it (JWT_SECRET or
    /// JWT_SECRET_PREVIOUS).
    pub secret: Option<String>,
    /// The Better Auth session it came from.
    pub session_id: Option<String>,
}

impl SessionSource {
    pub fn of(principal: &Principal, secret: Option<String>) -> SessionSource {
        SessionSource {
            method: Some(principal.method),
            issuer: principal.issuer.clone(),
            revocation_id: principal.revocation_id.clone(),
            token_version: principal.token_version,
            secret,
            session_id: principal
                .session_id
                .clone()
                .filter(|_| principal.method == Method::BetterAuthSession),
        }
    }
}

/// Expired sessions deleted by each exchange: bounded, so an exchange never
/// pays for a backlog, and enough to outpace the sessions that expire.
const PURGE_PER_EXCHANGE: i64 = 16;

pub async fn create(
    db: &Database,
    principal: &Principal,
    source: &SessionSource,
    settings: &SessionSettings,
) -> Result<Created, SessionError> {
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| SessionError::Random)?;
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let id = Uuid::new_v4();
    let ttl = ttl_secs(settings).min(lifetime_secs(settings));
    let source_json = serde_json::to_value(source).unwrap_or(Value::Null);
    // One statement: purge a few expired sessions, make room under the
    // subject's cap (the least recently used go; the new row is not visible
    // to this snapshot, hence one fewer kept), insert.
    let row = db
        .query_opt(
            "WITH expired AS (
                 DELETE FROM gatehouse_sessions WHERE id IN (
                     SELECT id FROM gatehouse_sessions WHERE expires_at < now()
                     ORDER BY expires_at LIMIT $8)),
             over_cap AS (
                 DELETE FROM gatehouse_sessions WHERE id IN (
                     SELECT id FROM gatehouse_sessions WHERE subject = $3 AND id <> $1
                     ORDER BY refreshed_at DESC OFFSET greatest($7::int8 - 1, 0)))
             INSERT INTO gatehouse_sessions (id, token_hash, subject, principal, expires_at, source, source_revocation_id)
             VALUES ($1, $2, $3, $4, now() + $5::float8 * interval '1 second', $6, $6->>'revocation_id')
             -- A re-run after a dead connection finds its own row.
             ON CONFLICT (id) DO UPDATE SET id = excluded.id
             RETURNING floor(extract(epoch FROM expires_at))::int8",
            &[
                (&id, Type::UUID),
                (&hash(&token), Type::BYTEA),
                (&principal.identity().as_str(), Type::TEXT),
                (&stored(principal), Type::JSONB),
                (&ttl, Type::INT8),
                (&source_json, Type::JSONB),
                (&i64::from(settings.max_per_subject), Type::INT8),
                (&PURGE_PER_EXCHANGE, Type::INT8),
            ],
        )
        .await?
        .ok_or(SessionError::NotFound)?;
    let expires_at: i64 = row.try_get(0).map_err(DbError::Query)?;
    Ok(Created {
        token,
        id,
        expires_at,
    })
}

fn lifetime_secs(settings: &SessionSettings) -> i64 {
    i64::try_from(settings.max_lifetime.as_secs()).unwrap_or(i64::MAX)
}

fn ttl_secs(settings: &SessionSettings) -> i64 {
    i64::try_from(settings.ttl.as_secs()).unwrap_or(i64::MAX)
}

const LOOKUP: &str = "SELECT id, principal,
        floor(extract(epoch FROM expires_at))::int8,
        floor(extract(epoch FROM refreshed_at))::int8,
        extract(epoch FROM created_at)::float8,
        NULL::float8, NULL::float8, source, NULL::float8
   FROM gatehouse_sessions WHERE token_hash = $1";

/// The same row, its revocation state and its source's, in one round trip.
const LOOKUP_WITH_REVOCATION: &str = "SELECT s.id, s.principal,
        floor(extract(epoch FROM s.expires_at))::int8,
        floor(extract(epoch FROM s.refreshed_at))::int8,
        extract(epoch FROM s.created_at)::float8,
        r.revoked_at, r.not_before, s.source, src.revoked_at
   FROM gatehouse_sessions s
   LEFT JOIN LATERAL gatehouse_revocation_state('session:' || s.id::text, s.subject) r ON true
   LEFT JOIN LATERAL gatehouse_revocation_state(s.source_revocation_id, NULL) src ON true
  WHERE s.token_hash = $1";

/// The principal of a live session. In this order, so that a refused
/// session never extends itself: expiry, revocation (with
/// `check_revocation`; a revoked session's row is deleted, so it cannot come
/// back once its revocation row expires), and only then the sliding expiry.
/// The caller need not check revocation again.
pub async fn authenticate(
    db: &Database,
    token: &str,
    source: String,
    settings: &SessionSettings,
    now: i64,
    check_revocation: bool,
) -> Result<Authenticated, SessionError> {
    let sql = if check_revocation {
        LOOKUP_WITH_REVOCATION
    } else {
        LOOKUP
    };
    let row = db
        .query_opt(sql, &[(&hash(token), Type::BYTEA)])
        .await?
        .ok_or(SessionError::NotFound)?;
    let id: Uuid = row.try_get(0).map_err(DbError::Query)?;
    let stored: Value = row.try_get(1).map_err(DbError::Query)?;
    let mut expires_at: i64 = row.try_get(2).map_err(DbError::Query)?;
    let refreshed_at: i64 = row.try_get(3).map_err(DbError::Query)?;
    let created_at: f64 = row.try_get(4).map_err(DbError::Query)?;
    let revocation = RevocationState {
        // The session's own revocation, or its source's.
        token_revoked_at: row
            .try_get::<_, Option<f64>>(5)
            .map_err(DbError::Query)?
            .or(row.try_get::<_, Option<f64>>(8).map_err(DbError::Query)?),
        subject_not_before: row.try_get(6).map_err(DbError::Query)?,
    };
    let recorded: Value = row.try_get(7).map_err(DbError::Query)?;
    // Fail closed: a source that cannot be read cannot be shown to be trusted.
    let origin: SessionSource =
        serde_json::from_value(recorded).map_err(|_| SessionError::NotFound)?;
    if expires_at <= now {
        return Err(SessionError::Expired { expires_at });
    }
    let created = created_at.floor() as i64;
    if created.saturating_add(lifetime_secs(settings)) <= now {
        end_quietly(db, id).await;
        return Err(SessionError::LifetimeOver {
            created_at: created,
        });
    }
    if let Some(revoked) = revocation.verdict(Some(created_at)) {
        end_quietly(db, id).await;
        return Err(SessionError::Revoked(revoked));
    }
    if now.saturating_sub(refreshed_at) >= settings.refresh_after() {
        let ttl = ttl_secs(settings);
        if let Some(row) = db
            .query_opt(
                "UPDATE gatehouse_sessions
                 SET expires_at = least(now() + $2::float8 * interval '1 second',
                                        created_at + $3::float8 * interval '1 second'),
                     refreshed_at = now()
                 WHERE id = $1
                 RETURNING floor(extract(epoch FROM expires_at))::int8",
                &[
                    (&id, Type::UUID),
                    (&ttl, Type::INT8),
                    (&lifetime_secs(settings), Type::INT8),
                ],
            )
            .await?
        {
            expires_at = row.try_get(0).map_err(DbError::Query)?;
        }
    }
    let subject = stored["subject"].as_str().unwrap_or_default().to_owned();
    // Sessions stored before namespaces were recorded had theirs filled in
    // by migration 4.
    let namespace = stored["namespace"].as_str().unwrap_or(identity::LEGACY);
    let mut principal = Principal::new(namespace, subject, Method::GatehouseSession, source);
    principal.issuer = stored["issuer"].as_str().map(str::to_owned);
    principal.claims = match &stored["claims"] {
        Value::Object(claims) => claims.clone(),
        _ => Map::new(),
    };
    principal.expires_at = Some(expires_at);
    principal.session_id = Some(id.to_string());
    // A sign-out-everywhere cutoff applies to sessions created before it.
    principal.issued_at = Some(created_at);
    principal.revocation_id = Some(format!("session:{id}"));
    Ok(Authenticated {
        principal,
        source: origin,
    })
}

/// A live session's principal, and the source the caller must still trust.
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub source: SessionSource,
}

/// Deletes a session that is refused for good, logging a failure: it stays
/// refused either way while its revocation lasts.
pub async fn end_quietly(db: &Database, id: Uuid) {
    if let Err(err) = end(db, id).await {
        tracing::warn!(target: "gatehouse::auth::sessions", error = %err, "a refused session's row could not be deleted");
    }
}

/// Ends every session exchanged for the credential `revocation_id` names:
/// revoking a credential revokes what was made from it.
pub async fn end_derived(db: &Database, revocation_id: &str) -> Result<u64, DbError> {
    Ok(db
        .query(
            "DELETE FROM gatehouse_sessions WHERE source_revocation_id = $1",
            &[(&revocation_id, Type::TEXT)],
        )
        .await?
        .rows_affected)
}

/// Ends the session `id`; whether one did.
pub async fn end(db: &Database, id: Uuid) -> Result<bool, DbError> {
    let output = db
        .query(
            "DELETE FROM gatehouse_sessions WHERE id = $1",
            &[(&id, Type::UUID)],
        )
        .await?;
    Ok(output.rows_affected > 0)
}

/// Ends every session of `identity`; how many.
pub async fn end_all(db: &Database, identity: &Identity) -> Result<u64, DbError> {
    Ok(db
        .query(
            "DELETE FROM gatehouse_sessions WHERE subject = $1",
            &[(&identity.as_str(), Type::TEXT)],
        )
        .await?
        .rows_affected)
}

/// Sessions of this API (`gs_` tokens from `POST /api/auth/exchange`),
/// looked up with their revocation in one statement, and refused with
/// their source: a session never outlives what it was exchanged for.
#[derive(Debug)]
pub(crate) struct SessionVerifier {
    settings: Arc<AuthSettings>,
    database: Arc<LazyDatabase>,
}

impl SessionVerifier {
    pub(crate) fn new(settings: Arc<AuthSettings>, database: Arc<LazyDatabase>) -> Self {
        SessionVerifier { settings, database }
    }

    /// Whether the credential a session was exchanged for would still be
    /// accepted, as far as a lasting reason goes: the session is refused
    /// with the reason the source would get.
    async fn source_still_accepted(
        &self,
        db: &Database,
        source: &SessionSource,
    ) -> Result<(), Refusal> {
        use crate::auth::principal::Method::*;
        let Some(method) = source.method else {
            // Created before sources were recorded: its lifetime bounds it.
            return Ok(());
        };
        let exchanged = "the credential this session was exchanged for";
        let again = "sign in again and exchange the new credential with POST /api/auth/exchange";
        if let Some(TokenVersion { server }) = self.settings.token_version
            && matches!(method, JwtJwks | JwtStaticKey | JwtSharedSecret)
            && source.token_version.unwrap_or(0) < server
        {
            return Err(Refusal::revealing(
                Reason::TokenVersionStale,
                format!(
                    "{exchanged} has token version {}, older than this server's {server}",
                    source
                        .token_version
                        .map_or("absent".to_owned(), |v| v.to_string())
                ),
                again,
            ));
        }
        let issuer_trusted = |issuer: &Option<String>| {
            issuer.as_deref().is_some_and(|iss| {
                self.settings
                    .issuers
                    .iter()
                    .any(|trusted| trusted.issuer.matches(iss))
            })
        };
        match method {
            JwtJwks | JwtStaticKey if !issuer_trusted(&source.issuer) => Err(Refusal::revealing(
                Reason::IssuerMismatch,
                format!(
                    "{exchanged} came from the issuer {}, which this deployment no longer trusts",
                    source.issuer.as_deref().unwrap_or("(none)")
                ),
                again,
            )),
            JwtSharedSecret => {
                let held = self.settings.shared_secret.as_ref().map(|shared| {
                    std::iter::once(shared.current.fingerprint())
                        .chain(shared.previous.as_ref().map(Secret::fingerprint))
                        .collect::<Vec<_>>()
                });
                let still_held = match (&held, &source.secret) {
                    (Some(held), Some(secret)) => held.contains(secret),
                    _ => false,
                };
                if still_held {
                    Ok(())
                } else {
                    Err(Refusal::revealing(
                        Reason::SignatureInvalid,
                        format!(
                            "{exchanged} was signed with a shared secret this deployment no longer holds (JWT_SECRET changed, or JWT_SECRET_PREVIOUS removed)"
                        ),
                        again,
                    ))
                }
            }
            BetterAuthSession => {
                let live = match source.session_id.as_deref() {
                    Some(id) if self.settings.sessions_in_database() => {
                        crate::auth::better_auth::database::is_live(db, id)
                            .await
                            .map_err(|err| store_unavailable(&err))?
                    }
                    _ => false,
                };
                if live {
                    Ok(())
                } else {
                    Err(Refusal::new(
                        Reason::SessionNotFound,
                        format!(
                            "{exchanged} (a Better Auth session) has ended: signed out, expired or deleted, or Better Auth sessions are no longer accepted here"
                        ),
                        again,
                    ))
                }
            }
            BetterAuthRemote if self.settings.remote_sessions.is_none() => Err(Refusal::new(
                Reason::SessionNotFound,
                format!(
                    "{exchanged} was a Better Auth session validated by AUTH_SERVER_URL, which this deployment no longer asks"
                ),
                again,
            )),
            AuthjsSession if self.settings.authjs_secrets.is_empty() => Err(Refusal::new(
                Reason::TokenDecryptionFailed,
                format!(
                    "{exchanged} was an Auth.js session, and this deployment no longer holds AUTH_SECRET"
                ),
                again,
            )),
            ApiKey | GatehouseSession => Err(Refusal::new(
                Reason::Forbidden,
                format!("{exchanged} is a kind that is never exchanged"),
                again,
            )),
            _ => Ok(()),
        }
    }

    async fn lookup(
        &self,
        db: &Database,
        credential: &Credential,
        now: i64,
        facts: &mut Facts,
    ) -> Result<Authenticated, Refusal> {
        let settings = &self.settings.sessions;
        let check_revocation = self.settings.checks_revocation();
        let source = credential.source.to_string();
        let token = credential.token.expose();
        match authenticate(db, token, source, settings, now, check_revocation).await {
            Ok(authenticated) => Ok(authenticated),
            Err(SessionError::LifetimeOver { created_at }) => Err(Refusal::revealing(
                Reason::SessionExpired,
                format!(
                    "the session was created at {} and has reached its absolute lifetime of {} s, however much it was used",
                    rfc3339(created_at),
                    settings.max_lifetime.as_secs()
                ),
                "exchange a fresh credential for a new session with POST /api/auth/exchange; SESSION_MAX_LIFETIME_SECS sets the lifetime",
            )),
            Err(SessionError::Revoked(revoked)) => Err(crate::auth::revocation::revoked(revoked)),
            Err(SessionError::NotFound) => Err(Refusal::new(
                Reason::SessionNotFound,
                "no session of this API has this token: it was ended by POST /api/auth/logout, or belongs to another deployment's database",
                "exchange a credential for a new session with POST /api/auth/exchange",
            )),
            Err(SessionError::Expired { expires_at }) => {
                facts.exp = Some(expires_at);
                Err(Refusal::revealing(
                    Reason::SessionExpired,
                    format!(
                        "the session expired at {} after {} s unused",
                        rfc3339(expires_at),
                        settings.ttl.as_secs()
                    ),
                    "exchange a credential for a new session with POST /api/auth/exchange; SESSION_TTL_SECS sets how long an unused session lasts",
                ))
            }
            Err(SessionError::Store(err)) => Err(store_unavailable(&err)),
            Err(SessionError::Random) => Err(Refusal::new(
                Reason::InternalError,
                "the system random number generator failed",
                "retry",
            )),
        }
    }
}

impl Verify for SessionVerifier {
    const CHECKS: &'static [&'static str] =
        &["recognised", "session lookup", "expiry", "revocation"];

    async fn verify(&self, attempt: Attempt<'_>) -> Result<Accepted, Refusal> {
        let Attempt {
            credential,
            now,
            facts,
            ..
        } = attempt;
        let db = database(&self.database)?;
        let session = self.lookup(&db, credential, now, facts).await?;
        // The lookup checked revocation in its own statement, before
        // sliding the expiry.
        if let Err(refusal) = self.source_still_accepted(&db, &session.source).await {
            // Lasting: the source will not be accepted again.
            if !refusal.reason.status().is_server_error()
                && let Some(id) = session.principal.session_id.as_deref()
                && let Ok(id) = Uuid::parse_str(id)
            {
                end_quietly(&db, id).await;
            }
            return Err(refusal);
        }
        Ok(Accepted {
            principal: session.principal,
            revocation_checked: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::auth::token_kind::{TokenKind, classify};
    use crate::http::same_site::SameSite;

    #[test]
    fn the_cookie_is_host_prefixed_secure_and_http_only() {
        let settings = SessionSettings::default();
        let cookie = settings.set_cookie("gs_x", Duration::from_secs(60));
        assert_eq!(
            cookie,
            "__Host-gatehouse_session=gs_x; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        let cross_site = SessionSettings {
            same_site: SameSite::None,
            domain: Some("example.com".into()),
            ..SessionSettings::default()
        };
        let cookie = cross_site.set_cookie("", Duration::ZERO);
        assert!(
            cookie
                .starts_with("__Secure-gatehouse_session=; Path=/; Max-Age=0; Domain=example.com")
        );
        assert!(cookie.ends_with("HttpOnly; Secure; SameSite=None"));
    }

    #[test]
    fn tokens_are_recognised_by_shape() {
        let token = format!("gs_{}", "a".repeat(43));
        assert_eq!(classify(&token), TokenKind::GatehouseSession);
        assert_ne!(classify("gs_short"), TokenKind::GatehouseSession);
        assert_ne!(
            classify(&format!("gk_{}", "a".repeat(43))),
            TokenKind::GatehouseSession
        );
    }
}
