//! API keys for server-to-server callers: created and revoked with
//! `gatehouse api-keys`, presented as `X-API-Key: gk_...` or
//! `Authorization: ApiKey gk_...` (a `gk_` bearer token is recognised too).
//!
//! A key is `gk_<lookup>_<secret>`: 12 base64url characters (9 random bytes)
//! that find the row and may be shown in lists, then 43 (32 random bytes)
//! that only the holder knows. The database keeps the SHA-256 of the whole
//! key, never the key: a leaked table does not leak usable keys, and a fast
//! hash is enough because the secret has 256 bits of entropy (nothing to
//! brute-force, unlike a password).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use uuid::Uuid;

use serde_json::Value;

use crate::auth::identity;
use crate::auth::principal::{Method, Principal};
use crate::auth::refusal::{Refusal, store_unavailable};
use crate::auth::settings::AuthSettings;
use crate::auth::verify::{Accepted, Attempt, Verify, database};
use crate::clock::rfc3339;
use crate::db::{Database, DbError, LazyDatabase};
use crate::reason::Reason;
use crate::secret::Secret;

/// What every key starts with, so a bearer token can be routed here without
/// a database round trip, and a leaked key is recognisable by secret scanners.
pub use crate::auth::token_kind::API_KEY_PREFIX as PREFIX;
/// Base64url of 9 random bytes.
pub const LOOKUP_LEN: usize = 12;
/// Base64url (no padding) of 32 random bytes.
pub const SECRET_LEN: usize = 43;
/// `gk_` + lookup + `_` + secret.
pub const KEY_LEN: usize = PREFIX.len() + LOOKUP_LEN + 1 + SECRET_LEN;

/// Longest accepted name: it is shown in tables, not stored as a document.
pub const MAX_NAME_LEN: usize = 200;
/// Longest accepted scope.
pub const MAX_SCOPE_LEN: usize = 128;
/// Longest accepted lifetime; also keeps `now() + interval` far from the
/// timestamp range limits.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(100 * 366 * 86_400);

/// `last_used_at` is written at most this often per key, so a busy key does
/// not turn every request into a write.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// Fresh lookups collide with probability ~2^-72; the retry exists so that
/// such a collision is a non-event rather than an error.
const CREATE_ATTEMPTS: usize = 3;

/// A key as shown once at creation. `Debug` does not print `key`
/// ([`Secret`] redacts itself).
#[derive(Debug)]
pub struct NewApiKey {
    pub id: Uuid,
    pub lookup: String,
    pub key: Secret,
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
}

/// A stored key as listed: never the key or its hash. Times are Unix seconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyRecord {
    #[serde(serialize_with = "serialize_uuid")]
    pub id: Uuid,
    pub lookup: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key that passed [`verify`]: who is calling and what it may do.
#[derive(Debug, Clone)]
pub struct VerifiedApiKey {
    pub id: Uuid,
    pub lookup: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
}

/// Why a presented key was not accepted. No variant carries the key.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("malformed API key: {0}")]
    Malformed(&'static str),
    /// No such lookup, or the secret differs: deliberately one answer, so a
    /// caller cannot learn which lookups exist.
    #[error("unknown API key")]
    Unknown,
    #[error("the API key was revoked at {revoked_at} (Unix seconds)")]
    Revoked { revoked_at: i64 },
    #[error("the API key expired at {expires_at} (Unix seconds)")]
    Expired { expires_at: i64 },
    /// The key could not be checked at all: the caller answers 503, not 401.
    #[error("API keys could not be checked: {0}")]
    Store(#[source] DbError),
}

/// Why [`create`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the name is empty")]
    EmptyName,
    #[error("the name is longer than {max} characters")]
    NameTooLong { max: usize },
    #[error("the name contains a control character")]
    NameHasControl,
    #[error(
        "scope {scope:?} is not 1 to {max} characters of a-z, 0-9, ':', '_', '.', '-'",
        max = MAX_SCOPE_LEN
    )]
    InvalidScope { scope: String },
    #[error("the lifetime must be at least 1 second and at most 100 years")]
    ExpiryOutOfRange,
    #[error("the system random number generator failed")]
    Random,
    #[error("the key could not be stored: {0}")]
    Store(#[from] DbError),
}

