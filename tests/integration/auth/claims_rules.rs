//! Rules the README promises and nothing else exercised, through the
//! `auth-session` and `auth-exchange` binaries: `azp` with
//! `JWT_AUTHORIZED_PARTIES`, the `JWT_ALGORITHMS` and per-issuer algorithm
//! allow-lists, and the session cookie under `SESSION_COOKIE_DOMAIN` and
//! `SameSite=strict`.

use serde_json::json;

use super::*;
use crate::support::db::TestDb;
use crate::support::function::block_on;
use crate::support::http_client::send;
use crate::support::mint::{jose, secret_spec};

const APP: &str = "https://app.example.com";

fn static_keys() -> String {
    json!({ "keys": [jwk(KID_RSA), jwk(KID_P256)] }).to_string()
}

#[test]
fn authorized_parties_accept_refuse_and_require_azp() {
    let keys = static_keys();
    let function = start(
        AUTH_SESSION,
        &[
            ("JWT_PUBLIC_KEYS", keys.as_str()),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUTHORIZED_PARTIES", APP),
        ],
    );
    let base = with(&claims("ada"), json!({ "aud": null }));
    let tokens = jose(&[
        spec("RS256", KID_RSA, &with(&base, json!({ "azp": APP }))),
        spec(
            "RS256",
            KID_RSA,
            &with(&base, json!({ "azp": "https://evil.example" })),
        ),
        spec("RS256", KID_RSA, &base),
    ]);
    assert_accepted(&session_with(&function, &tokens[0]));
    assert_refused(
        &session_with(&function, &tokens[1]),
        "audience_mismatch",
        &[],
        &[],
    );
    assert_refused(
        &session_with(&function, &tokens[2]),
        "claim_missing",
        &["azp"],
        &[],
    );
}

#[test]
fn algorithm_allow_lists_refuse_what_they_do_not_name() {
    let keys = static_keys();
    let only_es256 = start(
        AUTH_SESSION,
        &[
            ("JWT_PUBLIC_KEYS", keys.as_str()),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("JWT_ALGORITHMS", "ES256"),
        ],
    );
    let tokens = jose(&[
        spec("RS256", KID_RSA, &claims("ada")),
        spec("ES256", KID_P256, &claims("ada")),
    ]);
    assert_refused(
        &session_with(&only_es256, &tokens[0]),
        "algorithm_not_allowed",
        &["RS256"],
        &[],
    );
    assert_accepted(&session_with(&only_es256, &tokens[1]));

    // The same rule per issuer, in JWT_TRUSTED_ISSUERS.
    let issuers = json!([{
        "name": "acme",
        "issuer": ISSUER,
        "public_keys": keys,
        "audiences": [AUDIENCE],
        "algorithms": ["RS256"]
    }])
    .to_string();
    let only_rs256 = start(AUTH_SESSION, &[("JWT_TRUSTED_ISSUERS", issuers.as_str())]);
    assert_accepted(&session_with(&only_rs256, &tokens[0]));
    assert_refused(
        &session_with(&only_rs256, &tokens[1]),
        "algorithm_not_allowed",
        &["ES256"],
        &[],
    );
}

#[test]
fn the_session_cookie_follows_its_domain_and_same_site_settings() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("cookie-settings");
    let token = jose(&[secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    )])
    .remove(0);
    let authorization = bearer(&token);
    for (extra, name, attributes) in [
        (
            ("SESSION_COOKIE_DOMAIN", "example.com"),
            "__Secure-gatehouse_session",
            "; Domain=example.com; HttpOnly; Secure; SameSite=Lax",
        ),
        (
            ("SESSION_COOKIE_SAMESITE", "strict"),
            "__Host-gatehouse_session",
            "; HttpOnly; Secure; SameSite=Strict",
        ),
    ] {
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", secret.as_str()),
            extra,
        ];
        let exchanger = start(env!("CARGO_BIN_EXE_auth-exchange"), &env);
        let response = send(
            exchanger.addr(),
            "POST",
            "/api/auth/exchange",
            &[("authorization", authorization.as_str())],
            "",
        );
        assert_eq!(response.status, 201, "{response}");
        let set_cookie = response.header("set-cookie").unwrap_or_default().to_owned();
        assert!(
            set_cookie.starts_with(&format!("{name}=gs_")) && set_cookie.ends_with(attributes),
            "{extra:?}: {set_cookie}"
        );
        // The cookie, under that name, authenticates.
        let pair = set_cookie.split(';').next().unwrap().to_owned();
        let checker = start(AUTH_SESSION, &env);
        let principal =
            assert_accepted(&get(checker.addr(), SESSION, &[("cookie", pair.as_str())]));
        assert_eq!(principal["method"], "gatehouse_session");
        assert_eq!(principal["credential_source"], format!("cookie:{name}"));
    }
}
