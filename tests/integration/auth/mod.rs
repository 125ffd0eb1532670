//! Authentication through the real `auth-session` and `auth-token-health`
//! binaries under the Vercel protocol: tokens minted by `jose` (npm), PyJWT
//! and a real Better Auth server, keys served by a loopback JWKS endpoint
//! that counts its fetches, refusals checked in the response and in the log.

mod accepted;
mod api_keys;
mod api_sessions;
mod authjs_sessions;
pub mod better_auth;
mod claims_rules;
mod contract;
mod cookie_cache;
mod cors;
mod debug_session;
mod jwks_fetching;
mod logs;
mod presets;
mod refusals;
mod remote_sessions;
mod revocation_mirror;
pub mod sessions;
mod token_health;
mod user_service;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::support::function::{VercelFunction, json_logs};
use crate::support::http_client::{Response, get};
use crate::support::mint::{self, fixture_jwk};

pub const AUTH_SESSION: &str = env!("CARGO_BIN_EXE_auth-session");
pub const AUTH_TOKEN_HEALTH: &str = env!("CARGO_BIN_EXE_auth-token-health");
pub const SESSION: &str = "/api/auth/session";
pub const TOKEN_HEALTH: &str = "/api/auth/token-health";

/// The issuer and audience the JWKS-configured functions trust.
pub const ISSUER: &str = "https://auth.test.example";
pub const AUDIENCE: &str = "https://api.test.example";

pub const KID_RSA: &str = "rsa-2048-2026";
/// The same RSA key, published a second time for PS256.
pub const KID_PS: &str = "rsa-pss-2026";
pub const KID_P256: &str = "ec-p256-2026";
pub const KID_P384: &str = "ec-p384-2026";
pub const KID_ED_A: &str = "Jq0Xv4oQm3tYc8TnZ2bKpR7wLs1eHdUf";
pub const KID_ED_B: &str = "Vb6nP1sXk9QwE3rTy5uIo7aZl2mNc4Dg";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The public JWK published under `kid`.
pub fn jwk(kid: &str) -> Value {
    match kid {
        KID_RSA => fixture_jwk("rsa-2048.jwk.json"),
        KID_PS => {
            let mut jwk = fixture_jwk("rsa-2048.jwk.json");
            jwk["kid"] = json!(KID_PS);
            jwk["alg"] = json!("PS256");
            jwk
        }
        KID_P256 => fixture_jwk("ec-p256.jwk.json"),
        KID_P384 => fixture_jwk("ec-p384.jwk.json"),
        KID_ED_A => fixture_jwk("ed25519-a.jwk.json"),
        KID_ED_B => fixture_jwk("ed25519-b.jwk.json"),
        other => panic!("no fixture key has kid {other}"),
    }
}

/// The private PEM fixture of the key published under `kid`.
pub fn private_pem(kid: &str) -> &'static str {
    match kid {
        KID_RSA | KID_PS => "rsa-2048.key.pem",
        KID_P256 => "ec-p256.key.pem",
        KID_P384 => "ec-p384.key.pem",
        KID_ED_A => "ed25519-a.key.pem",
        KID_ED_B => "ed25519-b.key.pem",
        other => panic!("no fixture key has kid {other}"),
    }
}

/// The JWKS most tests serve: one key per algorithm family (Ed25519 `a`).
pub fn standard_keys() -> Vec<Value> {
    [KID_RSA, KID_PS, KID_P256, KID_P384, KID_ED_A]
        .iter()
        .map(|kid| jwk(kid))
        .collect()
}

/// Valid claims for `sub` from [`ISSUER`] to [`AUDIENCE`], ten minutes left.
pub fn claims(sub: &str) -> Value {
    let now = now();
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600 })
}

/// `base` with `changes` applied; a `null` change removes the claim.
pub fn with(base: &Value, changes: Value) -> Value {
    let mut out: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    for (key, value) in changes.as_object().cloned().unwrap_or_default() {
        if value.is_null() {
            out.remove(&key);
        } else {
            out.insert(key, value);
        }
    }
    Value::Object(out)
}

/// A `jose` spec signing `claims` with the fixture key of `kid`.
pub fn spec(alg: &str, kid: &str, claims: &Value) -> Value {
    mint::pem_spec(alg, private_pem(kid), Some(kid), claims)
}

