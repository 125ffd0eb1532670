//! Better Auth sessions validated straight from Postgres, against a real
//! Better Auth 1.7 server that signs users up and in on the same database;
//! and revocation through `auth-revoke`, honoured by another process within
//! `REVOCATION_SYNC_MS` (its bound is measured in `revocation_mirror.rs`).

use serde_json::{Value, json};

use super::better_auth::{BetterAuth, sign_in, sign_up_and_in};
use super::*;
use crate::support::db::TestDb;
use crate::support::function::{VercelFunction, block_on};
use crate::support::http_client::{Response, exchange, get, request};
use crate::support::jwks_server::refused_url;
use crate::support::mint::{jose_one, secret_spec};

pub const AUTH_REVOKE: &str = env!("CARGO_BIN_EXE_auth-revoke");
const REVOKE: &str = "/api/auth/revoke";

fn cookie_header(cookie: &str) -> Vec<(&'static str, String)> {
    vec![("cookie", cookie.to_owned())]
}

#[track_caller]
fn call(function: &VercelFunction, path: &str, headers: &[(&str, String)]) -> Response {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    get(function.addr(), path, &headers)
}

/// `POST /api/auth/revoke` with `headers` and a JSON body.
#[track_caller]
pub(crate) fn revoke(
    function: &VercelFunction,
    headers: &[(&str, String)],
    body: &Value,
) -> Response {
    let body = body.to_string();
    let length = body.len().to_string();
    let mut all: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    all.push(("content-type", "application/json"));
    all.push(("content-length", &length));
    let mut raw = request("POST", REVOKE, &all);
    raw.extend_from_slice(body.as_bytes());
    exchange(function.addr(), &raw)
}

/// A `postgres://` URL on a port nothing listens on.
fn unreachable_database() -> String {
    let port = refused_url()
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    format!("postgres://postgres@127.0.0.1:{port}/postgres?connect_timeout=2")
}

