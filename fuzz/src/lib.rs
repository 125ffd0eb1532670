//! What the fuzz targets share: a request's headers built from raw bytes,
//! and one authenticator configured as a deployment would be (a shared
//! secret, an inline public key, an Auth.js secret), with no network and no
//! database, so every input runs the real parsing and verification code.

use std::sync::LazyLock;

use gatehouse::config::{Config, Env, Needs};
use gatehouse::state::State;
use http::{HeaderMap, HeaderName, HeaderValue};

/// 32+ bytes: the minimum the configuration accepts.
pub const SECRET: &str = "fuzz-secret-0123456789abcdef-0123456789abcdef";

/// The public half of an Ed25519 key (RFC 8037's example key).
const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

static STATE: LazyLock<State> = LazyLock::new(|| {
    let env = Env::from_pairs([
        ("ENVIRONMENT", "development"),
        ("JWT_SECRET", SECRET),
        ("JWT_PUBLIC_KEYS", JWKS),
        ("JWT_ISSUER", "https://issuer.example"),
        ("JWT_AUDIENCE", "https://api.example"),
        ("AUTH_SECRET", SECRET),
    ]);
    match Config::load(&env, Needs::AUTH) {
        Ok(config) => State::new(config),
        Err(errors) => panic!("the fuzz configuration is invalid: {errors}"),
    }
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => panic!("no runtime: {err}"),
    }
});

/// Authenticates a request carrying `headers`; the outcome is discarded:
/// a refusal is a fine answer, a panic or a hang is the finding.
pub fn authenticate(headers: &HeaderMap) {
    let Ok(authenticator) = STATE.authenticator() else {
        panic!("the authenticator did not build");
    };
    let _ = RUNTIME.block_on(authenticator.authenticate(headers));
}

/// `Name: value` lines (CR LF or LF) as a header map, the way a host hands
/// them over: invalid names or values are dropped, as hyper would refuse
/// them before a function saw them.
pub fn headers(data: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    map
}
