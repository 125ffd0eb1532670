//! Better Auth's cookie cache (`session.cookieCache`): a signed copy of the
//! session in the `<prefix>.session_data` cookie, which Better Auth's own
//! `get-session` trusts until it expires instead of reading its database.
//! Read here exactly as Better Auth 1.7.25 reads it, so that a request is
//! accepted from the cache only when Better Auth would accept it from the
//! cache too, and otherwise goes to the database lookup, as there.
//!
//! What Better Auth does (the `dist/` files of npm `better-auth` 1.7.25):
//!
//! - **Name** (`cookies/index.mjs`, `getCookies`): `<prefix>.session_data`,
//!   `__Secure-` in front when the session cookie has it (both come from
//!   `createCookieGetter`); the prefix is `advanced.cookiePrefix`. A value
//!   too long for one cookie is split into `<name>.0`, `<name>.1`, ...
//!   (`cookies/session-store.mjs`, `chunkCookie`; read back by
//!   `getChunkedCookie`).
//! - **Written** by `setCookieCache` (`cookies/index.mjs`) with
//!   `sessionData = {session, user, updatedAt: Date.now(), version}`
//!   (`version` is `session.cookieCache.version`, `"1"` by default), in the
//!   encoding `session.cookieCache.strategy` names:
//!   - `compact` (the default): `base64url(JSON.stringify({session:
//!     sessionData, expiresAt, signature}))` without padding, `expiresAt` in
//!     milliseconds (now + `maxAge`, 300 s by default), `signature` the
//!     unpadded base64url HMAC-SHA256, keyed with the secret's UTF-8 bytes,
//!     of `JSON.stringify({...sessionData, expiresAt})`;
//!   - `jwt`: `signJWT(sessionData, secret, maxAge)` (`crypto/jwt.mjs`): a
//!     JWS, `alg: HS256`, keyed with the secret's UTF-8 bytes, `iat` and
//!     `exp = now + maxAge` in seconds. (With the `jwt` plugin's
//!     `sessionCookieCache` option it is signed with the plugin's keys
//!     instead: not read here, so those requests go to the database.)
//!   - `jwe`: `symmetricEncodeJWT(sessionData, secretConfig,
//!     "better-auth-session", maxAge)` (`crypto/jwt.mjs`): `alg: dir`,
//!     `enc: A256CBC-HS512`, key = HKDF-SHA256(secret, salt
//!     `better-auth-session`, info `BetterAuth.js Generated Encryption
//!     Key`, 64 bytes), header `kid` = the RFC 7638 thumbprint of that key
//!     as an `oct` JWK; `iat`, `exp`, `jti`.
//! - **Secrets**: `compact` and `jwt` are signed and checked with
//!   `ctx.context.secret` only, the newest of `BETTER_AUTH_SECRETS`
//!   (`context/create-context.mjs`), so a cache signed with an older secret
//!   is not trusted after a rotation and the database is read; `jwe` is
//!   encrypted with the newest and opened with any listed secret (by `kid`,
//!   else each in turn: `symmetricDecodeJWT`).
//! - **Read** by `getSession` (`api/routes/session.mjs`), only with
//!   `session.cookieCache.enabled`, only next to a validly signed
//!   `session_token` cookie, through `decodeCookieCache`
//!   (`cookies/index.mjs`) and the payload schema of `cookies/cache.mjs`
//!   (`session`: `id`, `userId`, `token`, `expiresAt` and the dates as ISO
//!   strings; `user`: `id`, `email`, `name`; `updatedAt` a number; `version`
//!   an optional string). It is used, without reading the database, when it
//!   decodes, its `session.token` equals the session cookie's token, its
//!   `version` (default `"1"`) equals the configured one, and neither its
//!   own expiry (`expiresAt`, or `exp * 1000`) nor `session.expiresAt` has
//!   passed (milliseconds, `< Date.now()`); `jose` also refuses a `jwt`
//!   whose `exp <= now` in seconds (no leeway; 15 s for `jwe`). Otherwise
//!   (absent, undecodable, forged, another session, another version,
//!   expired) the cookie is expired in the response and the session is
//!   read from the database.
//! - **Sign-out** (`api/routes/sign-out.mjs`) deletes the session row and
//!   expires both cookies. A client that keeps sending them is still
//!   accepted by `get-session` from the cache until it expires: revocation
//!   is delayed by at most `maxAge`, which is the trade-off Better Auth
//!   documents for the cookie cache.
//!
//! What Gatehouse does differently, always in the stricter direction:
//! a well-formed cache whose signature (or tag) verifies with none of the
//! configured secrets is refused, `cookie_signature_invalid`, instead of
//! silently read from the database: a deployment sharing Better Auth's
//! secrets never receives one, so it was altered, or the secrets differ.
//! Expiry is compared in whole seconds of this server's clock, rounded
//! towards refusing (a cache is given up to a second before Better Auth
//! gives it up, never after). Gatehouse's own revocation (revoked tokens,
//! "sign out everywhere") still applies to a session read from the cache,
//! from each process's in-memory copy.

