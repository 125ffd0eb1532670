//! Better Auth sessions, validated against the shared Postgres: no HTTP hop.
//!
//! A session cookie (and the bearer plugin's token) is
//! `encodeURIComponent(token + "." + base64(HMAC-SHA256(secret, token)))`.
//! The signature is checked first, in constant time, with every configured
//! secret: a forged or tampered value never reaches the database. Then the
//! token is looked up in Better Auth's own `"session"` table joined to
//! `"user"`; the row is the source of truth (sign-out deletes it).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use crate::db::{Database, DbError};
use crate::secret::Secret;

/// `BETTER_AUTH_SECRET`, or every secret of `BETTER_AUTH_SECRETS`, newest
/// first, as HMAC keys built once at cold start.
#[derive(Clone)]
pub struct SessionSecrets {
    keys: Vec<(String, hmac::Key)>,
}

impl std::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let labels: Vec<&str> = self.keys.iter().map(|(label, _)| label.as_str()).collect();
        f.debug_struct("SessionSecrets")
            .field("versions", &labels)
            .finish()
    }
}

impl SessionSecrets {
    /// `secrets` pairs a label (`current` or the rotation version) with the
    /// secret. The key is the UTF-8 bytes of the secret as written: Better
    /// Auth never base64-decodes it.
    pub fn new(secrets: &[(String, Secret)]) -> Self {
        SessionSecrets {
            keys: secrets
                .iter()
                .map(|(label, secret)| {
                    (
                        label.clone(),
                        hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()),
                    )
                })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Why a presented value is not a validly signed session token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedTokenError {
    #[error("the value has no `.signature` part")]
    Unsigned,
    #[error("the value {0}")]
    Malformed(&'static str),
    #[error("the signature does not verify with any of the {secrets_tried} configured secret(s)")]
    SignatureInvalid { secrets_tried: usize },
}

/// The session token inside a signed value, with the label of the secret
/// that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedToken {
    pub token: String,
    pub secret_label: String,
}

/// Checks the signature of a cookie value (URL-encoded or not) or bearer
/// token. Constant time in the signature.
pub fn verify_signed(
    value: &str,
    secrets: &SessionSecrets,
) -> Result<SignedToken, SignedTokenError> {
    if value.len() > 4096 {
        return Err(SignedTokenError::Malformed("is longer than 4 KiB"));
    }
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| SignedTokenError::Malformed("is not valid UTF-8 once URL-decoded"))?;
    let Some((token, signature)) = decoded.rsplit_once('.') else {
        return Err(SignedTokenError::Unsigned);
    };
    if token.is_empty()
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(SignedTokenError::Malformed(
            "has a session token part with characters Better Auth never uses",
        ));
    }
    // Standard base64 with padding, as Better Auth writes it; the bearer
    // plugin's clients sometimes strip the `=`.
    let signature = STANDARD
        .decode(signature)
        .or_else(|_| STANDARD_NO_PAD.decode(signature))
        .map_err(|_| SignedTokenError::Malformed("has a signature that is not base64"))?;
    if signature.len() != 32 {
        return Err(SignedTokenError::Malformed(
            "has a signature that is not an HMAC-SHA256 (32 bytes)",
        ));
    }
    for (label, key) in &secrets.keys {
        if hmac::verify(key, token.as_bytes(), &signature).is_ok() {
            return Ok(SignedToken {
                token: token.to_owned(),
                secret_label: label.clone(),
            });
        }
    }
    Err(SignedTokenError::SignatureInvalid {
        secrets_tried: secrets.len(),
    })
}

/// The session token inside a value, signed or not, URL-encoded or not:
/// what identifies the session whichever way it was carried.
pub fn token_part(value: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
    match decoded.rsplit_once('.') {
        Some((token, _)) => token.to_owned(),
        None => decoded.into_owned(),
    }
}

/// A session row with its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub session_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub created_at: Option<f64>,
    /// Every column of the `"user"` row (plugins add their own, e.g. `role`).
    pub user: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no session row has this token")]
    NotFound,
    /// Better Auth's tables are not in this database.
    #[error("Better Auth's \"session\" or \"user\" table is missing from this database")]
    TablesMissing,
    #[error(transparent)]
    Store(DbError),
}