/// A shared secret of 64 characters no output could contain by accident.
pub fn unique_secret(label: &str) -> String {
    let mut secret = format!(
        "{label}-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    secret.truncate(64);
    secret
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS built by hand (alg `none`, forged headers, tampering).
pub fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

/// The first 12 hex digits of SHA-256, as Gatehouse fingerprints tokens
/// and secrets (computed here independently).
pub fn fingerprint(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .take(6)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Starts a function with JSON logs (unless `env` sets LOG_FORMAT).
pub fn start(program: &str, env: &[(&str, &str)]) -> VercelFunction {
    let mut full: Vec<(&str, &str)> = Vec::new();
    if !env.iter().any(|(key, _)| *key == "LOG_FORMAT") {
        full.push(("LOG_FORMAT", "json"));
    }
    full.extend_from_slice(env);
    VercelFunction::start(program, &full)
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET /api/auth/session` with `Authorization: Bearer <token>`.
#[track_caller]
pub fn session_with(function: &VercelFunction, token: &str) -> Response {
    get(
        function.addr(),
        SESSION,
        &[("authorization", &bearer(token))],
    )
}

/// The status a refusal reason is answered with.
pub fn status_of(reason: &str) -> u16 {
    gatehouse::Reason::ALL
        .iter()
        .find(|known| known.as_str() == reason)
        .unwrap_or_else(|| panic!("{reason} is no reason code of the runtime"))
        .status()
        .as_u16()
}

/// RFC 7230 quoted-string content, as the refusal writes `error_description`.
fn quoted_string_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '"' || c == '\\' || !(' '..='~').contains(&c) {
                '\''
            } else {
                c
            }
        })
        .collect()
}

/// Asserts a refusal in full: status, problem document with `reason`,
/// `detail`, `hint` and `request_id`, `X-Auth-Reason`, the RFC 6750
/// `WWW-Authenticate` shape for the case, `Retry-After` on 503; and that
/// `detail` and `hint` contain the given fragments. Returns the body.
#[track_caller]
pub fn assert_refused(
    response: &Response,
    reason: &str,
    detail_has: &[&str],
    hint_has: &[&str],
) -> Value {
    let status = status_of(reason);
    let body = response.assert_problem(status, reason);
    assert_eq!(
        response.header("x-auth-reason"),
        Some(reason),
        "X-Auth-Reason: {response}"
    );
    let detail = body["detail"].as_str().unwrap_or_default();
    let hint = body["hint"].as_str().unwrap_or_default();
    assert!(detail.len() > 20, "a useful detail: {response}");
    assert!(hint.len() > 20, "a useful hint: {response}");
    for fragment in detail_has {
        assert!(
            detail.contains(fragment),
            "detail lacks {fragment:?}: {response}"
        );
    }
    for fragment in hint_has {
        assert!(
            hint.contains(fragment),
            "hint lacks {fragment:?}: {response}"
        );
    }
    let www = response.header("www-authenticate");
    match status {
        503 => {
            assert_eq!(www, None, "no WWW-Authenticate on 503: {response}");
            assert_eq!(response.header("retry-after"), Some("5"), "{response}");
        }
        _ if reason == "credentials_missing" => {
            assert_eq!(
                www,
                Some(r#"Bearer realm="gatehouse""#),
                "RFC 6750: no error attribute without credentials: {response}"
            );
            assert_eq!(response.header("retry-after"), None, "{response}");
        }
        403 => {
            assert_eq!(
                www,
                Some(r#"Bearer realm="gatehouse", error="insufficient_scope""#),
                "{response}"
            );
        }
        _ => {
            let expected = format!(
                r#"Bearer realm="gatehouse", error="invalid_token", error_description="{}""#,
                quoted_string_safe(detail)
            );
            assert_eq!(www, Some(expected.as_str()), "{response}");
            assert_eq!(response.header("retry-after"), None, "{response}");
        }
    }
    assert_eq!(
        response.header("cache-control"),
        Some("no-store"),
        "{response}"
    );
    body
}

/// Asserts a 200 from `auth-session` and returns the principal.
#[track_caller]
pub fn assert_accepted(response: &Response) -> Value {
    assert_eq!(response.status, 200, "expected 200: {response}");
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response}"
    );
    let body = response.json();
    assert_eq!(body["authenticated"], true, "{response}");
    assert!(body["principal"].is_object(), "{response}");
    body["principal"].clone()
}

/// The `gatehouse::auth::refusal` events logged so far.
pub fn refusal_events(function: &VercelFunction) -> Vec<Value> {
    json_logs(function)
        .into_iter()
        .filter(|event| event["target"] == "gatehouse::auth::refusal")
        .collect()
}

/// `program` trusting [`ISSUER`]/[`AUDIENCE`] with keys from `jwks_url`,
/// refetching for an unknown kid at most once a second.
pub fn start_with_jwks(program: &str, jwks_url: &str, extra: &[(&str, &str)]) -> VercelFunction {
    let mut env = vec![
        ("JWT_JWKS_URL", jwks_url),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWKS_REFETCH_MIN_SECS", "1"),
    ];
    env.extend_from_slice(extra);
    start(program, &env)
}

/// A Better Auth signed session token as its cookie holds it:
/// `<32 characters>.<base64 HMAC-SHA256>`, raw (`encoded` false) or
/// URL-encoded as in the `Cookie` header.
pub fn better_auth_session_token(encoded: bool) -> String {
    use base64::engine::general_purpose::STANDARD;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let signature = STANDARD.encode(Sha256::digest(token.as_bytes()));
    let value = format!("{token}.{signature}");
    if encoded {
        value
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    } else {
        value
    }
}

/// A Better Auth session token signed with `secret`, as its bearer plugin
/// hands it out: `<token>.<base64 HMAC-SHA256>`.
pub fn signed_session_token(secret: &str) -> String {
    use aws_lc_rs::hmac;
    use base64::Engine;
    let token = uuid::Uuid::new_v4().simple().to_string();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature =
        base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, token.as_bytes()));
    format!("{token}.{signature}")
}

/// Waits until the function's log names this response's request id, so
/// checks of the log see everything about it (refusals log at info; other
/// requests only with `LOG_LEVEL` including `gatehouse::request=debug`).
#[track_caller]
pub fn wait_logged(function: &mut VercelFunction, response: &Response) {
    function.process.wait_stderr_line(
        response.request_id(),
        crate::support::function::READY_TIMEOUT,
    );
}

/// `LOG_LEVEL` that logs every request (its `request served` event).
pub const LOG_EVERY_REQUEST: &str = "info,gatehouse::request=debug";