use std::borrow::Cow;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::jwe::{Enc, Jwe, hkdf_sha256};
use crate::auth::token_kind::MAX_TOKEN_BYTES;
use crate::clock::parse_rfc3339;
use crate::secret::Secret;

/// Better Auth's `session.cookieCache.strategy`, as `BETTER_AUTH_COOKIE_CACHE`
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Compact,
    Jwt,
    Jwe,
}

impl Strategy {
    pub fn parse(value: &str) -> Option<Strategy> {
        match value.to_ascii_lowercase().as_str() {
            "compact" => Some(Strategy::Compact),
            "jwt" => Some(Strategy::Jwt),
            "jwe" => Some(Strategy::Jwe),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Compact => "compact",
            Strategy::Jwt => "jwt",
            Strategy::Jwe => "jwe",
        }
    }
}

/// `BETTER_AUTH_COOKIE_CACHE` and `BETTER_AUTH_COOKIE_CACHE_VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieCacheSettings {
    pub strategy: Strategy,
    /// Better Auth's `session.cookieCache.version` (a string; `"1"` when
    /// Better Auth sets none).
    pub version: String,
}

/// Better Auth's HKDF salt and info for the `jwe` cache (`crypto/jwt.mjs`).
const JWE_SALT: &[u8] = b"better-auth-session";
const JWE_INFO: &[u8] = b"BetterAuth.js Generated Encryption Key";

/// The cookie cache reader, its keys built once at cold start.
pub struct CookieCache {
    strategy: Strategy,
    version: String,
    /// `compact` and `jwt`: HMAC-SHA256 keys, the newest secret first (the
    /// only one Better Auth trusts; the others tell a rotation from a
    /// forgery).
    signing: Vec<hmac::Key>,
    /// `jwe`: each secret's derived key with its thumbprint (the `kid`).
    encryption: Vec<EncryptionKey>,
}

struct EncryptionKey {
    kid: String,
    key: [u8; 64],
}

impl std::fmt::Debug for CookieCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieCache")
            .field("strategy", &self.strategy)
            .field("version", &self.version)
            .field("secrets", &self.signing.len())
            .finish_non_exhaustive()
    }
}

/// A session read from a valid cache: what the database lookup would have
/// returned, as of when Better Auth wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedSession {
    pub session_id: String,
    pub user_id: String,
    /// The session's own expiry (Unix seconds), not the cache's.
    pub expires_at: i64,
    /// When the session was created (Unix seconds, fractional).
    pub created_at: f64,
    /// The user as Better Auth cached it (every field it returns).
    pub user: Map<String, Value>,
}

/// Why a cache is not used. Every kind but [`CacheError::SignatureInvalid`]
/// sends the request to the database, as Better Auth does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// Not in the configured strategy's format, or not what Better Auth
    /// writes; the text says what.
    #[error("the cookie cache {0}")]
    Unreadable(&'static str),
    /// Signed with a secret other than the newest: Better Auth no longer
    /// trusts it either (`compact`, `jwt`).
    #[error("the cookie cache is signed with an older secret")]
    OlderSecret,
    /// In the strategy's format, but its signature (or tag) verifies with
    /// none of the configured secrets.
    #[error(
        "the cookie cache's signature does not verify with any of the {secrets_tried} configured secret(s)"
    )]
    SignatureInvalid { secrets_tried: usize },
    /// A copy of another session than the session cookie's.
    #[error("the cookie cache holds another session than the session cookie")]
    OtherSession,
    /// Written under another `session.cookieCache.version`.
    #[error("the cookie cache has another version than BETTER_AUTH_COOKIE_CACHE_VERSION")]
    OtherVersion,
    /// The cache, or the session in it, has expired.
    #[error("the cookie cache has expired")]
    Expired,
}

impl CacheError {
    /// Whether Better Auth would read the database instead (everything but
    /// a forgery, which is refused here).
    pub fn falls_back(&self) -> bool {
        !matches!(self, CacheError::SignatureInvalid { .. })
    }
}

/// The compact encoding's outer object. Extra members are ignored, as
/// Better Auth's schema strips them.
#[derive(Deserialize)]
struct Compact<'a> {
    #[serde(borrow)]
    session: &'a RawValue,
    #[serde(rename = "expiresAt", borrow)]
    expires_at: &'a RawValue,
    #[serde(borrow)]
    signature: Cow<'a, str>,
}

