//! `GET /api/auth/token-health` through the real `auth-token-health`
//! binary: always 200, and the document says whether the token works here
//! (`authenticated`), whether a refresh would cure it (`compatible`) and how
//! long it has left.

use serde_json::{Value, json};

use super::*;
use crate::support::function::VercelFunction;
use crate::support::http_client::{Response, get};
use crate::support::mint::{pyjwt, secret_spec};

#[track_caller]
fn health(function: &VercelFunction, headers: &[(&str, &str)]) -> (Response, Value) {
    let response = get(function.addr(), TOKEN_HEALTH, headers);
    assert_eq!(response.status, 200, "always 200: {response}");
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response}"
    );
    let body = response.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "authenticated",
            "compatible",
            "detail",
            "expires_in",
            "hint",
            "reason",
            "server_version",
            "signed_with_previous_secret",
            "token_version",
        ],
        "{response}"
    );
    (response, body)
}

#[test]
fn token_health_tells_whether_a_token_works_here_and_what_would_fix_it() {
    let secret = unique_secret("health");
    let mut function = start(
        AUTH_TOKEN_HEALTH,
        &[
            ("LOG_LEVEL", LOG_EVERY_REQUEST),
            ("JWT_SECRET", &secret),
            ("JWT_AUDIENCE", AUDIENCE),
            ("TOKEN_VERSION", "2"),
        ],
    );
    let now = now();
    let base = with(&claims("health-user"), json!({"token_version": 2}));
    let tokens = pyjwt(&[
        secret_spec("HS256", &secret, &with(&base, json!({"exp": now + 600}))),
        secret_spec(
            "HS256",
            &secret,
            &with(&base, json!({"iat": now - 7200, "exp": now - 120})),
        ),
        secret_spec("HS256", &unique_secret("elsewhere"), &base),
        secret_spec("HS256", &secret, &with(&base, json!({"token_version": 1}))),
    ]);
    let auth = |token: &str| bearer(token);

    // Valid: compatible, and the time left.
    let (response, body) = health(&function, &[("authorization", &auth(&tokens[0]))]);
    assert_eq!(body["authenticated"], true, "{response}");
    assert_eq!(body["compatible"], true, "{response}");
    assert_eq!(body["reason"], Value::Null);
    assert_eq!(body["detail"], Value::Null);
    assert_eq!(body["hint"], Value::Null);
    assert_eq!(body["token_version"], 2);
    assert_eq!(body["server_version"], 2);
    assert_eq!(body["signed_with_previous_secret"], false);
    let expires_in = body["expires_in"].as_i64().unwrap();
    let expected = now + 600 - super::now();
    assert!(
        (expected..=expected + 2).contains(&expires_in),
        "{response}"
    );

    // Expired: not authenticated, but a refresh cures it.
    let (response, body) = health(&function, &[("authorization", &auth(&tokens[1]))]);
    assert_eq!(body["authenticated"], false, "{response}");
    assert_eq!(body["compatible"], true, "{response}");
    assert_eq!(body["reason"], "token_expired");
    assert!(body["detail"].as_str().unwrap().contains("expired at"));
    assert!(body["hint"].as_str().unwrap().contains("fresh token"));
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!((-125..=-120).contains(&expires_in), "{response}");

    // Signed with another secret: no refresh from that issuer will help.
    let (response, body) = health(&function, &[("authorization", &auth(&tokens[2]))]);
    assert_eq!(body["authenticated"], false, "{response}");
    assert_eq!(body["compatible"], false, "{response}");
    assert_eq!(body["reason"], "signature_invalid");
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("sha256:{}", fingerprint(&secret)))
    );
    assert!(!response.text().contains(&secret[..20]));

    // No credentials: nothing to judge.
    let (response, body) = health(&function, &[]);
    assert_eq!(body["authenticated"], false, "{response}");
    assert_eq!(body["compatible"], Value::Null, "{response}");
    assert_eq!(body["reason"], "credentials_missing");
    assert_eq!(body["expires_in"], Value::Null);
    assert_eq!(body["server_version"], 2);

    // An older token version: incompatible, both versions named.
    let (response, body) = health(&function, &[("authorization", &auth(&tokens[3]))]);
    assert_eq!(body["authenticated"], false, "{response}");
    assert_eq!(body["compatible"], false, "{response}");
    assert_eq!(body["reason"], "token_version_stale");
    assert_eq!(body["token_version"], 1, "{response}");
    assert_eq!(body["server_version"], 2, "{response}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("older than this server's 2")
    );

    // Not a refusal: no refusal event, no WWW-Authenticate.
    wait_logged(&mut function, &response);
    assert_eq!(response.header("www-authenticate"), None);
    assert_eq!(response.header("x-auth-reason"), None);
    assert!(
        refusal_events(&function).is_empty(),
        "{}",
        function.process.report()
    );
}
