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
//!   now, at most once per thirtieth of the lifetime (once a day for the
//!   default 30 days), so reads do not each cost a write.
//! - The cookie is `HttpOnly`, always `Secure`, `SameSite=Lax` (or `None`
//!   for cross-site use, never without `Secure`), and `__Host-` prefixed
//!   unless a `Domain` is configured.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::auth::jwt::Method;
use crate::auth::principal::Principal;
use crate::auth::revocation::{RevocationState, Revoked};
use crate::browser_rules::SameSite;
use crate::db::{Database, DbError};

pub const PREFIX: &str = "gs_";
const SECRET_CHARS: usize = 43;

/// `SESSION_*` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    pub ttl: Duration,
    pub same_site: SameSite,
    /// `SESSION_COOKIE_DOMAIN`: shared with subdomains; drops `__Host-`.
    pub domain: Option<String>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            ttl: Duration::from_secs(30 * 24 * 3600),
            same_site: SameSite::Lax,
            domain: None,
        }
    }
}

impl SessionSettings {
    /// `__Host-` when the cookie can have it (no `Domain`), else `__Secure-`:
    /// either way a browser refuses the cookie without `Secure`, and a
    /// sibling subdomain cannot plant a `__Host-` one.
    pub fn cookie_name(&self) -> &'static str {
        if self.domain.is_some() {
            "__Secure-gatehouse_session"
        } else {
            "__Host-gatehouse_session"
        }
    }

    /// The `Set-Cookie` value carrying `token` for `max_age`, or clearing
    /// the cookie when `token` is empty.
    pub fn set_cookie(&self, token: &str, max_age: Duration) -> String {
        let same_site = match self.same_site {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        };
        let domain = self
            .domain
            .as_ref()
            .map_or_else(String::new, |domain| format!("; Domain={domain}"));
        format!(
            "{}={token}; Path=/; Max-Age={}{domain}; HttpOnly; Secure; SameSite={same_site}",
            self.cookie_name(),
            max_age.as_secs()
        )
    }

    fn refresh_after(&self) -> i64 {
        i64::try_from(self.ttl.as_secs() / 30).unwrap_or(i64::MAX)
    }
}

pub fn looks_like_session_token(value: &str) -> bool {
    value.len() == PREFIX.len() + SECRET_CHARS
        && value.starts_with(PREFIX)
        && value[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session has this token")]
    NotFound,
    #[error("the session expired")]
    Expired { expires_at: i64 },
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
        "issuer": principal.issuer,
        "method": principal.method,
        "claims": principal.claims,
    })
}

pub async fn create(
    db: &Database,
    principal: &Principal,
    settings: &SessionSettings,
) -> Result<Created, SessionError> {
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| SessionError::Random)?;
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let id = Uuid::new_v4();
    let ttl = ttl_secs(settings);
    let row = db
        .query_opt(
            "INSERT INTO gatehouse_sessions (id, token_hash, subject, principal, expires_at)
             VALUES ($1, $2, $3, $4, now() + $5::float8 * interval '1 second')
             -- A re-run after a dead connection finds its own row.
             ON CONFLICT (id) DO UPDATE SET id = excluded.id
             RETURNING floor(extract(epoch FROM expires_at))::int8",
            &[
                (&id, Type::UUID),
                (&hash(&token), Type::BYTEA),
                (&principal.subject, Type::TEXT),
                (&stored(principal), Type::JSONB),
                (&ttl, Type::INT8),
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

fn ttl_secs(settings: &SessionSettings) -> i64 {
    i64::try_from(settings.ttl.as_secs()).unwrap_or(i64::MAX)
}

const LOOKUP: &str = "SELECT id, principal,
        floor(extract(epoch FROM expires_at))::int8,
        floor(extract(epoch FROM refreshed_at))::int8,
        extract(epoch FROM created_at)::float8,
        NULL::float8, NULL::float8
   FROM gatehouse_sessions WHERE token_hash = $1";

/// The same row and its revocation state, in one round trip.
const LOOKUP_WITH_REVOCATION: &str = "SELECT s.id, s.principal,
        floor(extract(epoch FROM s.expires_at))::int8,
        floor(extract(epoch FROM s.refreshed_at))::int8,
        extract(epoch FROM s.created_at)::float8,
        r.revoked_at, r.not_before
   FROM gatehouse_sessions s
   LEFT JOIN LATERAL gatehouse_revocation_state('session:' || s.id::text, s.subject) r ON true
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
) -> Result<Principal, SessionError> {
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
        token_revoked_at: row.try_get(5).map_err(DbError::Query)?,
        subject_not_before: row.try_get(6).map_err(DbError::Query)?,
    };
    if expires_at <= now {
        return Err(SessionError::Expired { expires_at });
    }
    if let Some(revoked) = revocation.verdict(Some(created_at)) {
        if let Err(err) = end(db, id).await {
            tracing::warn!(target: "gatehouse::auth::sessions", error = %err, "a revoked session's row could not be deleted; it stays refused while its revocation lasts");
        }
        return Err(SessionError::Revoked(revoked));
    }
    if now.saturating_sub(refreshed_at) >= settings.refresh_after() {
        let ttl = ttl_secs(settings);
        if let Some(row) = db
            .query_opt(
                "UPDATE gatehouse_sessions
                 SET expires_at = now() + $2::float8 * interval '1 second', refreshed_at = now()
                 WHERE id = $1
                 RETURNING floor(extract(epoch FROM expires_at))::int8",
                &[(&id, Type::UUID), (&ttl, Type::INT8)],
            )
            .await?
        {
            expires_at = row.try_get(0).map_err(DbError::Query)?;
        }
    }
    let subject = stored["subject"].as_str().unwrap_or_default().to_owned();
    let mut principal = Principal::new(subject, Method::GatehouseSession, source);
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
    Ok(principal)
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

/// Ends every session of `subject`; how many.
pub async fn end_all(db: &Database, subject: &str) -> Result<u64, DbError> {
    Ok(db
        .query(
            "DELETE FROM gatehouse_sessions WHERE subject = $1",
            &[(&subject, Type::TEXT)],
        )
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(looks_like_session_token(&token));
        assert!(!looks_like_session_token("gs_short"));
        assert!(!looks_like_session_token(&format!("gk_{}", "a".repeat(43))));
    }
}