impl CookieCache {
    /// `secrets` newest first, as [`super::database::SessionSecrets`] holds them.
    pub fn new(settings: &CookieCacheSettings, secrets: &[(String, Secret)]) -> Self {
        let signing = secrets
            .iter()
            .map(|(_, secret)| hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()))
            .collect();
        let encryption = match settings.strategy {
            Strategy::Jwe => secrets
                .iter()
                .filter_map(|(_, secret)| {
                    let key = hkdf_sha256::<64>(secret.expose().as_bytes(), JWE_SALT, JWE_INFO)?;
                    Some(EncryptionKey {
                        kid: thumbprint(&key),
                        key,
                    })
                })
                .collect(),
            Strategy::Compact | Strategy::Jwt => Vec::new(),
        };
        CookieCache {
            strategy: settings.strategy,
            version: settings.version.clone(),
            signing,
            encryption,
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Reads the cache `value` that came with the session cookie whose
    /// (verified) token is `token`, at `now` (Unix seconds).
    pub fn read(&self, value: &str, token: &str, now: i64) -> Result<CachedSession, CacheError> {
        if value.len() > MAX_TOKEN_BYTES {
            return Err(CacheError::Unreadable("is longer than 16 KiB"));
        }
        let (payload, expires_ms) = match self.strategy {
            Strategy::Compact => self.open_compact(value)?,
            Strategy::Jwt => self.open_jwt(value, now)?,
            Strategy::Jwe => self.open_jwe(value, now)?,
        };
        let cached = payload_session(&payload)?;
        if cached.token != token {
            return Err(CacheError::OtherSession);
        }
        let version = match payload.get("version").and_then(Value::as_str) {
            Some(version) if !version.is_empty() => version,
            _ => "1",
        };
        if version != self.version {
            return Err(CacheError::OtherVersion);
        }
        // Better Auth gives the cache up when a millisecond stamp is below
        // Date.now(); `now` is whole seconds, so the latest instant it can
        // stand for is assumed.
        let latest_now_ms = now.saturating_mul(1000).saturating_add(999);
        if expires_ms < latest_now_ms as f64 || cached.session_expires_ms < latest_now_ms {
            return Err(CacheError::Expired);
        }
        Ok(CachedSession {
            session_id: cached.id,
            user_id: cached.user_id,
            expires_at: cached.session_expires_ms.div_euclid(1000),
            created_at: cached.created_ms as f64 / 1000.0,
            user: cached.user,
        })
    }

    /// `compact`: the payload and the cache's expiry (ms). The signed text
    /// is rebuilt from the bytes received (the `session` member with
    /// `"expiresAt":<expiresAt>` appended), which for what Better Auth
    /// wrote is exactly the `JSON.stringify` it signed.
    fn open_compact(&self, value: &str) -> Result<(Map<String, Value>, f64), CacheError> {
        let json = URL_SAFE_NO_PAD
            .decode(value.trim_end_matches('='))
            .map_err(|_| CacheError::Unreadable("is not base64url (compact strategy)"))?;
        let json = std::str::from_utf8(&json)
            .map_err(|_| CacheError::Unreadable("is not UTF-8 JSON (compact strategy)"))?;
        let envelope: Compact<'_> = serde_json::from_str(json).map_err(|_| {
            CacheError::Unreadable(
                "is not a {session, expiresAt, signature} object (compact strategy)",
            )
        })?;
        let expires_text = envelope.expires_at.get();
        let expires_ms: f64 = serde_json::from_str(expires_text)
            .map_err(|_| CacheError::Unreadable("has an `expiresAt` that is not a number"))?;
        let session_text = envelope.session.get();
        let payload: Map<String, Value> = serde_json::from_str(session_text)
            .map_err(|_| CacheError::Unreadable("has a `session` that is not an object"))?;
        // `{...session, expiresAt}` would keep an existing key's place:
        // Better Auth never writes one there.
        if payload.contains_key("expiresAt") {
            return Err(CacheError::Unreadable("has `expiresAt` inside `session`"));
        }
        let Some(body) = session_text
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        else {
            return Err(CacheError::Unreadable(
                "has a `session` that is not an object",
            ));
        };
        let separator = if body.trim().is_empty() { "" } else { "," };
        let signed = format!("{{{body}{separator}\"expiresAt\":{expires_text}}}");
        let signature = URL_SAFE_NO_PAD
            .decode(envelope.signature.trim_end_matches('='))
            .unwrap_or_default();
        self.check_signature(signed.as_bytes(), &signature)?;
        Ok((payload, expires_ms))
    }

    /// `jwt`: an HS256 JWS with the secret; the claims and `exp` in ms.
    fn open_jwt(&self, value: &str, now: i64) -> Result<(Map<String, Value>, f64), CacheError> {
        let mut parts = value.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CacheError::Unreadable("is not a JWT (jwt strategy)"));
        };
        let header = decode_object(header)
            .ok_or(CacheError::Unreadable("has a JWT header that is not JSON"))?;
        if header.contains_key("crit") {
            return Err(CacheError::Unreadable(
                "has a JWT header listing critical extensions",
            ));
        }
        // The jwt plugin's signer (EdDSA and friends, by JWKS) is not read
        // here: such a cache goes to the database.
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(CacheError::Unreadable("is not signed with HS256"));
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        let signed_len = header_and_claims_len(value);
        self.check_signature(&value.as_bytes()[..signed_len], &signature)?;
        let claims = decode_object(claims)
            .ok_or(CacheError::Unreadable("has JWT claims that are not JSON"))?;
        let expires_ms = jwt_expiry_ms(&claims, now)?;
        Ok((claims, expires_ms))
    }

    /// `jwe`: opened with the key of the secret its `kid` names (each in
    /// turn without one); the claims and `exp` in ms.
    fn open_jwe(&self, value: &str, now: i64) -> Result<(Map<String, Value>, f64), CacheError> {
        let jwe = Jwe::parse(value)
            .map_err(|_| CacheError::Unreadable("is not a JWE compact token (jwe strategy)"))?;
        if jwe.enc() != Enc::A256CbcHs512 {
            return Err(CacheError::Unreadable(
                "is not encrypted with dir and A256CBC-HS512",
            ));
        }
        let forged = CacheError::SignatureInvalid {
            secrets_tried: self.encryption.len(),
        };
        let keys: Vec<&EncryptionKey> = match jwe.kid() {
            Some(kid) => self
                .encryption
                .iter()
                .filter(|key| key.kid == kid)
                .collect(),
            None => self.encryption.iter().collect(),
        };
        let mut plaintext = None;
        for key in keys {
            match jwe.open_cbc_hs512(&key.key) {
                Ok(Some(opened)) => {
                    plaintext = Some(opened);
                    break;
                }
                Ok(None) => continue,
                Err(_) => {
                    return Err(CacheError::Unreadable("is authentic but does not decrypt"));
                }
            }
        }
        let plaintext = plaintext.ok_or(forged)?;
        let claims: Map<String, Value> = serde_json::from_slice(&plaintext)
            .map_err(|_| CacheError::Unreadable("decrypts to something other than JSON claims"))?;
        let expires_ms = jwt_expiry_ms(&claims, now)?;
        Ok((claims, expires_ms))
    }

    /// The newest secret signs; an older one is a rotation; none, a forgery.
    fn check_signature(&self, message: &[u8], signature: &[u8]) -> Result<(), CacheError> {
        let mut keys = self.signing.iter();
        if let Some(newest) = keys.next()
            && hmac::verify(newest, message, signature).is_ok()
        {
            return Ok(());
        }
        if keys.any(|key| hmac::verify(key, message, signature).is_ok()) {
            return Err(CacheError::OlderSecret);
        }
        Err(CacheError::SignatureInvalid {
            secrets_tried: self.signing.len(),
        })
    }
}