/// A key split into its parts, checked for shape only. `Debug` shows the
/// lookup, never the secret.
#[derive(Clone, Copy)]
pub struct ParsedApiKey<'a> {
    whole: &'a str,
    lookup: &'a str,
}

impl<'a> ParsedApiKey<'a> {
    pub fn lookup(&self) -> &'a str {
        self.lookup
    }

    /// The SHA-256 of the whole key, as stored in `key_hash`.
    fn hash(&self) -> [u8; 32] {
        hash_key(self.whole)
    }
}

impl fmt::Debug for ParsedApiKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedApiKey")
            .field("lookup", &self.lookup)
            .finish_non_exhaustive()
    }
}

/// Cheap routing test for a bearer token: does it claim to be an API key?
/// Shape and validity are checked by [`parse`] and [`verify`].
pub fn looks_like_api_key(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// Checks the shape of a presented key without touching the database, so a
/// truncated or mangled key is refused with the reason, not as unknown.
pub fn parse(presented: &str) -> Result<ParsedApiKey<'_>, ApiKeyError> {
    let bytes = presented.as_bytes();
    if !looks_like_api_key(presented) {
        return Err(ApiKeyError::Malformed("does not start with gk_"));
    }
    if bytes.len() != KEY_LEN {
        return Err(ApiKeyError::Malformed(
            "is not 59 characters long (gk_, a 12-character lookup, _, a 43-character secret); was it truncated or copied with extra characters?",
        ));
    }
    let lookup_end = PREFIX.len() + LOOKUP_LEN;
    if !bytes[PREFIX.len()..lookup_end].iter().all(is_base64url) {
        return Err(ApiKeyError::Malformed(
            "the lookup part (after gk_) is not base64url",
        ));
    }
    if bytes[lookup_end] != b'_' {
        return Err(ApiKeyError::Malformed(
            "has no _ between the 12-character lookup and the secret",
        ));
    }
    if !bytes[lookup_end + 1..].iter().all(is_base64url) {
        return Err(ApiKeyError::Malformed("the secret part is not base64url"));
    }
    // All ASCII from here on, so these byte ranges are character boundaries.
    let lookup = presented
        .get(PREFIX.len()..lookup_end)
        .ok_or(ApiKeyError::Malformed("is not ASCII"))?;
    Ok(ParsedApiKey {
        whole: presented,
        lookup,
    })
}

fn is_base64url(byte: &u8) -> bool {
    byte.is_ascii_alphanumeric() || *byte == b'-' || *byte == b'_'
}

fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A fresh key from the system CSPRNG: `(lookup, whole key)`.
fn generate() -> Result<(String, Secret), CreateError> {
    let mut lookup_bytes = [0u8; 9];
    let mut secret_bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut lookup_bytes).map_err(|_| CreateError::Random)?;
    aws_lc_rs::rand::fill(&mut secret_bytes).map_err(|_| CreateError::Random)?;
    let lookup = URL_SAFE_NO_PAD.encode(lookup_bytes);
    let key = Secret::new(format!(
        "{PREFIX}{lookup}_{}",
        URL_SAFE_NO_PAD.encode(secret_bytes)
    ));
    Ok((lookup, key))
}

/// A scope is a short machine-readable word (`orders:read`), never free text:
/// it is compared verbatim by whoever authorises the call.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= MAX_SCOPE_LEN
        && scope.bytes().all(|byte| {
            byte.is_ascii_lowercase()
                || byte.is_ascii_digit()
                || matches!(byte, b':' | b'_' | b'.' | b'-')
        })
}