#[test]
fn better_auth_sessions_are_validated_in_postgres_without_an_http_hop() {
    let server = BetterAuth::start();
    block_on(server.db.migrate());
    let user = sign_up_and_in(&server, "lin@example.com");
    let env = [
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
    ];
    let mut function = start(AUTH_SESSION, &env);

    // The cookie as the browser sends it, and the bearer plugin's token.
    let by_cookie = assert_accepted(&call(&function, SESSION, &cookie_header(&user.cookie)));
    let by_bearer = assert_accepted(&session_with(&function, &user.session_token));
    for principal in [&by_cookie, &by_bearer] {
        assert_eq!(principal["subject"], user.user_id.as_str());
        assert_eq!(principal["method"], "better_auth_session");
        assert_eq!(principal["claims"]["email"], "lin@example.com");
        assert_eq!(principal["claims"]["name"], "Ada Lovelace");
        assert!(principal["session_id"].is_string(), "{principal}");
        let expires_in = principal["expires_at"].as_i64().unwrap() - now();
        assert!(
            (7 * 86_400 - 60..=7 * 86_400).contains(&expires_in),
            "Better Auth sessions last 7 days: {principal}"
        );
    }
    assert_eq!(
        by_cookie["credential_source"],
        "cookie:better-auth.session_token"
    );
    assert_eq!(by_bearer["credential_source"], "authorization_header");

    // The same value under the __Secure- name (HTTPS deployments).
    let value = user.cookie.split_once('=').unwrap().1.to_owned();
    let secure = format!("__Secure-better-auth.session_token={value}");
    assert_accepted(&call(&function, SESSION, &cookie_header(&secure)));

    // Tampered: one character of the token changed, signature kept.
    let mut tampered = value.clone();
    let first = tampered.remove(0);
    tampered.insert(0, if first == 'A' { 'B' } else { 'A' });
    let response = call(
        &function,
        SESSION,
        &cookie_header(&format!("better-auth.session_token={tampered}")),
    );
    assert_refused(
        &response,
        "cookie_signature_invalid",
        &["1 configured secret"],
        &["BETTER_AUTH_SECRET"],
    );
    wait_logged(&mut function, &response);
    // Its one log event: the same fixed fields as a JWT refusal, the cookie
    // by name, the value only as a fingerprint.
    let events = refusal_events(&function);
    let event = events
        .iter()
        .find(|event| event["request_id"] == response.request_id())
        .unwrap_or_else(|| panic!("no refusal event: {}", function.process.report()));
    for field in super::logs::FIXED_FIELDS {
        assert!(event.get(field).is_some(), "{field} missing: {event}");
    }
    assert_eq!(event["reason"], "cookie_signature_invalid");
    assert_eq!(
        event["credential_source"],
        "cookie:better-auth.session_token"
    );
    assert_eq!(event["token_kind"], "better_auth_session");
    assert_eq!(event["token_fingerprint"], fingerprint(&tampered).as_str());
    assert_eq!(event["cookies_present"], "better-auth.session_token");

    // The raw session token (as get-session returns it) carries no signature.
    let raw = user.session_token.split('.').next().unwrap().to_owned();
    let response = session_with(&function, &raw);
    assert_refused(
        &response,
        "cookie_signature_invalid",
        &["no signature"],
        &["set-auth-token"],
    );

    // Expired: the row is still there, its expiry has passed.
    let second = sign_in(&server, "lin@example.com", &user.user_id);
    let second_token = second.session_token.split('.').next().unwrap().to_owned();
    block_on(server.db.execute(&format!(
        r#"UPDATE "session" SET "expiresAt" = now() - interval '1 minute' WHERE "token" = '{second_token}'"#
    )));
    let response = call(&function, SESSION, &cookie_header(&second.cookie));
    let body = assert_refused(
        &response,
        "session_expired",
        &["expired at"],
        &["sign in again"],
    );
    assert!(body["facts"]["exp"].as_i64().unwrap() < now());

    // Signed out through Better Auth: the row is gone.
    let third = sign_in(&server, "lin@example.com", &user.user_id);
    assert_accepted(&call(&function, SESSION, &cookie_header(&third.cookie)));
    server.sign_out(&third.cookie);
    let response = call(&function, SESSION, &cookie_header(&third.cookie));
    assert_refused(
        &response,
        "session_not_found",
        &["no session has this token"],
        &["sign in again"],
    );

    // Another deployment holding a different secret: named, never a lookup.
    let other = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", server.db.url.as_str()),
            ("BETTER_AUTH_SECRET", &unique_secret("other")),
        ],
    );
    let response = call(&other, SESSION, &cookie_header(&user.cookie));
    assert_refused(
        &response,
        "cookie_signature_invalid",
        &["does not verify"],
        &["BETTER_AUTH_SECRET"],
    );

    // A rotation: the old secret listed second still verifies.
    let rotating = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", server.db.url.as_str()),
            (
                "BETTER_AUTH_SECRETS",
                &format!("2:{},1:{}", unique_secret("new"), server.secret),
            ),
        ],
    );
    assert_accepted(&call(&rotating, SESSION, &cookie_header(&user.cookie)));

    // A custom cookie prefix (Better Auth's advanced.cookiePrefix).
    let prefixed = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", server.db.url.as_str()),
            ("BETTER_AUTH_SECRET", server.secret.as_str()),
            ("BETTER_AUTH_COOKIE_PREFIX", "myapp"),
        ],
    );
    let custom = format!("myapp.session_token={value}");
    assert_accepted(&call(&prefixed, SESSION, &cookie_header(&custom)));

    // Revoked through this API: refused by the other process on its next
    // request, whichever carrier is used. The revocation deletes Better
    // Auth's session row too (a sign-out there), so Better Auth cannot extend
    // the session past the revocation and bring it back.
    let revoker = start(AUTH_REVOKE, &env);
    let fourth = sign_in(&server, "lin@example.com", &user.user_id);
    assert_accepted(&call(&function, SESSION, &cookie_header(&fourth.cookie)));
    let response = revoke(&revoker, &cookie_header(&fourth.cookie), &json!({}));
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json()["revoked"], "session", "{response}");
    assert_eq!(response.json()["by"], "fingerprint", "{response}");
    assert_eq!(
        response.json()["method"],
        "better_auth_session",
        "{response}"
    );
    let session_id = response.json()["session_id"].as_str().unwrap().to_owned();
    let left = block_on(server.db.count(&format!(
        "SELECT count(*) FROM \"session\" WHERE \"id\" = '{session_id}'"
    )));
    assert_eq!(left, 0, "Better Auth's session row is deleted");
    let response = call(&function, SESSION, &cookie_header(&fourth.cookie));
    assert_refused(&response, "session_not_found", &[], &["sign in again"]);
    assert_refused(
        &session_with(&function, &fourth.session_token),
        "session_not_found",
        &[],
        &[],
    );
    // The user's other sessions are untouched.
    assert_accepted(&call(&function, SESSION, &cookie_header(&user.cookie)));

    let output = function.process.all_output() + &revoker.process.all_output();
    for secret in [
        &user.session_token,
        &value,
        &raw,
        &server.secret,
        &fourth.session_token,
    ] {
        assert!(
            !output.contains(secret.as_str()),
            "a token or secret reached the log"
        );
    }
}

