//! Recognising what a credential is before trying to verify it, once per
//! request: [`classify`] names every kind ([`TokenKind`]), and the
//! authenticator routes on that alone. An opaque session token sent where a
//! JWT is expected is named as such instead of failing as "malformed JWT".

use serde::Deserialize;

use crate::auth::refusal::{Facts, Refusal};
use crate::reason::Reason;

/// Sessions of this API: `gs_` and 43 base64url characters.
pub const SESSION_PREFIX: &str = "gs_";
pub const SESSION_SECRET_CHARS: usize = 43;
/// API keys: `gk_<lookup>_<secret>` (auth/api_keys.rs checks the rest).
pub const API_KEY_PREFIX: &str = "gk_";

/// The unverified JOSE header of a JWS or JWE: only what routing the token
/// needs (other members are skipped unread, without allocating).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct JoseHeader {
    pub alg: Option<String>,
    pub kid: Option<String>,
    /// Whether `enc` is present: it makes the token a JWE.
    #[serde(default, rename = "enc", deserialize_with = "present")]
    pub encrypted: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// `gs_…`: a session of this API (`POST /api/auth/exchange`).
    GatehouseSession,
    /// `gk_…`: an API key.
    ApiKey,
    /// Three segments with a JSON header naming `alg`.
    Jwt(JoseHeader),
    /// Five segments with a JSON header naming `enc`: an encrypted token,
    /// such as an Auth.js session cookie.
    Jwe(JoseHeader),
    /// `token.signature` with a 44-character base64 HMAC: Better Auth's
    /// signed session cookie (possibly still URL-encoded).
    BetterAuthSession,
    /// Random-looking text: a session id or an API key.
    Opaque,
    /// None of the above; the message says what is wrong.
    Malformed(&'static str),
}

impl TokenKind {
    pub fn describe(&self) -> &'static str {
        match self {
            TokenKind::GatehouseSession => "a session of this API (POST /api/auth/exchange)",
            TokenKind::ApiKey => "an API key",
            TokenKind::Jwt(_) => "a JWT",
            TokenKind::Jwe(_) => "an encrypted JWT (JWE), such as an Auth.js session cookie",
            TokenKind::BetterAuthSession => {
                "a Better Auth signed session token (opaque, not a JWT)"
            }
            TokenKind::Opaque => "an opaque token (a session id or API key, not a JWT)",
            TokenKind::Malformed(_) => "not a recognisable token",
        }
    }
}

/// Tokens longer than this are refused unread: no real JWT comes close, and
/// decoding unbounded input is a denial-of-service vector.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

pub fn classify(token: &str) -> TokenKind {
    if token.len() > MAX_TOKEN_BYTES {
        return TokenKind::Malformed("is longer than 16 KiB");
    }
    if is_gatehouse_session(token) {
        return TokenKind::GatehouseSession;
    }
    if token.starts_with(API_KEY_PREFIX) {
        return TokenKind::ApiKey;
    }
    let first = token.split('.').next().unwrap_or_default();
    let header = || decode_header(first);
    match segment_count(token) {
        3 => match header() {
            Some(header) if !header.encrypted && header.alg.is_some() => TokenKind::Jwt(header),
            Some(_) => TokenKind::Malformed("has three segments but its header names no `alg`"),
            None if looks_like_better_auth(token) => TokenKind::BetterAuthSession,
            None => TokenKind::Malformed(
                "has three segments but the first is not a base64url JSON header",
            ),
        },
        5 => match header() {
            Some(header) if header.encrypted => TokenKind::Jwe(header),
            _ => TokenKind::Malformed("has five segments but no JWE header"),
        },
        _ if looks_like_better_auth(token) => TokenKind::BetterAuthSession,
        1 if token.len() >= 16
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_~+/=".contains(&b)) =>
        {
            TokenKind::Opaque
        }
        1 => TokenKind::Malformed("is neither a JWT nor a plausible opaque token"),
        _ => TokenKind::Malformed("has a number of `.`-separated segments no token format uses"),
    }
}

/// The number of `.`-separated segments, up to 6 (no format has more than
/// 5, so 6 stands for "too many"). `str::split` finds each `.` with memchr
/// and this stops at the sixth: a byte-by-byte count over a whole RS256
/// token cost ~2.8k instructions, a seventh of all our checks (callgrind).
fn segment_count(token: &str) -> usize {
    token.split('.').take(6).count()
}

