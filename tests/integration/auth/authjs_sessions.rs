//! Auth.js (NextAuth v5) and NextAuth v4 encrypted session cookies, minted
//! by the real `@auth/core` `encode` (and, for v4, next-auth's derivation
//! rebuilt on `jose`) through `tests/interop/mint-authjs.mjs`, and read by
//! the real `auth-session` binary: every cookie name and carrier Auth.js
//! uses, chunked cookies, the secret's alias, and each refusal named.

use serde_json::{Value, json};

use super::*;
use crate::support::function::VercelFunction;
use crate::support::http_client::{Response, get};
use crate::support::mint::authjs;

const V5: &str = "authjs.session-token";
const V5_SECURE: &str = "__Secure-authjs.session-token";
const V4: &str = "next-auth.session-token";
const V4_SECURE: &str = "__Secure-next-auth.session-token";

/// Auth.js's default session lifetime (30 days), as `maxAge` in the specs.
const MAX_AGE: i64 = 30 * 86_400;

/// An Auth.js v5 token for the cookie `salt` (its name) under `secret`.
fn v5(secret: &str, salt: &str, token: Value, max_age: i64) -> Value {
    json!({ "secret": secret, "salt": salt, "token": token, "maxAge": max_age })
}

/// A NextAuth v4 token under `secret`.
fn v4(secret: &str, token: Value, max_age: i64) -> Value {
    json!({ "secret": secret, "v4": true, "token": token, "maxAge": max_age })
}

/// What an Auth.js jwt callback returns by default for a user.
fn user(sub: &str, email: &str) -> Value {
    json!({
        "sub": sub,
        "email": email,
        "name": "Grace Hopper",
        "picture": "https://avatars.example/grace.png",
    })
}

/// `GET /api/auth/session` with a raw `Cookie` header.
#[track_caller]
fn with_cookie(function: &VercelFunction, cookie: &str) -> Response {
    get(function.addr(), SESSION, &[("cookie", cookie)])
}

/// Asserts the principal of an Auth.js session for `user(sub, email)` minted
/// between `minted_from` and `minted_to` with `max_age`.
#[track_caller]
fn assert_authjs_principal(
    principal: &Value,
    sub: &str,
    email: &str,
    source: &str,
    expires_within: (i64, i64),
) {
    assert_eq!(principal["method"], "authjs_session", "{principal}");
    assert_eq!(principal["subject"], sub, "{principal}");
    assert_eq!(principal["credential_source"], source, "{principal}");
    // PRINCIPAL_CLAIMS' default keeps the user's fields, never iat/exp/jti
    // or the app's own claims.
    assert_eq!(
        principal["claims"],
        json!({
            "email": email,
            "name": "Grace Hopper",
            "picture": "https://avatars.example/grace.png",
        }),
        "{principal}"
    );
    let expires_at = principal["expires_at"].as_i64().unwrap_or_default();
    assert!(
        (expires_within.0..=expires_within.1).contains(&expires_at),
        "expires_at is the token's exp (now + maxAge at minting): {principal}"
    );
    assert_eq!(principal["issuer"], Value::Null, "{principal}");
    assert!(principal.get("algorithm").is_none(), "{principal}");
}

#[track_caller]
fn assert_nothing_leaked(output: &str, values: &[&str]) {
    for value in values {
        assert!(
            !output.contains(value),
            "a token, secret or cookie value reached the output"
        );
    }
}

