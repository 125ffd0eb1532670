//! Revocation: tokens refused before they expire, shared by every instance.
//!
//! Revocations live in Postgres, not in a process, so a token revoked
//! through one instance is refused by every other at once. Two kinds:
//! - one token, by its `jti` or, when it has none, by the SHA-256 of the
//!   whole token (`gatehouse_revoked_tokens`), kept until it would have
//!   expired anyway;
//! - everything a subject holds that was issued before a cutoff ("sign me
//!   out everywhere", `gatehouse_subject_cutoffs`).
//!
//! The authenticator checks a credential against each process's copy of
//! these tables (`auth/revocation_mirror.rs`, read again by change at most
//! once per `REVOCATION_SYNC_MS`), not with a statement per request; routes
//! that defer it fold it into their own statement.
//! Every path applies [`RevocationState::verdict`].

use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;

use crate::auth::identity::Identity;
use crate::auth::refusal::Refusal;
use crate::clock::rfc3339;
use crate::db::{Database, DbError};
use crate::reason::Reason;

/// What the revocation tables say about one credential.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RevocationState {
    /// When this very token was revoked.
    pub token_revoked_at: Option<f64>,
    /// Tokens of the subject issued before this instant are revoked.
    pub subject_not_before: Option<f64>,
}

/// Why a credential counts as revoked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Revoked {
    Token {
        revoked_at: f64,
    },
    /// Issued at `issued_at` (None: unknown), before the subject's cutoff.
    Subject {
        not_before: f64,
        issued_at: Option<f64>,
    },
}

impl RevocationState {
    /// `issued_at` is the token's `iat` or the session's creation time. A
    /// credential that does not say when it was issued is revoked by any
    /// cutoff: strict, since its age cannot be shown to be after it.
    ///
    /// Whole seconds, as JWT `iat` is: a credential issued in the cutoff's
    /// second or later stands (Firebase's `tokensValidAfterTime` rule), so
    /// signing in right after "sign out everywhere" works. The SQL twin is
    /// `gatehouse_is_revoked` (migration 4); a test compares the two.
    pub fn verdict(&self, issued_at: Option<f64>) -> Option<Revoked> {
        if let Some(revoked_at) = self.token_revoked_at {
            return Some(Revoked::Token { revoked_at });
        }
        let not_before = self.subject_not_before?;
        match issued_at {
            Some(at) if at.floor() >= not_before.floor() => None,
            _ => Some(Revoked::Subject {
                not_before,
                issued_at,
            }),
        }
    }
}

/// The id a token is revoked by: `jti:<jti>` when it has one, else
/// `sha256:<hex>` of the whole token (never the token itself).
pub fn token_id(jti: Option<&str>, token: &str) -> String {
    match jti {
        Some(jti) if !jti.is_empty() => format!("jti:{jti}"),
        _ => {
            // Every JWT without a `jti` pays this per request: no
            // formatting machinery (and no allocation) per byte.
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let digest = Sha256::digest(token.as_bytes());
            let mut id = String::with_capacity(7 + 64);
            id.push_str("sha256:");
            for byte in digest {
                id.push(char::from(HEX[usize::from(byte >> 4)]));
                id.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
            id
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error("the revocation tables or functions are missing: run `gatehouse migrate`")]
    TablesMissing,
    #[error(transparent)]
    Store(DbError),
    #[error("the database answered without the row it must return")]
    NoRow,
}

impl From<DbError> for RevocationError {
    fn from(err: DbError) -> Self {
        if matches!(err, DbError::SchemaMissing(_)) {
            RevocationError::TablesMissing
        } else {
            RevocationError::Store(err)
        }
    }
}

/// A function of migration 3: its plan is kept per connection, where the
/// same SQL inline would be planned on every request.
const CHECK: &str = "SELECT revoked_at, not_before FROM gatehouse_revocation_state($1, $2)";

/// Reads the revocation state of one token of `subject`: one statement,
/// what each process's copy answers without one.
pub async fn check(
    db: &Database,
    token_id: &str,
    identity: &Identity,
) -> Result<RevocationState, RevocationError> {
    let row = db
        .query_opt(
            CHECK,
            &[(&token_id, Type::TEXT), (&identity.as_str(), Type::TEXT)],
        )
        .await?;
    let Some(row) = row else {
        return Ok(RevocationState::default());
    };
    let read = || -> Result<RevocationState, tokio_postgres::Error> {
        Ok(RevocationState {
            token_revoked_at: row.try_get(0)?,
            subject_not_before: row.try_get(1)?,
        })
    };
    read().map_err(|err| RevocationError::from(DbError::query(err)))
}

/// Revokes one token until `expires_at` (Unix seconds). Idempotent.
pub async fn revoke_token(
    db: &Database,
    token_id: &str,
    identity: &Identity,
    expires_at: i64,
) -> Result<(), RevocationError> {
    // Expired rows are purged here, on the rare write path, so the table
    // stays as small as the set of live revoked tokens; a bounded batch per
    // write, so no revocation pays for a long backlog at once (every
    // process's copy drops them at their expiry by itself).
    db.query(
        "WITH purge AS (DELETE FROM gatehouse_revoked_tokens WHERE token_id IN (
             SELECT token_id FROM gatehouse_revoked_tokens
              WHERE expires_at < now() - interval '1 day' ORDER BY expires_at LIMIT 256))
         INSERT INTO gatehouse_revoked_tokens (token_id, subject, expires_at)
         VALUES ($1, $2, to_timestamp($3::float8))
         ON CONFLICT (token_id) DO NOTHING",
        &[
            (&token_id, Type::TEXT),
            (&identity.as_str(), Type::TEXT),
            (&(expires_at as f64), Type::FLOAT8),
        ],
    )
    .await?;
    Ok(())
}