/// One statement per request, whose plan each connection keeps: the
/// lookup is a PL/pgSQL function (runtime migration 7), since an unnamed
/// statement (the only kind transaction-mode poolers allow) is parsed and
/// planned again on every request, which cost more than running it.
/// pgbench here, 2 clients: 4.0k lookups/s inline with the revocation
/// subqueries this replaced, 4.8k inline without them, 7.9k through the
/// function. Revocation is checked by the authenticator, from each
/// process's in-memory copy.
const LOOKUP: &str = "SELECT gatehouse_better_auth_session($1)";

/// The function's body inline: what runs on a database migrated before
/// migration 7 (the test `the_inline_lookup_is_the_functions_body` keeps
/// the two the same). The user is read by a scalar subquery rather than a
/// JOIN, cheaper to plan.
pub const LOOKUP_INLINE: &str = r#"SELECT jsonb_build_object(
               'id', s."id"::text,
               'userId', s."userId"::text,
               'expiresAt', extract(epoch FROM s."expiresAt"),
               'createdAt', extract(epoch FROM s."createdAt"),
               'user', (SELECT to_jsonb(u) FROM "user" u WHERE u."id" = s."userId"))
      FROM "session" s
     WHERE s."token" = $1"#;

/// Looks Better Auth sessions up by token; process-wide.
#[derive(Debug, Default)]
pub struct SessionLookup {
    /// Set once the function turned out to be missing (migration 7 not
    /// applied): the inline statement is used from then on.
    inline: AtomicBool,
}

impl SessionLookup {
    /// Looks the token up: the session, its user, its expiry.
    pub async fn lookup(&self, db: &Database, token: &str) -> Result<SessionRow, LookupError> {
        let params = [(
            &token as &(dyn tokio_postgres::types::ToSql + Sync),
            Type::TEXT,
        )];
        let result = if self.inline.load(Ordering::Relaxed) {
            db.query_opt(LOOKUP_INLINE, &params).await
        } else {
            match db.query_opt(LOOKUP, &params).await {
                Err(DbError::SchemaMissing(err))
                    if err.code() == Some(&SqlState::UNDEFINED_FUNCTION) =>
                {
                    if !self.inline.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            target: "gatehouse::auth",
                            event = "better_auth_lookup_inline",
                            "the function gatehouse_better_auth_session is missing (runtime migration 7 is not applied): Better Auth sessions are looked up with a statement planned on every request; run `gatehouse migrate` against DATABASE_URL"
                        );
                    }
                    db.query_opt(LOOKUP_INLINE, &params).await
                }
                other => other,
            }
        };
        let row = match result {
            Ok(Some(row)) => row,
            Ok(None) => return Err(LookupError::NotFound),
            Err(err) => return Err(classify(err)),
        };
        let session = match row.try_get::<_, Option<Value>>(0) {
            Ok(Some(Value::Object(session))) => session,
            Ok(_) => return Err(LookupError::NotFound),
            Err(err) => return Err(classify(DbError::query(err))),
        };
        decode(session).ok_or(LookupError::NotFound)
    }
}