#[test]
fn authjs_v5_and_nextauth_v4_cookies_are_accepted_under_every_name_and_carrier() {
    let secret = unique_secret("authjs");
    // Pushes the JWE past Auth.js's 4 KB chunk size.
    let permissions: Vec<String> = (0..300).map(|i| format!("project:{i:04}:write")).collect();
    let mut large = user("u-large", "large@example.com");
    large["permissions"] = json!(permissions);
    let minted_from = now();
    let tokens = authjs(&[
        v5(&secret, V5, user("u-plain", "plain@example.com"), MAX_AGE),
        v5(
            &secret,
            V5_SECURE,
            user("u-secure", "secure@example.com"),
            MAX_AGE,
        ),
        v5(&secret, V5, large, MAX_AGE),
        v5(&secret, V5, user("u-bearer", "bearer@example.com"), 3600),
        v4(&secret, user("u-v4", "v4@example.com"), MAX_AGE),
    ]);
    let minted_to = now();
    let [plain, secure, large, bearer_token, legacy] =
        <[String; 5]>::try_from(tokens).expect("five tokens");
    let within = |max_age: i64| (minted_from + max_age, minted_to + max_age);
    let mut function = start(
        AUTH_SESSION,
        &[("AUTH_SECRET", &secret), ("LOG_LEVEL", LOG_EVERY_REQUEST)],
    );

    // The plain name (http://localhost), beside an unrelated cookie.
    let principal = assert_accepted(&with_cookie(
        &function,
        &format!("theme=dark; {V5}={plain}"),
    ));
    assert_authjs_principal(
        &principal,
        "u-plain",
        "plain@example.com",
        "cookie:authjs.session-token",
        within(MAX_AGE),
    );

    // The __Secure- name (HTTPS): the name is the HKDF salt.
    let principal = assert_accepted(&with_cookie(&function, &format!("{V5_SECURE}={secure}")));
    assert_authjs_principal(
        &principal,
        "u-secure",
        "secure@example.com",
        "cookie:__Secure-authjs.session-token",
        within(MAX_AGE),
    );
    // The same value under the other name does not decrypt: the salt differs.
    let response = with_cookie(&function, &format!("{V5}={secure}"));
    assert_refused(
        &response,
        "token_decryption_failed",
        &["does not decrypt"],
        &["AUTH_SECRET", "name changed"],
    );

    // Too large for one cookie: Auth.js sets .0, .1; sent out of order.
    assert!(large.len() > 4096, "the token must need chunks");
    let (first, second) = large.split_at(large.len() / 2);
    let response = with_cookie(&function, &format!("{V5}.1={second}; {V5}.0={first}"));
    let principal = assert_accepted(&response);
    assert_authjs_principal(
        &principal,
        "u-large",
        "large@example.com",
        "cookie:authjs.session-token",
        within(MAX_AGE),
    );

    // The JWE in Authorization: Bearer (no cookie name: default salts tried).
    let principal = assert_accepted(&session_with(&function, &bearer_token));
    assert_authjs_principal(
        &principal,
        "u-bearer",
        "bearer@example.com",
        "authorization_header",
        within(3600),
    );

    // NextAuth v4: dir + A256GCM, unsalted, under either v4 name.
    for name in [V4, V4_SECURE] {
        let principal = assert_accepted(&with_cookie(&function, &format!("{name}={legacy}")));
        assert_authjs_principal(
            &principal,
            "u-v4",
            "v4@example.com",
            &format!("cookie:{name}"),
            within(MAX_AGE),
        );
    }
    // A v4 token under a v5 name is the wrong generation's algorithm.
    let response = with_cookie(&function, &format!("{V5}={legacy}"));
    assert_refused(&response, "algorithm_not_allowed", &["A256GCM"], &[]);
    wait_logged(&mut function, &response);

    assert_nothing_leaked(
        &function.process.all_output(),
        &[
            &secret,
            &plain,
            &secure,
            &large,
            first,
            second,
            &bearer_token,
            &legacy,
        ],
    );
}

#[test]
fn nextauth_secret_is_read_when_auth_secret_is_not_set() {
    let secret = unique_secret("nextauth");
    let minted_from = now();
    let [current, legacy] = <[String; 2]>::try_from(authjs(&[
        v5(&secret, V5, user("u-alias", "alias@example.com"), MAX_AGE),
        v4(&secret, user("u-alias-v4", "alias4@example.com"), MAX_AGE),
    ]))
    .expect("two tokens");
    let minted_to = now();
    let within = (minted_from + MAX_AGE, minted_to + MAX_AGE);
    let mut function = start(AUTH_SESSION, &[("NEXTAUTH_SECRET", &secret)]);

    let principal = assert_accepted(&with_cookie(&function, &format!("{V5}={current}")));
    assert_authjs_principal(
        &principal,
        "u-alias",
        "alias@example.com",
        "cookie:authjs.session-token",
        within,
    );
    let principal = assert_accepted(&with_cookie(&function, &format!("{V4}={legacy}")));
    assert_authjs_principal(
        &principal,
        "u-alias-v4",
        "alias4@example.com",
        "cookie:next-auth.session-token",
        within,
    );
    // A refusal, so the log certainly holds this request before it is read.
    let response = with_cookie(&function, &format!("{V5}={legacy}"));
    assert_refused(&response, "algorithm_not_allowed", &[], &[]);
    wait_logged(&mut function, &response);
    assert_nothing_leaked(
        &function.process.all_output(),
        &[&secret, &current, &legacy],
    );
}