/// Validated inputs of [`create`]: trimmed name, deduplicated scopes, whole
/// seconds of lifetime.
fn validate(
    name: &str,
    scopes: &[String],
    expires_in: Option<Duration>,
) -> Result<(String, Vec<String>, Option<i64>), CreateError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CreateError::EmptyName);
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(CreateError::NameTooLong { max: MAX_NAME_LEN });
    }
    if name.chars().any(char::is_control) {
        return Err(CreateError::NameHasControl);
    }
    let mut unique: Vec<String> = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !valid_scope(scope) {
            return Err(CreateError::InvalidScope {
                scope: scope.clone(),
            });
        }
        if !unique.contains(scope) {
            unique.push(scope.clone());
        }
    }
    let expires_in_secs = match expires_in {
        None => None,
        Some(lifetime) if lifetime.as_secs() == 0 || lifetime > MAX_EXPIRES_IN => {
            return Err(CreateError::ExpiryOutOfRange);
        }
        Some(lifetime) => {
            Some(i64::try_from(lifetime.as_secs()).map_err(|_| CreateError::ExpiryOutOfRange)?)
        }
    };
    Ok((name.to_owned(), unique, expires_in_secs))
}

/// Creates a key and returns it: the only time the key can be shown, since
/// only its hash is stored.
pub async fn create(
    db: &Database,
    name: &str,
    scopes: &[String],
    expires_in: Option<Duration>,
) -> Result<NewApiKey, CreateError> {
    let (name, scopes, expires_in_secs) = validate(name, scopes, expires_in)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let id = Uuid::new_v4();
        let (lookup, key) = generate()?;
        let key_hash = hash_key(key.expose()).to_vec();
        let inserted = db
            .query_opt(
                "INSERT INTO gatehouse_api_keys (id, lookup, key_hash, name, scopes, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, now() + $6::int8 * interval '1 second') \
                 RETURNING floor(extract(epoch from expires_at))::int8",
                &[
                    (&id, Type::UUID),
                    (&lookup, Type::TEXT),
                    (&key_hash, Type::BYTEA),
                    (&name, Type::TEXT),
                    (&scopes, Type::TEXT_ARRAY),
                    (&expires_in_secs, Type::INT8),
                ],
            )
            .await;
        match inserted {
            Ok(row) => {
                let expires_at = match row {
                    Some(row) => row.try_get(0).map_err(DbError::Query)?,
                    None => None,
                };
                return Ok(NewApiKey {
                    id,
                    lookup,
                    key,
                    name,
                    scopes,
                    expires_at,
                });
            }
            Err(DbError::Query(err))
                if err.code() == Some(&SqlState::UNIQUE_VIOLATION) && attempt < CREATE_ATTEMPTS => {
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// The columns of an [`ApiKeyRecord`], in [`record_from_row`]'s order.
const RECORD_COLUMNS: &str = "id, lookup, name, scopes, \
     floor(extract(epoch from created_at))::int8, \
     floor(extract(epoch from last_used_at))::int8, \
     floor(extract(epoch from expires_at))::int8, \
     floor(extract(epoch from revoked_at))::int8";

/// `uuid` is built without its serde feature; its hyphenated text is what
/// every other tool shows anyway.
fn serialize_uuid<S: serde::Serializer>(id: &Uuid, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

fn record_from_row(row: &Row) -> Result<ApiKeyRecord, DbError> {
    Ok(ApiKeyRecord {
        id: row.try_get(0).map_err(DbError::Query)?,
        lookup: row.try_get(1).map_err(DbError::Query)?,
        name: row.try_get(2).map_err(DbError::Query)?,
        scopes: row.try_get(3).map_err(DbError::Query)?,
        created_at: row.try_get(4).map_err(DbError::Query)?,
        last_used_at: row.try_get(5).map_err(DbError::Query)?,
        expires_at: row.try_get(6).map_err(DbError::Query)?,
        revoked_at: row.try_get(7).map_err(DbError::Query)?,
    })
}

/// Every key, oldest first.
pub async fn list(db: &Database) -> Result<Vec<ApiKeyRecord>, DbError> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM gatehouse_api_keys ORDER BY created_at, id");
    db.query(&sql, &[])
        .await?
        .rows
        .iter()
        .map(record_from_row)
        .collect()
}

/// Revokes the key with this id (a UUID) or lookup. Idempotent: an already
/// revoked key keeps its first `revoked_at`. `None` when there is no such key.
pub async fn revoke(db: &Database, id_or_lookup: &str) -> Result<Option<ApiKeyRecord>, DbError> {
    let target = id_or_lookup.trim();
    let row = match Uuid::try_parse(target) {
        Ok(id) => {
            let sql = format!(
                "UPDATE gatehouse_api_keys SET revoked_at = coalesce(revoked_at, now()) \
                 WHERE id = $1 RETURNING {RECORD_COLUMNS}"
            );
            db.query_opt(&sql, &[(&id, Type::UUID)]).await?
        }
        Err(_) => {
            let sql = format!(
                "UPDATE gatehouse_api_keys SET revoked_at = coalesce(revoked_at, now()) \
                 WHERE lookup = $1 RETURNING {RECORD_COLUMNS}"
            );
            db.query_opt(&sql, &[(&target, Type::TEXT)]).await?
        }
    };
    row.as_ref().map(record_from_row).transpose()
}

/// Checks a presented key: shape, then the hash (in constant time), then
/// revocation and expiry, in that order so that only the key's holder learns
/// whether it was revoked.
pub async fn verify(db: &Database, presented: &str) -> Result<VerifiedApiKey, ApiKeyError> {
    let parsed = parse(presented)?;
    let presented_hash = parsed.hash();
    let row = db
        .query_opt(
            "SELECT id, key_hash, name, scopes, \
                    floor(extract(epoch from expires_at))::int8, \
                    floor(extract(epoch from revoked_at))::int8, \
                    expires_at <= now(), \
                    last_used_at IS NULL OR last_used_at < now() - $2::int8 * interval '1 second' \
             FROM gatehouse_api_keys WHERE lookup = $1",
            &[
                (&parsed.lookup, Type::TEXT),
                (&LAST_USED_RESOLUTION_SECS, Type::INT8),
            ],
        )
        .await
        .map_err(ApiKeyError::Store)?;
    let Some(row) = row else {
        return Err(ApiKeyError::Unknown);
    };
    let column = |err| ApiKeyError::Store(DbError::Query(err));
    let stored_hash: Vec<u8> = row.try_get(1).map_err(column)?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(&presented_hash, &stored_hash).is_err() {
        return Err(ApiKeyError::Unknown);
    }
    let id: Uuid = row.try_get(0).map_err(column)?;
    let expires_at: Option<i64> = row.try_get(4).map_err(column)?;
    if let Some(revoked_at) = row.try_get::<_, Option<i64>>(5).map_err(column)? {
        return Err(ApiKeyError::Revoked { revoked_at });
    }
    let expired: Option<bool> = row.try_get(6).map_err(column)?;
    if let (Some(true), Some(expires_at)) = (expired, expires_at) {
        return Err(ApiKeyError::Expired { expires_at });
    }
    let stale: bool = row.try_get(7).map_err(column)?;
    if stale {
        touch(db, id, parsed.lookup).await;
    }
    Ok(VerifiedApiKey {
        id,
        lookup: parsed.lookup.to_owned(),
        name: row.try_get(2).map_err(column)?,
        scopes: row.try_get(3).map_err(column)?,
        expires_at,
    })
}

/// Records that the key was used. Best effort: a key that checked out is not
/// refused because a bookkeeping write failed.
async fn touch(db: &Database, id: Uuid, lookup: &str) {
    let result = db
        .query(
            "UPDATE gatehouse_api_keys SET last_used_at = now() \
             WHERE id = $1 \
               AND (last_used_at IS NULL OR last_used_at < now() - $2::int8 * interval '1 second')",
            &[(&id, Type::UUID), (&LAST_USED_RESOLUTION_SECS, Type::INT8)],
        )
        .await;
    if let Err(err) = result {
        tracing::warn!(
            target: "gatehouse::api_keys",
            lookup,
            error = %err,
            "could not record last_used_at; the key was accepted anyway"
        );
    }
}

/// Whether `err` says the API key table does not exist, i.e. the migrations
/// have not run; decided by SQLSTATE (42P01), never by message text.
pub fn table_missing(err: &DbError) -> bool {
    matches!(err, DbError::SchemaMissing(source) if source.code() == Some(&SqlState::UNDEFINED_TABLE))
}

/// `records` as pretty JSON, so every caller (the CLI today) prints the same
/// shape without depending on serde_json itself.
pub fn to_json(records: &[ApiKeyRecord]) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(records)
}

/// API keys from `gatehouse api-keys create`, looked up in Postgres.
#[derive(Debug)]
pub(crate) struct ApiKeyVerifier {
    accepts: bool,
    has_database: bool,
    database: Arc<LazyDatabase>,
}

impl ApiKeyVerifier {
    pub(crate) fn new(settings: &AuthSettings, database: Arc<LazyDatabase>) -> Self {
        ApiKeyVerifier {
            accepts: settings.accepts_api_keys(),
            has_database: settings.has_database,
            database,
        }
    }
}

impl Verify for ApiKeyVerifier {
    const CHECKS: &'static [&'static str] = &["recognised", "key lookup"];

    async fn verify(&self, attempt: Attempt<'_>) -> Result<Accepted, Refusal> {
        let credential = attempt.credential;
        // A cookie is sent by the browser on its own, to any page of the
        // site: an API key is a server's credential, taken only from the
        // headers a caller sets on purpose.
        if credential.source.cookie_name().is_some() {
            return Err(Refusal::new(
                Reason::ApiKeyInvalid,
                "an API key arrived in a cookie; API keys are accepted only in headers",
                "send the key in X-API-Key or `Authorization: ApiKey <key>` (or Bearer) from your server; never store an API key in a browser cookie",
            ));
        }
        if !self.accepts {
            return Err(not_accepted(self.has_database));
        }
        let db = database(&self.database)?;
        let token = credential.token.expose();
        let create = "create a key with `gatehouse api-keys create --name <name> --scope <scope>` and send it as X-API-Key or `Authorization: ApiKey <key>`";
        match verify(&db, token).await {
            Ok(key) => {
                let mut principal = Principal::new(
                    identity::API_KEY,
                    key.id.to_string(),
                    Method::ApiKey,
                    credential.source.to_string(),
                );
                principal.expires_at = key.expires_at;
                principal.scopes = key.scopes;
                principal
                    .claims
                    .insert("name".to_owned(), Value::String(key.name));
                principal
                    .claims
                    .insert("lookup".to_owned(), Value::String(key.lookup));
                // Revoked on their own (gatehouse api-keys revoke): no
                // revocation id, no profile.
                Ok(Accepted {
                    principal,
                    revocation_checked: true,
                })
            }
            Err(ApiKeyError::Malformed(what)) => Err(Refusal::new(
                Reason::ApiKeyInvalid,
                format!("the API key {what}"),
                format!("Gatehouse keys look like gk_<12 characters>_<43 characters>; {create}"),
            )),
            Err(ApiKeyError::Unknown) => Err(Refusal::new(
                Reason::ApiKeyInvalid,
                "no API key matches the presented key (unknown, or its secret part differs)",
                format!(
                    "check that the key was copied whole (it is shown once, at creation), or {create}"
                ),
            )),
            Err(ApiKeyError::Revoked { revoked_at }) => Err(Refusal::revealing(
                Reason::ApiKeyInvalid,
                format!("the API key was revoked at {}", rfc3339(revoked_at)),
                create,
            )),
            Err(ApiKeyError::Expired { expires_at }) => Err(Refusal::revealing(
                Reason::ApiKeyInvalid,
                format!("the API key expired at {}", rfc3339(expires_at)),
                create,
            )),
            Err(ApiKeyError::Store(err)) => Err(store_unavailable(&err)),
        }
    }
}

fn not_accepted(has_database: bool) -> Refusal {
    let hint = if has_database {
        "API_KEYS is off in this deployment; unset it to accept API keys"
    } else {
        "API keys live in Postgres: set DATABASE_URL, run `gatehouse migrate`, then `gatehouse api-keys create`"
    };
    Refusal::new(
        Reason::ApiKeyInvalid,
        "an API key arrived, but this deployment does not accept API keys",
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_from(lookup: &str, secret: &str) -> String {
        format!("gk_{lookup}_{secret}")
    }

    fn malformed(presented: &str) -> &'static str {
        match parse(presented) {
            Err(ApiKeyError::Malformed(reason)) => reason,
            other => panic!("{presented:?} should be malformed, got {other:?}"),
        }
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let (lookup, key) = generate().unwrap();
        let key = key.expose();
        assert_eq!(key.len(), KEY_LEN);
        assert_eq!(KEY_LEN, 59);
        assert_eq!(lookup.len(), LOOKUP_LEN);
        assert!(key.starts_with(&format!("gk_{lookup}_")));
        let parsed = parse(key).unwrap();
        assert_eq!(parsed.lookup(), lookup);
        // The secret decodes back to 32 bytes.
        let secret = &key[PREFIX.len() + LOOKUP_LEN + 1..];
        assert_eq!(secret.len(), SECRET_LEN);
        assert_eq!(URL_SAFE_NO_PAD.decode(secret).unwrap().len(), 32);
        assert_eq!(URL_SAFE_NO_PAD.decode(&lookup).unwrap().len(), 9);
    }

    #[test]
    fn generated_keys_differ() {
        let (lookup_a, key_a) = generate().unwrap();
        let (lookup_b, key_b) = generate().unwrap();
        assert_ne!(lookup_a, lookup_b);
        assert_ne!(key_a, key_b);
    }

    #[test]
    fn parse_accepts_underscores_and_dashes_in_both_parts() {
        // base64url uses `_` and `-`, so the parts are found by position.
        let key = key_from(
            "ab_-cd_efgh_",
            &"_-".repeat(21).chars().chain(['A']).collect::<String>(),
        );
        assert_eq!(parse(&key).unwrap().lookup(), "ab_-cd_efgh_");
    }

    #[test]
    fn parse_names_what_is_wrong() {
        let lookup = "A".repeat(LOOKUP_LEN);
        let secret = "b".repeat(SECRET_LEN);
        assert!(parse(&key_from(&lookup, &secret)).is_ok());

        assert!(malformed("Bearer xyz").contains("gk_"));
        assert!(malformed(&format!("gk-{lookup}_{secret}")).contains("gk_"));
        assert!(malformed(&key_from(&lookup, &secret[1..])).contains("59"));
        assert!(malformed(&format!("{}x", key_from(&lookup, &secret))).contains("59"));
        assert!(malformed("gk_").contains("59"));
        assert!(malformed(&key_from(&"A=".repeat(6), &secret)).contains("lookup"));
        assert!(malformed(&format!("gk_{lookup}.{secret}")).contains("between"));
        assert!(malformed(&key_from(&lookup, &format!("{}+", &secret[1..]))).contains("secret"));
        assert!(malformed(&key_from(&lookup, &format!("{}=", &secret[1..]))).contains("secret"));
    }

    #[test]
    fn parse_never_panics_on_non_ascii() {
        // Multi-byte characters at the split points.
        let lookup = "é".repeat(6);
        let secret = "b".repeat(SECRET_LEN);
        assert!(malformed(&key_from(&lookup, &secret)).contains("lookup"));
        let odd = format!("gk_{}é{}", "A".repeat(11), "b".repeat(SECRET_LEN));
        assert_eq!(odd.len(), KEY_LEN);
        assert!(parse(&odd).is_err());
        let odd = format!("gk_{}{}", "A".repeat(LOOKUP_LEN), "ü".repeat(22));
        assert_eq!(odd.len(), KEY_LEN);
        assert!(parse(&odd).is_err());
    }

    #[test]
    fn looks_like_api_key_is_a_prefix_check() {
        assert!(looks_like_api_key("gk_anything"));
        assert!(!looks_like_api_key("eyJhbGciOi.x.y"));
        assert!(!looks_like_api_key("GK_upper"));
    }

    #[test]
    fn the_hash_covers_the_whole_key() {
        let (_, key) = generate().unwrap();
        let parsed = parse(key.expose()).unwrap();
        assert_eq!(parsed.hash(), hash_key(key.expose()));
        let mut tampered = key.expose().to_owned();
        let last = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.replace_range(KEY_LEN - 1.., last);
        assert_ne!(parse(&tampered).unwrap().hash(), parsed.hash());
    }

    #[test]
    fn nothing_prints_the_secret() {
        let (lookup, key) = generate().unwrap();
        let secret = key.expose()[PREFIX.len() + LOOKUP_LEN + 1..].to_owned();
        let new = NewApiKey {
            id: Uuid::nil(),
            lookup: lookup.clone(),
            key: key.clone(),
            name: "billing".to_owned(),
            scopes: vec![],
            expires_at: None,
        };
        let parsed = parse(key.expose()).unwrap();
        for shown in [format!("{new:?}"), format!("{parsed:?}")] {
            assert!(!shown.contains(&secret), "{shown}");
            assert!(shown.contains(&lookup), "{shown}");
        }
        for err in [
            parse("gk_short").unwrap_err(),
            ApiKeyError::Unknown,
            ApiKeyError::Revoked { revoked_at: 1 },
        ] {
            assert!(!format!("{err} {err:?}").contains(&secret));
        }
    }

    #[test]
    fn records_serialize_with_text_ids_and_no_secrets() {
        let record = ApiKeyRecord {
            id: Uuid::nil(),
            lookup: "AAAAAAAAAAAA".to_owned(),
            name: "billing".to_owned(),
            scopes: vec!["orders:read".to_owned()],
            created_at: 1_700_000_000,
            last_used_at: None,
            expires_at: Some(1_800_000_000),
            revoked_at: None,
        };
        let json: serde_json::Value = serde_json::from_str(&to_json(&[record]).unwrap()).unwrap();
        assert_eq!(json[0]["id"], "00000000-0000-0000-0000-000000000000");
        assert_eq!(json[0]["scopes"][0], "orders:read");
        assert_eq!(json[0]["last_used_at"], serde_json::Value::Null);
        let fields: Vec<&String> = json[0].as_object().unwrap().keys().collect();
        assert_eq!(fields.len(), 8, "{fields:?}");
    }

    #[test]
    fn validate_checks_name_scopes_and_lifetime() {
        let scopes = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (name, kept, secs) = validate(
            "  billing worker ",
            &scopes(&["orders:read", "a.b-c_d9", "orders:read"]),
            Some(Duration::from_secs(86_400)),
        )
        .unwrap();
        assert_eq!(name, "billing worker");
        assert_eq!(kept, scopes(&["orders:read", "a.b-c_d9"]));
        assert_eq!(secs, Some(86_400));
        assert!(validate("x", &[], None).unwrap().2.is_none());

        assert!(matches!(
            validate(" ", &[], None),
            Err(CreateError::EmptyName)
        ));
        assert!(matches!(
            validate(&"n".repeat(MAX_NAME_LEN + 1), &[], None),
            Err(CreateError::NameTooLong { .. })
        ));
        assert!(matches!(
            validate("a\nb", &[], None),
            Err(CreateError::NameHasControl)
        ));
        for bad in ["", "Orders:read", "orders read", "orders/read", "ö"] {
            match validate("x", &scopes(&[bad]), None) {
                Err(CreateError::InvalidScope { scope }) => assert_eq!(scope, bad),
                other => panic!("{bad:?} accepted: {other:?}"),
            }
        }
        assert!(matches!(
            validate("x", &[], Some(Duration::from_millis(500))),
            Err(CreateError::ExpiryOutOfRange)
        ));
        assert!(matches!(
            validate("x", &[], Some(MAX_EXPIRES_IN + Duration::from_secs(1))),
            Err(CreateError::ExpiryOutOfRange)
        ));
    }
}