/// The RFC 7638 thumbprint of a symmetric key as jose computes it for the
/// `kid` (SHA-256 of `{"k":…,"kty":"oct"}`, base64url).
fn thumbprint(key: &[u8]) -> String {
    let jwk = format!(r#"{{"k":"{}","kty":"oct"}}"#, URL_SAFE_NO_PAD.encode(key));
    URL_SAFE_NO_PAD.encode(Sha256::digest(jwk.as_bytes()))
}

/// The length of `header.claims` in a compact JWS (what its signature covers).
fn header_and_claims_len(jws: &str) -> usize {
    jws.rfind('.').unwrap_or(0)
}

fn decode_object(segment: &str) -> Option<Map<String, Value>> {
    let json = URL_SAFE_NO_PAD.decode(segment).ok()?;
    serde_json::from_slice(&json).ok()
}

/// `exp` in ms, after jose's checks of the registered claims: `exp` (here
/// required, as Better Auth always sets it) and `iat` numbers, `nbf` not in
/// the future.
fn jwt_expiry_ms(claims: &Map<String, Value>, now: i64) -> Result<f64, CacheError> {
    let number = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(value) => {
            value
                .as_f64()
                .filter(|n| n.is_finite())
                .map(Some)
                .ok_or(CacheError::Unreadable(
                    "has a date claim that is not a number",
                ))
        }
    };
    let exp = number("exp")?.ok_or(CacheError::Unreadable("has no `exp`"))?;
    number("iat")?;
    if number("nbf")?.is_some_and(|nbf| nbf > now as f64) {
        return Err(CacheError::Unreadable("is not valid yet (`nbf`)"));
    }
    Ok(exp * 1000.0)
}

/// The parts of the payload `getSession` uses, checked as its schema does.
struct PayloadSession {
    id: String,
    user_id: String,
    token: String,
    session_expires_ms: i64,
    created_ms: i64,
    user: Map<String, Value>,
}