#[test]
fn postgres_down_is_a_503_and_a_forged_signature_never_reaches_it() {
    let secret = unique_secret("down");
    let database = unreachable_database();
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", database.as_str()),
            ("BETTER_AUTH_SECRET", secret.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    // Validly signed: the lookup is needed, and the store is down.
    use aws_lc_rs::hmac;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let token = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MDEy";
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signature = hmac::sign(&key, token.as_bytes());
    let value = format!("{token}.{}", STANDARD.encode(signature.as_ref()));
    let response = call(
        &function,
        SESSION,
        &cookie_header(&format!("better-auth.session_token={value}")),
    );
    assert_refused(
        &response,
        "session_store_unavailable",
        &["could not be read"],
        &[],
    );

    // Forged: refused as such, not as the store's outage.
    let response = call(
        &function,
        SESSION,
        &cookie_header(&format!(
            "better-auth.session_token={}",
            better_auth_session_token(true)
        )),
    );
    assert_refused(
        &response,
        "cookie_signature_invalid",
        &[],
        &["BETTER_AUTH_SECRET"],
    );
}

/// How old another process's copy of the revocation state may grow here.
const SYNC_MS: u64 = 100;

fn revocation_env<'a>(db: &'a TestDb, secret: &'a str) -> [(&'static str, &'a str); 3] {
    [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret),
        ("REVOCATION_SYNC_MS", "100"),
    ]
}

/// Waits out the bound within which every other process refuses a
/// revocation: by then its copy is either current or due to be read again
/// by the next request, which waits for the read.
fn after_the_sync_bound() {
    std::thread::sleep(std::time::Duration::from_millis(SYNC_MS));
}