#[test]
fn wrong_secrets_expiry_tampering_and_a_missing_auth_secret_are_named() {
    let secret = unique_secret("authjs-ok");
    let other_secret = unique_secret("authjs-other");
    let minted_from = now();
    let [valid, expired, legacy] = <[String; 3]>::try_from(authjs(&[
        v5(&secret, V5, user("u-ref", "ref@example.com"), MAX_AGE),
        v5(&secret, V5, user("u-old", "old@example.com"), -120),
        v4(&secret, user("u-ref4", "ref4@example.com"), MAX_AGE),
    ]))
    .expect("three tokens");
    let mut function = start(AUTH_SESSION, &[("AUTH_SECRET", &secret)]);
    assert_accepted(&with_cookie(&function, &format!("{V5}={valid}")));

    // Another deployment with a different AUTH_SECRET: named, with the fix.
    let mut other = start(AUTH_SESSION, &[("AUTH_SECRET", &other_secret)]);
    for cookie in [format!("{V5}={valid}"), format!("{V4}={legacy}")] {
        let response = with_cookie(&other, &cookie);
        let body = assert_refused(
            &response,
            "token_decryption_failed",
            &["does not decrypt with the 1 configured secret"],
            &["AUTH_SECRET"],
        );
        assert_eq!(
            body["facts"]["credential_source"],
            format!("cookie:{}", cookie.split('=').next().unwrap_or_default())
        );
        assert!(
            body["facts"]["token_fingerprint"].as_str().is_some(),
            "{response}"
        );
    }
    let response = session_with(&other, &valid);
    assert_refused(&response, "token_decryption_failed", &[], &["AUTH_SECRET"]);
    wait_logged(&mut other, &response);

    // Expired two minutes ago, beyond the 30 s leeway.
    let response = with_cookie(&function, &format!("{V5}={expired}"));
    let body = assert_refused(
        &response,
        "token_expired",
        &["expired at", "leeway 30 s"],
        &["sign in again"],
    );
    let exp = body["facts"]["exp"].as_i64().expect("facts.exp");
    assert!(
        exp >= minted_from - 121 && exp < now() - 30,
        "facts.exp is the token's exp, past the leeway: {response}"
    );

    // Tampered, in each part: refused as such, never a 500.
    let segments: Vec<&str> = valid.split('.').collect();
    let mut tampered = Vec::new();
    for segment in [0, 2, 3, 4] {
        let mut parts: Vec<String> = segments.iter().map(|part| (*part).to_owned()).collect();
        let middle = parts[segment].len() / 2;
        let original = parts[segment].as_bytes()[middle];
        let replacement = if original == b'A' { "B" } else { "A" };
        parts[segment].replace_range(middle..=middle, replacement);
        tampered.push(parts.join("."));
    }
    // Cut short, as a browser that dropped the last chunk would send it.
    tampered.push(valid[..valid.len() - 20].to_owned());
    for value in &tampered {
        let response = with_cookie(&function, &format!("{V5}={value}"));
        let reason = response.json()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            reason == "token_decryption_failed" || reason == "token_malformed",
            "a tampered cookie: {response}"
        );
        assert_refused(&response, &reason, &[], &[]);
        wait_logged(&mut function, &response);
    }

    // AUTH_SECRET not set (only JWT_SECRET): the cookie is named as an
    // encrypted token, and the hint says which variable reads it.
    let mut unset = start(AUTH_SESSION, &[("JWT_SECRET", &unique_secret("jwt"))]);
    let response = with_cookie(&unset, &format!("{V5}={valid}"));
    let body = assert_refused(
        &response,
        "token_malformed",
        &["encrypted token (JWE)", "Auth.js session cookie"],
        &["AUTH_SECRET"],
    );
    assert_eq!(body["facts"]["token_kind"], "jwe", "{response}");
    assert_eq!(
        body["facts"]["credential_source"], "cookie:authjs.session-token",
        "{response}"
    );
    wait_logged(&mut unset, &response);

    let output =
        function.process.all_output() + &other.process.all_output() + &unset.process.all_output();
    let mut values: Vec<&str> = vec![&secret, &other_secret, &valid, &expired, &legacy];
    values.extend(tampered.iter().map(String::as_str));
    assert_nothing_leaked(&output, &values);
}