/// Checks the payload the way Better Auth's `cookieCachePayloadSchema`
/// does (a field of the wrong type makes the whole cache unusable), and
/// takes what the principal needs.
fn payload_session(payload: &Map<String, Value>) -> Result<PayloadSession, CacheError> {
    let unreadable = CacheError::Unreadable;
    let session = payload
        .get("session")
        .and_then(Value::as_object)
        .ok_or(unreadable("has no `session` object"))?;
    let user = payload
        .get("user")
        .and_then(Value::as_object)
        .ok_or(unreadable("has no `user` object"))?;
    if !payload.get("updatedAt").is_some_and(Value::is_number) {
        return Err(unreadable("has no numeric `updatedAt`"));
    }
    if payload
        .get("version")
        .is_some_and(|version| !version.is_string())
    {
        return Err(unreadable("has a `version` that is not a string"));
    }
    let text = |object: &Map<String, Value>, name: &str, what: &'static str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(unreadable(what))
    };
    let id = text(session, "id", "has no session `id`")?;
    let user_id = text(session, "userId", "has no session `userId`")?;
    let token = text(session, "token", "has no session `token`")?;
    let date = |object: &Map<String, Value>, name: &str, what: &'static str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .and_then(iso_millis)
            .ok_or(unreadable(what))
    };
    let session_expires_ms = date(session, "expiresAt", "has no session `expiresAt` date")?;
    let created_ms = date(session, "createdAt", "has no session `createdAt` date")?;
    for (object, name) in [
        (session, "updatedAt"),
        (user, "createdAt"),
        (user, "updatedAt"),
    ] {
        if object.get(name).is_some() {
            date(
                object,
                name,
                "has a date that is not an ISO 8601 UTC timestamp",
            )?;
        }
    }
    for (object, name) in [
        (session, "ipAddress"),
        (session, "userAgent"),
        (user, "image"),
    ] {
        if object
            .get(name)
            .is_some_and(|value| !value.is_string() && !value.is_null())
        {
            return Err(unreadable("has a field of the wrong type"));
        }
    }
    text(user, "id", "has no user `id`")?;
    text(user, "email", "has no user `email`")?;
    text(user, "name", "has no user `name`")?;
    if user
        .get("emailVerified")
        .is_some_and(|value| !value.is_boolean())
    {
        return Err(unreadable(
            "has a user `emailVerified` that is not a boolean",
        ));
    }
    Ok(PayloadSession {
        id,
        user_id,
        token,
        session_expires_ms,
        created_ms,
        user: user.clone(),
    })
}

