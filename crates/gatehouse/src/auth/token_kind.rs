//! Recognising what a token is before trying to verify it, so that an opaque
//! session token sent where a JWT is expected is named as such instead of
//! failing as "malformed JWT".

use serde::Deserialize;

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