/// The function's JSON object as a row; `None` when the session's user row
/// is gone (no session, as the JOIN this replaced dropped it too) or the
/// object is not the function's.
fn decode(mut session: Map<String, Value>) -> Option<SessionRow> {
    let text = |value: Option<Value>| match value {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    let user = match session.remove("user") {
        Some(Value::Object(user)) => user,
        _ => return None,
    };
    let expires = session.get("expiresAt").and_then(Value::as_f64)?;
    Some(SessionRow {
        session_id: text(session.remove("id"))?,
        user_id: text(session.remove("userId"))?,
        expires_at: expires.floor() as i64,
        created_at: session.get("createdAt").and_then(Value::as_f64),
        user,
    })
}

/// Deletes Better Auth's session row `id`: revoking a session here signs it
/// out in Better Auth too, so Better Auth cannot extend it past the
/// revocation. Whether a row was deleted.
pub async fn delete(db: &Database, id: &str) -> Result<bool, DbError> {
    let output = db
        .query(
            r#"DELETE FROM "session" WHERE "id"::text = $1"#,
            &[(&id, Type::TEXT)],
        )
        .await?;
    Ok(output.rows_affected > 0)
}

/// Whether Better Auth's session `id` still exists and has not expired.
pub async fn is_live(db: &Database, id: &str) -> Result<bool, DbError> {
    Ok(db
        .query_opt(
            r#"SELECT 1 FROM "session" WHERE "id"::text = $1 AND "expiresAt" > now()"#,
            &[(&id, Type::TEXT)],
        )
        .await?
        .is_some())
}

fn classify(err: DbError) -> LookupError {
    if let DbError::SchemaMissing(source) = &err
        && source.code() == Some(&SqlState::UNDEFINED_TABLE)
    {
        return LookupError::TablesMissing;
    }
    LookupError::Store(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "better-auth-secret-0123456789abcdefghij";

    fn sign(token: &str, secret: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let tag = hmac::sign(&key, token.as_bytes());
        format!("{token}.{}", STANDARD.encode(tag.as_ref()))
    }

    fn secrets(list: &[&str]) -> SessionSecrets {
        SessionSecrets::new(
            &list
                .iter()
                .enumerate()
                .map(|(i, s)| (i.to_string(), Secret::new(*s)))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn accepts_raw_and_url_encoded_values() {
        let signed = sign("abcDEF123_-xyz", SECRET);
        let encoded = signed
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D");
        for value in [
            signed.as_str(),
            encoded.as_str(),
            signed.trim_end_matches('='),
        ] {
            let verified = verify_signed(value, &secrets(&[SECRET])).unwrap();
            assert_eq!(verified.token, "abcDEF123_-xyz");
        }
    }

    #[test]
    fn rotation_tries_every_secret_and_names_the_one_that_signed() {
        let old = "old-better-auth-secret-0123456789abcdef";
        let signed = sign("tok", old);
        let verified = verify_signed(&signed, &secrets(&[SECRET, old])).unwrap();
        assert_eq!(verified.secret_label, "1");
        assert_eq!(
            verify_signed(&signed, &secrets(&[SECRET])),
            Err(SignedTokenError::SignatureInvalid { secrets_tried: 1 })
        );
    }

    #[test]
    fn tampering_and_garbage_are_refused_without_panics() {
        let signed = sign("tok", SECRET);
        let tampered = format!("tol{}", &signed[3..]);
        assert!(matches!(
            verify_signed(&tampered, &secrets(&[SECRET])),
            Err(SignedTokenError::SignatureInvalid { .. })
        ));
        assert_eq!(
            verify_signed("plain-token", &secrets(&[SECRET])),
            Err(SignedTokenError::Unsigned)
        );
        for garbage in [
            ".",
            "a.",
            ".sig",
            "a.!!!",
            "a.YWJj",
            "' OR 1=1 --.x",
            "%ff%fe.x",
        ] {
            assert!(
                verify_signed(garbage, &secrets(&[SECRET])).is_err(),
                "{garbage}"
            );
        }
        assert!(verify_signed(&"a".repeat(5000), &secrets(&[SECRET])).is_err());
    }

    #[test]
    fn the_inline_lookup_is_the_functions_body() {
        let migration = include_str!("../../../migrations/0007_better_auth_session_lookup.sql");
        let start = migration.find("SELECT jsonb_build_object(").unwrap();
        let end = start + migration[start..].find(';').unwrap();
        let body = migration[start..end]
            .replace("INTO v_session", "")
            .replace("p_token", "$1");
        let words = |sql: &str| sql.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(words(&body), words(LOOKUP_INLINE));
    }

    #[test]
    fn a_lookup_row_needs_its_user() {
        let row = |user: Value| {
            let Value::Object(map) = serde_json::json!({
                "id": "s1", "userId": "u1", "expiresAt": 1_796_083_200.5,
                "createdAt": 1_796_000_000.25, "user": user,
            }) else {
                unreachable!()
            };
            decode(map)
        };
        let found = row(serde_json::json!({"id": "u1", "role": "admin"})).unwrap();
        assert_eq!(found.expires_at, 1_796_083_200);
        assert_eq!(found.created_at, Some(1_796_000_000.25));
        assert_eq!(found.user["role"], "admin");
        assert!(row(Value::Null).is_none());
    }

    #[test]
    fn secrets_never_print() {
        let printed = format!("{:?}", secrets(&[SECRET]));
        assert!(!printed.contains(SECRET), "{printed}");
    }
}