/// Milliseconds of a timestamp as Better Auth revives them
/// (`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`, what `Date.toJSON`
/// writes); `None` for anything else.
fn iso_millis(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let digits_at = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    if bytes.len() < 20
        || !digits_at
            .iter()
            .all(|&i| bytes.get(i).is_some_and(u8::is_ascii_digit))
        || bytes[10] != b'T'
        || bytes.last() != Some(&b'Z')
    {
        return None;
    }
    let fraction = &bytes[19..bytes.len() - 1];
    let millis = match fraction.split_first() {
        None => 0,
        Some((b'.', digits)) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
            // JavaScript keeps milliseconds: the first three digits.
            let mut padded = [b'0'; 3];
            for (slot, digit) in padded.iter_mut().zip(digits) {
                *slot = *digit;
            }
            padded
                .iter()
                .fold(0i64, |acc, digit| acc * 10 + i64::from(digit - b'0'))
        }
        _ => return None,
    };
    let seconds = parse_rfc3339(text)?;
    seconds.checked_mul(1000)?.checked_add(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "better-auth-cookie-cache-secret-0123456789";
    const OLD_SECRET: &str = "an-older-better-auth-secret-9876543210abc";
    const OTHER_SECRET: &str = "somebody-elses-secret-000000000000000000";
    /// 2026-12-01T00:00:00Z.
    const NOW: i64 = 1_796_083_200;
    const TOKEN: &str = "Zk3tq9Rf1cYx2Vb8Nw0Lp4Hs6Dj7Ga5e";

    fn secrets(list: &[&str]) -> Vec<(String, Secret)> {
        list.iter()
            .enumerate()
            .map(|(i, s)| ((list.len() - i).to_string(), Secret::new(*s)))
            .collect()
    }

    fn cache(strategy: Strategy, list: &[&str]) -> CookieCache {
        CookieCache::new(
            &CookieCacheSettings {
                strategy,
                version: "1".into(),
            },
            &secrets(list),
        )
    }

    fn iso(secs: i64) -> String {
        crate::clock::rfc3339(secs).replace('Z', ".000Z")
    }

    /// `sessionData` as `setCookieCache` builds it.
    fn session_data(token: &str, session_expires: i64) -> String {
        format!(
            r#"{{"session":{{"expiresAt":"{}","token":"{token}","createdAt":"{}","updatedAt":"{}","ipAddress":"","userAgent":"curl/8","userId":"user-1","id":"session-1"}},"user":{{"name":"Ada","email":"ada@example.com","emailVerified":false,"image":null,"createdAt":"{}","updatedAt":"{}","role":"admin","id":"user-1"}},"updatedAt":{},"version":"1"}}"#,
            iso(session_expires),
            iso(NOW - 100),
            iso(NOW - 100),
            iso(NOW - 1000),
            iso(NOW - 1000),
            NOW * 1000
        )
    }

    fn hmac_b64(secret: &str, message: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        URL_SAFE_NO_PAD.encode(hmac::sign(&key, message.as_bytes()).as_ref())
    }

    fn compact(secret: &str, data: &str, expires_ms: i64) -> String {
        let signed = format!("{},\"expiresAt\":{expires_ms}}}", &data[..data.len() - 1]);
        let signature = hmac_b64(secret, &signed);
        let json =
            format!(r#"{{"session":{data},"expiresAt":{expires_ms},"signature":"{signature}"}}"#);
        URL_SAFE_NO_PAD.encode(json)
    }

    fn jwt(secret: &str, alg: &str, data: &str, exp: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#));
        let claims = format!("{},\"iat\":{NOW},\"exp\":{exp}}}", &data[..data.len() - 1]);
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
        format!("{signing_input}.{}", hmac_b64(secret, &signing_input))
    }

    #[test]
    fn a_compact_cache_is_read_with_the_newest_secret() {
        let value = compact(
            SECRET,
            &session_data(TOKEN, NOW + 86_400),
            (NOW + 300) * 1000,
        );
        let read = cache(Strategy::Compact, &[SECRET, OLD_SECRET])
            .read(&value, TOKEN, NOW)
            .unwrap();
        assert_eq!(read.session_id, "session-1");
        assert_eq!(read.user_id, "user-1");
        assert_eq!(read.expires_at, NOW + 86_400);
        assert_eq!(read.created_at, (NOW - 100) as f64);
        assert_eq!(read.user["role"], "admin");
        assert_eq!(read.user["email"], "ada@example.com");
    }

    #[test]
    fn expiry_is_given_up_no_later_than_better_auth() {
        let cache = cache(Strategy::Compact, &[SECRET]);
        let data = session_data(TOKEN, NOW + 86_400);
        // Expires within the current second: Date.now() may be past it.
        for expires_ms in [NOW * 1000, NOW * 1000 + 998, (NOW - 1) * 1000] {
            let value = compact(SECRET, &data, expires_ms);
            assert_eq!(cache.read(&value, TOKEN, NOW), Err(CacheError::Expired));
        }
        let value = compact(SECRET, &data, NOW * 1000 + 999);
        assert!(cache.read(&value, TOKEN, NOW).is_ok());
        // The session inside expired, the cache not.
        let value = compact(SECRET, &session_data(TOKEN, NOW - 1), (NOW + 300) * 1000);
        assert_eq!(cache.read(&value, TOKEN, NOW), Err(CacheError::Expired));
        // A JWT's exp in seconds.
        let jwts = self::cache(Strategy::Jwt, &[SECRET]);
        assert_eq!(
            jwts.read(&jwt(SECRET, "HS256", &data, NOW), TOKEN, NOW),
            Err(CacheError::Expired)
        );
        assert!(
            jwts.read(&jwt(SECRET, "HS256", &data, NOW + 1), TOKEN, NOW)
                .is_ok()
        );
    }

    #[test]
    fn another_session_version_or_older_secret_falls_back() {
        let data = session_data(TOKEN, NOW + 86_400);
        let value = compact(SECRET, &data, (NOW + 300) * 1000);
        let cache = cache(Strategy::Compact, &[SECRET]);
        let other = cache.read(&value, "another-token", NOW).unwrap_err();
        assert_eq!(other, CacheError::OtherSession);
        assert!(other.falls_back());
        let versioned = CookieCache::new(
            &CookieCacheSettings {
                strategy: Strategy::Compact,
                version: "2".into(),
            },
            &secrets(&[SECRET]),
        );
        assert_eq!(
            versioned.read(&value, TOKEN, NOW),
            Err(CacheError::OtherVersion)
        );
        // Signed before a rotation: Better Auth trusts only its newest.
        let rotated = self::cache(Strategy::Compact, &[OTHER_SECRET, SECRET]);
        let older = rotated.read(&value, TOKEN, NOW).unwrap_err();
        assert_eq!(older, CacheError::OlderSecret);
        assert!(older.falls_back());
        let jwts = self::cache(Strategy::Jwt, &[OTHER_SECRET, SECRET]);
        assert_eq!(
            jwts.read(&jwt(SECRET, "HS256", &data, NOW + 300), TOKEN, NOW),
            Err(CacheError::OlderSecret)
        );
    }

    #[test]
    fn a_forgery_is_refused_not_read() {
        let data = session_data(TOKEN, NOW + 86_400);
        let cache = cache(Strategy::Compact, &[SECRET, OLD_SECRET]);
        let forged = compact(OTHER_SECRET, &data, (NOW + 300) * 1000);
        let refused = cache.read(&forged, TOKEN, NOW).unwrap_err();
        assert_eq!(refused, CacheError::SignatureInvalid { secrets_tried: 2 });
        assert!(!refused.falls_back());
        // The payload changed after signing (a role raised).
        let genuine = compact(SECRET, &data, (NOW + 300) * 1000);
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&genuine).unwrap()).unwrap();
        for (from, to) in [
            (r#""role":"admin""#, r#""role":"owner""#),
            (
                &format!("{}", (NOW + 300) * 1000),
                &format!("{}", (NOW + 900) * 1000),
            ),
            (r#""userId":"user-1""#, r#""userId":"user-2""#),
        ] {
            let altered = URL_SAFE_NO_PAD.encode(json.replacen(from, to, 1));
            assert!(
                matches!(
                    cache.read(&altered, TOKEN, NOW),
                    Err(CacheError::SignatureInvalid { .. })
                ),
                "{to}"
            );
        }
        // A JWT signed with another secret, or with no signature at all.
        let jwts = self::cache(Strategy::Jwt, &[SECRET]);
        assert_eq!(
            jwts.read(&jwt(OTHER_SECRET, "HS256", &data, NOW + 300), TOKEN, NOW),
            Err(CacheError::SignatureInvalid { secrets_tried: 1 })
        );
        let good = jwt(SECRET, "HS256", &data, NOW + 300);
        let unsigned = format!("{}.", &good[..good.rfind('.').unwrap()]);
        assert_eq!(
            jwts.read(&unsigned, TOKEN, NOW),
            Err(CacheError::SignatureInvalid { secrets_tried: 1 })
        );
        // `alg: none` or another algorithm is never checked with the
        // secret: it goes to the database, never accepted.
        let none = jwt(SECRET, "none", &data, NOW + 300);
        assert!(matches!(
            jwts.read(&none, TOKEN, NOW),
            Err(CacheError::Unreadable(_))
        ));
    }

    #[test]
    fn jwe_caches_are_opened_by_kid_with_every_secret() {
        for (list, secret) in [
            (&[SECRET][..], SECRET),
            (&[OTHER_SECRET, SECRET][..], SECRET),
        ] {
            let cache = cache(Strategy::Jwe, list);
            let key = hkdf_sha256::<64>(secret.as_bytes(), JWE_SALT, JWE_INFO).unwrap();
            let data = session_data(TOKEN, NOW + 86_400);
            let claims = format!(
                "{},\"iat\":{NOW},\"exp\":{}}}",
                &data[..data.len() - 1],
                NOW + 300
            );
            for kid in [Some(thumbprint(&key)), None] {
                let value = seal_cbc(&key, kid.as_deref(), claims.as_bytes());
                let read = cache.read(&value, TOKEN, NOW).unwrap();
                assert_eq!(read.session_id, "session-1");
            }
            let wrong = hkdf_sha256::<64>(b"no-such-secret-000000000000000000", JWE_SALT, JWE_INFO)
                .unwrap();
            let value = seal_cbc(&wrong, Some(&thumbprint(&wrong)), claims.as_bytes());
            assert!(matches!(
                cache.read(&value, TOKEN, NOW),
                Err(CacheError::SignatureInvalid { .. })
            ));
            // The right kid, another key's tag.
            let value = seal_cbc(&wrong, Some(&thumbprint(&key)), claims.as_bytes());
            assert!(matches!(
                cache.read(&value, TOKEN, NOW),
                Err(CacheError::SignatureInvalid { .. })
            ));
        }
    }

    /// `dir` + A256CBC-HS512, as jose's `EncryptJWT` writes it.
    fn seal_cbc(key: &[u8; 64], kid: Option<&str>, plaintext: &[u8]) -> String {
        use aws_lc_rs::cipher;
        let header = match kid {
            Some(kid) => format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            None => r#"{"alg":"dir","enc":"A256CBC-HS512"}"#.to_owned(),
        };
        let protected = URL_SAFE_NO_PAD.encode(header);
        let iv = [5u8; 16];
        let encrypting = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(
            cipher::UnboundCipherKey::new(&cipher::AES_256, &key[32..]).unwrap(),
        )
        .unwrap();
        let mut buffer = plaintext.to_vec();
        encrypting
            .less_safe_encrypt(
                &mut buffer,
                cipher::EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(iv)),
            )
            .unwrap();
        let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA512, &key[..32]));
        let bits = (protected.len() as u64 * 8).to_be_bytes();
        for part in [protected.as_bytes(), &iv, &buffer, &bits] {
            mac.update(part);
        }
        let tag = mac.sign();
        format!(
            "{protected}..{}.{}.{}",
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(&buffer),
            URL_SAFE_NO_PAD.encode(&tag.as_ref()[..32])
        )
    }

    #[test]
    fn garbage_never_panics_and_never_passes() {
        let caches = [
            cache(Strategy::Compact, &[SECRET]),
            cache(Strategy::Jwt, &[SECRET]),
            cache(Strategy::Jwe, &[SECRET]),
        ];
        let huge = "A".repeat(MAX_TOKEN_BYTES + 1);
        let wrong_types = [
            r#"{"session":[],"expiresAt":1,"signature":"x"}"#,
            r#"{"session":{},"expiresAt":"soon","signature":"x"}"#,
            r#"{"session":{},"expiresAt":1,"signature":7}"#,
            r#"{"session":{"expiresAt":1},"expiresAt":1,"signature":"x"}"#,
            r#"{"session":{},"expiresAt":1e400,"signature":"x"}"#,
            r#"[]"#,
            r#"null"#,
            "{\"session\":{},\"expiresAt\":1,\"signature\":\"x\",\"session\":{}}",
        ];
        let mut inputs: Vec<String> = vec![
            String::new(),
            ".".into(),
            "..".into(),
            "....".into(),
            "!!!".into(),
            "%7B%7D".into(),
            "e30".into(),
            "eyJhbGciOiJIUzI1NiJ9.e30.".into(),
            "eyJhbGciOiJIUzI1NiJ9.!!!.AAAA".into(),
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIn0..AAAA.AAAA.AAAA".into(),
            huge,
            "\u{0}\u{ffff}".into(),
        ];
        inputs.extend(wrong_types.iter().map(|json| URL_SAFE_NO_PAD.encode(json)));
        for input in &inputs {
            for cache in &caches {
                assert!(cache.read(input, TOKEN, NOW).is_err(), "{:.60}", input);
            }
        }
    }

    #[test]
    fn a_signed_payload_of_the_wrong_shape_is_not_used() {
        let cache = cache(Strategy::Compact, &[SECRET]);
        let good = session_data(TOKEN, NOW + 86_400);
        for (from, to) in [
            (r#""id":"session-1""#, r#""id":1"#),
            (r#""token":"#, r#""tokn":"#),
            (r#""emailVerified":false"#, r#""emailVerified":"no""#),
            (r#""version":"1""#, r#""version":1"#),
            (r#""image":null"#, r#""image":5"#),
            (
                &format!(r#""updatedAt":{}"#, NOW * 1000),
                r#""updatedAt":"now""#,
            ),
            (
                &format!(r#""expiresAt":"{}""#, iso(NOW + 86_400)),
                r#""expiresAt":"tomorrow""#,
            ),
            (
                &format!(r#""expiresAt":"{}""#, iso(NOW + 86_400)),
                r#""expiresAt":"2027-01-01T00:00:00+00:00""#,
            ),
        ] {
            let data = good.replacen(from, to, 1);
            assert_ne!(data, good, "{from}");
            let value = compact(SECRET, &data, (NOW + 300) * 1000);
            assert!(
                matches!(
                    cache.read(&value, TOKEN, NOW),
                    Err(CacheError::Unreadable(_))
                ),
                "{to}"
            );
        }
    }

    #[test]
    fn timestamps_are_read_as_javascript_revives_them() {
        assert_eq!(iso_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(iso_millis("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(iso_millis("1970-01-01T00:00:01.123456Z"), Some(1123));
        assert_eq!(iso_millis("2026-12-01T00:00:00.000Z"), Some(NOW * 1000));
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01T00:00:00",
            "2026-12-01T00:00:00+00:00",
            "2026-12-01 00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-12-01T00:00:00.Z",
            "2026-12-01T00:00:00.1xZ",
            "+02026-12-01T00:00:00Z",
        ] {
            assert_eq!(iso_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_and_kids_are_the_ones_better_auth_derives() {
        // From tests/interop with Better Auth's own libraries: @noble/hashes
        // `hkdf(sha256, secret, "better-auth-session", "BetterAuth.js
        // Generated Encryption Key", 64)` and jose `calculateJwkThumbprint`.
        assert_eq!(
            thumbprint(&[0u8; 64]),
            "IxlVes3qOBhi-_A48GJFco-Bzr-j996w5TGQI8bnhoU"
        );
        let jwe = cache(Strategy::Jwe, &[SECRET]);
        assert_eq!(
            jwe.encryption[0].kid,
            "Rd0yMfMO1qp_nPslMLtA11H0LvfDYMR7lypXHspy2cA"
        );
    }

    #[test]
    fn strategies_parse_by_name() {
        assert_eq!(Strategy::parse("compact"), Some(Strategy::Compact));
        assert_eq!(Strategy::parse("JWT"), Some(Strategy::Jwt));
        assert_eq!(Strategy::parse("jwe"), Some(Strategy::Jwe));
        assert_eq!(Strategy::parse("on"), None);
        assert!(!format!("{:?}", cache(Strategy::Jwe, &[SECRET])).contains(SECRET));
    }
}