#[test]
fn a_revoked_token_is_refused_by_another_process_within_the_sync_bound() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("revoke");
    let env = revocation_env(&db, &secret);
    let revoker = start(AUTH_REVOKE, &env);
    let mut checker = start(AUTH_SESSION, &env);

    let issued = now() - 5;
    let mint = |sub: &str, extra: Value| {
        jose_one(secret_spec(
            "HS256",
            &secret,
            &with(
                &json!({ "sub": sub, "iat": issued, "exp": now() + 600 }),
                extra,
            ),
        ))
    };
    let with_jti = mint("alice", json!({ "jti": "jti-1" }));
    let without_jti = mint("alice", json!({}));
    let bystander = mint("bob", json!({}));
    for token in [&with_jti, &without_jti, &bystander] {
        assert_accepted(&session_with(&checker, token));
    }

    let auth = |token: &str| vec![("authorization", bearer(token))];
    // A write from a foreign page (a forged form) never reaches the handler.
    let mut forged = auth(&with_jti);
    forged.push(("origin", "https://evil.example".to_owned()));
    let response = revoke(&revoker, &forged, &json!({}));
    let body = response.assert_problem(403, "origin_not_allowed");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("https://evil.example"),
        "{response}"
    );
    assert_accepted(&session_with(&checker, &with_jti));

    // By jti.
    let response = revoke(&revoker, &auth(&with_jti), &json!({}));
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json()["revoked"], "token");
    assert_eq!(response.json()["by"], "jti");
    after_the_sync_bound();
    let refused = session_with(&checker, &with_jti);
    assert_refused(
        &refused,
        "token_revoked",
        &["revoked at"],
        &["sign in again"],
    );
    wait_logged(&mut checker, &refused);
    // Revoking twice is fine; a revoked token cannot revoke again.
    let again = revoke(&revoker, &auth(&with_jti), &json!({}));
    assert_refused(&again, "token_revoked", &[], &[]);

    // By fingerprint, for a token without jti.
    let response = revoke(&revoker, &auth(&without_jti), &json!({}));
    assert_eq!(response.json()["by"], "fingerprint", "{response}");
    after_the_sync_bound();
    assert_refused(
        &session_with(&checker, &without_jti),
        "token_revoked",
        &[],
        &[],
    );
    assert_accepted(&session_with(&checker, &bystander));

    // Every token of a subject issued before now.
    let later = mint("bob", json!({ "jti": "bob-2" }));
    let response = revoke(&revoker, &auth(&later), &json!({ "all": true }));
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json()["revoked"], "all");
    after_the_sync_bound();
    for token in [&bystander, &later] {
        assert_refused(
            &session_with(&checker, token),
            "token_revoked",
            &["sign-out everywhere"],
            &[],
        );
    }
    // Signing straight back in works: a token issued in the cutoff's second
    // (whole-second `iat`, minted right after the revoke) stands.
    let cutoff = response.json()["not_before"].as_str().unwrap().to_owned();
    let cutoff_second = (now() - 5..=now())
        .find(|second| gatehouse::clock::rfc3339(*second) == cutoff)
        .unwrap_or_else(|| panic!("the cutoff {cutoff} is a whole second of the last five"));
    let fresh = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "bob", "iat": cutoff_second, "exp": now() + 600 }),
    ));
    assert_accepted(&session_with(&checker, &fresh));

    // Bad bodies are refused with a reason, not a 500.
    let response = revoke(&revoker, &auth(&fresh), &json!({ "all": "yes" }));
    response.assert_problem(400, "request_malformed");

    let output = checker.process.all_output() + &revoker.process.all_output();
    for token in [&with_jti, &without_jti, &bystander, &later, &fresh] {
        assert!(!output.contains(token.as_str()), "a token reached the log");
    }
}

#[test]
fn revocation_checks_fail_closed_with_a_503_when_postgres_is_down() {
    let secret = unique_secret("closed");
    let database = unreachable_database();
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", database.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "carol", "exp": now() + 600 }),
    ));
    // The revocation state was never read: refused (503), never accepted.
    assert_refused(
        &session_with(&function, &token),
        "revocation_unavailable",
        &[],
        &[],
    );

    // Without revocation the same token needs no database.
    let function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", database.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("TOKEN_REVOCATION", "off"),
        ],
    );
    assert_accepted(&session_with(&function, &token));
}

/// A session of this API exchanged for a Better Auth session ends when the
/// Better Auth session does (signed out there, or its user deleted).
#[test]
fn an_exchanged_session_ends_with_its_better_auth_session() {
    let server = BetterAuth::start();
    block_on(server.db.migrate());
    let user = sign_up_and_in(&server, "exchange@example.com");
    let env = [
        ("DATABASE_URL", server.db.url.as_str()),
        ("BETTER_AUTH_SECRET", server.secret.as_str()),
    ];
    let exchanger = start(env!("CARGO_BIN_EXE_auth-exchange"), &env);
    let checker = start(AUTH_SESSION, &env);
    let exchanged = exchange(
        exchanger.addr(),
        &request(
            "POST",
            "/api/auth/exchange",
            &[("cookie", user.cookie.as_str()), ("content-length", "0")],
        ),
    );
    assert_eq!(exchanged.status, 201, "{exchanged}");
    let session = exchanged.json()["token"].as_str().unwrap().to_owned();
    assert_accepted(&session_with(&checker, &session));

    server.sign_out(&user.cookie);
    assert_refused(
        &session_with(&checker, &session),
        "session_not_found",
        &["Better Auth session", "has ended"],
        &[],
    );
}