fn is_gatehouse_session(token: &str) -> bool {
    token.len() == SESSION_PREFIX.len() + SESSION_SECRET_CHARS
        && token.starts_with(SESSION_PREFIX)
        && token[SESSION_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The JOSE header of a JWS or JWE, decoded from its first segment (for
/// the facts of a refused token, after classification).
pub(crate) fn jose_header(token: &str) -> Option<JoseHeader> {
    decode_header(token.split('.').next().unwrap_or_default())
}

fn decode_header(segment: &str) -> Option<JoseHeader> {
    if segment.len() > 4096 {
        return None;
    }
    let bytes = base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(segment.trim_end_matches('='))
        .ok()?;
    serde_json::from_str(std::str::from_utf8(&bytes).ok()?).ok()
}

/// `<32 alphanumerics>.<base64 HMAC-SHA256>`, raw or URL-encoded.
fn looks_like_better_auth(token: &str) -> bool {
    let decoded = token
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let Some((value, signature)) = decoded.rsplit_once('.') else {
        return false;
    };
    signature.len() == 44
        && signature.ends_with('=')
        && signature
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        && !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
}

impl TokenKind {
    /// The refusal for a credential of a kind this deployment does not
    /// verify, naming what it is and what to configure.
    pub(crate) fn not_accepted(&self, facts: &mut Facts) -> Refusal {
        let (short, detail, hint) = match self {
            TokenKind::BetterAuthSession => (
                "better_auth_session",
                "this is a Better Auth session token (opaque, signed), not a JWT",
                "a session token cannot be decoded as a JWT: either send a JWT from Better Auth's jwt plugin (GET /api/auth/token) in Authorization: Bearer, or configure session validation (BETTER_AUTH_SECRET with DATABASE_URL, or AUTH_SERVER_URL)",
            ),
            TokenKind::Opaque => (
                "opaque",
                "this is an opaque token (a session id or API key), not a JWT",
                "an opaque token cannot be decoded as a JWT: send the JWT your auth provider issues (for Better Auth, GET /api/auth/token), or configure session validation",
            ),
            TokenKind::Jwe(_) => (
                "jwe",
                "this is an encrypted token (JWE), such as an Auth.js session cookie, not a signed JWT",
                "Auth.js session cookies are encrypted with AUTH_SECRET; configure AUTH_SECRET for Auth.js sessions, or send a signed JWT",
            ),
            TokenKind::Malformed(why) => {
                facts.token_kind = Some("malformed");
                return Refusal::new(
                    Reason::TokenMalformed,
                    format!("the credential {why}"),
                    "send `Authorization: Bearer <JWT>` with the token exactly as the issuer produced it (three base64url parts separated by dots)",
                );
            }
            TokenKind::Jwt(_) => (
                "jwt",
                "this is a JWT, and this deployment verifies none",
                "configure JWT_JWKS_URL with JWT_ISSUER and JWT_AUDIENCE, JWT_PUBLIC_KEY, or JWT_SECRET",
            ),
            TokenKind::ApiKey => (
                "api_key",
                "this is an API key, and this deployment does not accept API keys",
                "API keys live in Postgres: set DATABASE_URL, run `gatehouse migrate`, then `gatehouse api-keys create`",
            ),
            TokenKind::GatehouseSession => (
                "gatehouse_session",
                "this is a session of this API, which needs DATABASE_URL",
                "set DATABASE_URL",
            ),
        };
        facts.token_kind = Some(short);
        Refusal::new(Reason::TokenMalformed, detail, hint)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn recognises_jwts_and_jwes() {
        let jwt = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"EdDSA","kid":"k1"}"#),
            b64(r#"{"sub":"1"}"#)
        );
        match classify(&jwt) {
            TokenKind::Jwt(header) => {
                assert_eq!(header.alg.as_deref(), Some("EdDSA"));
                assert_eq!(header.kid.as_deref(), Some("k1"));
            }
            other => panic!("{other:?}"),
        }
        let jwe = format!(
            "{}..iv.ct.tag",
            b64(r#"{"alg":"dir","enc":"A256CBC-HS512"}"#)
        );
        assert!(matches!(classify(&jwe), TokenKind::Jwe(_)));
    }

    #[test]
    fn recognises_better_auth_session_tokens_raw_and_encoded() {
        let token = "xJ3kP9mQ2rT7vW1yZ4aB6cD8eF0gH2iK";
        let signature = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8Q=";
        assert_eq!(
            classify(&format!("{token}.{signature}")),
            TokenKind::BetterAuthSession
        );
        let encoded = format!("{token}.{}", signature.replace('=', "%3D"));
        assert_eq!(classify(&encoded), TokenKind::BetterAuthSession);
    }

    #[test]
    fn recognises_opaque_and_malformed_tokens() {
        assert_eq!(classify("gh_live_0123456789abcdef0123"), TokenKind::Opaque);
        assert!(matches!(classify("short"), TokenKind::Malformed(_)));
        assert!(matches!(classify("a.b"), TokenKind::Malformed(_)));
        assert!(matches!(classify("not.a.jwt"), TokenKind::Malformed(_)));
        assert!(matches!(classify("' OR 1=1 --"), TokenKind::Malformed(_)));
        assert!(matches!(
            classify(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            TokenKind::Malformed(_)
        ));
        let no_alg = format!("{}.{}.sig", b64(r#"{"typ":"JWT"}"#), b64("{}"));
        assert!(matches!(classify(&no_alg), TokenKind::Malformed(_)));
    }
}