/// Revokes everything `subject` holds that was issued before now. Returns
/// the cutoff (Unix seconds, fractional).
pub async fn revoke_subject(db: &Database, identity: &Identity) -> Result<f64, RevocationError> {
    let row = db
        .query_opt(
            "INSERT INTO gatehouse_subject_cutoffs (subject, not_before) VALUES ($1, date_trunc('second', now()))
             ON CONFLICT (subject) DO UPDATE SET not_before = greatest(gatehouse_subject_cutoffs.not_before, excluded.not_before)
             RETURNING extract(epoch from not_before)::float8",
            &[(&identity.as_str(), Type::TEXT)],
        )
        .await?;
    row.and_then(|row| row.try_get::<_, f64>(0).ok())
        .ok_or(RevocationError::NoRow)
}

/// The refusal for a revocation store that could not be read or written:
/// `schema_outdated` when its tables are missing, else unavailable (503).
pub fn revocation_unavailable(err: RevocationError) -> Refusal {
    match err {
        RevocationError::TablesMissing => Refusal::revealing(
            Reason::SchemaOutdated,
            "the revocation tables or functions (gatehouse_revoked_tokens, gatehouse_revocation_state) are missing from this database: its schema is older than this build",
            "run `gatehouse migrate` against DATABASE_URL, or set TOKEN_REVOCATION=off",
        ),
        RevocationError::Store(err) => crate::auth::refusal::store_unavailable(&err),
        RevocationError::NoRow => Refusal::new(
            Reason::SessionStoreUnavailable,
            "the revocation check returned no row",
            "retry; if it persists, the log under this request id has the details",
        ),
    }
}

pub(crate) fn revoked(revoked: Revoked) -> Refusal {
    let at = |secs: f64| rfc3339(secs.floor() as i64);
    let detail = match revoked {
        Revoked::Token { revoked_at } => format!("this token was revoked at {}", at(revoked_at)),
        Revoked::Subject {
            not_before,
            issued_at: Some(issued_at),
        } => format!(
            "every credential of this user issued before {} was revoked (sign-out everywhere); this one was issued at {}",
            at(not_before),
            at(issued_at)
        ),
        Revoked::Subject { not_before, .. } => format!(
            "every credential of this user issued before {} was revoked (sign-out everywhere), and this one does not say when it was issued",
            at(not_before)
        ),
    };
    Refusal::revealing(
        Reason::TokenRevoked,
        detail,
        "sign in again to get a new credential",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_prefer_jti_and_never_hold_the_token() {
        assert_eq!(token_id(Some("abc"), "tok"), "jti:abc");
        let id = token_id(None, "secret-token-value");
        assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
        assert!(!id.contains("secret"));
        assert_eq!(token_id(Some(""), "t"), token_id(None, "t"));
        // Lower-case hex of SHA-256, as Postgres' encode(sha256(..), 'hex').
        assert_eq!(
            token_id(None, "abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verdicts() {
        let clear = RevocationState::default();
        assert_eq!(clear.verdict(Some(10.0)), None);
        let token = RevocationState {
            token_revoked_at: Some(5.0),
            subject_not_before: None,
        };
        assert!(matches!(
            token.verdict(Some(1.0)),
            Some(Revoked::Token { .. })
        ));
        let cutoff = RevocationState {
            token_revoked_at: None,
            subject_not_before: Some(100.0),
        };
        assert!(cutoff.verdict(Some(99.0)).is_some());
        assert!(cutoff.verdict(Some(99.999)).is_some());
        // The cutoff's own second stands: a sign-in right after it.
        assert!(cutoff.verdict(Some(100.0)).is_none());
        assert!(cutoff.verdict(Some(100.7)).is_none());
        assert!(cutoff.verdict(Some(101.0)).is_none());
        assert!(cutoff.verdict(None).is_some());
    }
}
