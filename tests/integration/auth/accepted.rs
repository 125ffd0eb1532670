//! Tokens other stacks mint are accepted, and the principal says exactly
//! who and how: every asymmetric algorithm from `jose` against a JWKS,
//! HS256/384/512 from PyJWT against `JWT_SECRET`, key rotation in the JWKS,
//! and a shared-secret rotation with `JWT_SECRET_PREVIOUS`.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::support::http_client::get;
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::{jose, pyjwt, secret_spec};

#[test]
fn jose_tokens_of_every_asymmetric_algorithm_are_accepted() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let cases = [
        ("RS256", KID_RSA),
        ("PS256", KID_PS),
        ("ES256", KID_P256),
        ("ES384", KID_P384),
        ("EdDSA", KID_ED_A),
    ];
    let now = now();
    let specs: Vec<_> = cases
        .iter()
        .map(|(alg, kid)| {
            let claims = with(
                &claims(&format!("user-{alg}")),
                json!({
                    "exp": now + 900,
                    "email": format!("{alg}@example.com"),
                    "role": "editor",
                    "internal_note": "not a principal claim",
                }),
            );
            spec(alg, kid, &claims)
        })
        .collect();
    let tokens = jose(&specs);
    for ((alg, kid), token) in cases.iter().zip(&tokens) {
        let principal = assert_accepted(&session_with(&function, token));
        assert_eq!(
            principal,
            json!({
                "subject": format!("user-{alg}"),
                "namespace": "jwt",
                "issuer": ISSUER,
                "method": "jwt_jwks",
                "credential_source": "authorization_header",
                "expires_at": now + 900,
                "key_id": kid,
                "algorithm": alg,
                "signed_with_previous_secret": false,
                "token_version": null,
                "claims": { "email": format!("{alg}@example.com"), "role": "editor" },
            }),
            "{alg}"
        );
    }
    assert_eq!(server.requests(), 1, "one JWKS fetch for every key");
}

#[test]
fn pyjwt_shared_secret_tokens_of_every_hmac_size_are_accepted() {
    let secret = unique_secret("hmac");
    let mut function = start(
        AUTH_SESSION,
        &[
            ("JWT_SECRET", &secret),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("PRINCIPAL_CLAIMS", "email,plan"),
            ("LOG_LEVEL", LOG_EVERY_REQUEST),
        ],
    );
    let now = now();
    let algs = ["HS256", "HS384", "HS512"];
    let specs: Vec<_> = algs
        .iter()
        .map(|alg| {
            secret_spec(
                alg,
                &secret,
                &with(
                    &claims(&format!("py-{alg}")),
                    json!({"exp": now + 300, "plan": "pro", "email": "py@example.com", "role": "x"}),
                ),
            )
        })
        .collect();
    let tokens = pyjwt(&specs);
    for (alg, token) in algs.iter().zip(&tokens) {
        let response = session_with(&function, token);
        wait_logged(&mut function, &response);
        let principal = assert_accepted(&response);
        assert_eq!(
            principal,
            json!({
                "subject": format!("py-{alg}"),
                "namespace": "shared-secret",
                "issuer": ISSUER,
                "method": "jwt_shared_secret",
                "credential_source": "authorization_header",
                "expires_at": now + 300,
                "key_id": null,
                "algorithm": alg,
                "signed_with_previous_secret": false,
                "token_version": null,
                "claims": { "email": "py@example.com", "plan": "pro" },
            }),
            "{alg}"
        );
    }
    assert!(!function.process.all_output().contains(&secret[..20]));
}

#[test]
fn two_active_keys_both_verify_and_a_new_kid_is_picked_up() {
    let server = JwksServer::start(Reply::jwks(&[jwk(KID_ED_A), jwk(KID_ED_B)]));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    let tokens = jose(&[
        spec("EdDSA", KID_ED_A, &claims("rot-a")),
        spec("EdDSA", KID_ED_B, &claims("rot-b")),
        spec("RS256", KID_RSA, &claims("rot-new")),
    ]);
    for (token, (subject, kid)) in tokens
        .iter()
        .zip([("rot-a", KID_ED_A), ("rot-b", KID_ED_B)])
    {
        let principal = assert_accepted(&session_with(&function, token));
        assert_eq!(principal["subject"], subject);
        assert_eq!(principal["key_id"], kid);
    }
    assert_eq!(server.requests(), 1);

    // The issuer publishes a new key. Past JWKS_REFETCH_MIN_SECS (1 s) a
    // token signed with it makes the function refetch once and accept it.
    server.set(Reply::jwks(&[jwk(KID_ED_B), jwk(KID_RSA)]));
    std::thread::sleep(Duration::from_millis(1200));
    let principal = assert_accepted(&session_with(&function, &tokens[2]));
    assert_eq!(principal["subject"], "rot-new");
    assert_eq!(principal["key_id"], KID_RSA);
    assert_eq!(server.requests(), 2);
    // Kid B, still published, verifies from the refreshed set: no fetch.
    assert_accepted(&session_with(&function, &tokens[1]));
    assert_eq!(server.requests(), 2);
}

#[test]
fn a_token_signed_with_the_previous_secret_is_accepted_flagged_and_logged() {
    let current = unique_secret("current");
    let previous = unique_secret("previous");
    let env = [
        ("JWT_SECRET", current.as_str()),
        ("JWT_SECRET_PREVIOUS", previous.as_str()),
        ("JWT_AUDIENCE", AUDIENCE),
    ];
    let mut session = start(AUTH_SESSION, &env);
    let mut health = start(AUTH_TOKEN_HEALTH, &env);
    let tokens = pyjwt(&[
        secret_spec("HS256", &previous, &claims("rotating")),
        secret_spec("HS256", &current, &claims("rotated")),
    ]);

    let response = session_with(&session, &tokens[0]);
    let principal = assert_accepted(&response);
    assert_eq!(principal["subject"], "rotating");
    assert_eq!(principal["signed_with_previous_secret"], true);
    let principal = assert_accepted(&session_with(&session, &tokens[1]));
    assert_eq!(principal["signed_with_previous_secret"], false);

    let answer = get(
        health.addr(),
        TOKEN_HEALTH,
        &[("authorization", &bearer(&tokens[0]))],
    );
    assert_eq!(answer.status, 200, "{answer}");
    let body = answer.json();
    assert_eq!(body["authenticated"], true, "{answer}");
    assert_eq!(body["compatible"], true, "{answer}");
    assert_eq!(body["signed_with_previous_secret"], true, "{answer}");
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("JWT_SECRET_PREVIOUS"),
        "{answer}"
    );

    // One rotation event per acceptance by the previous secret, under the
    // request's id, with the token's fingerprint; none for the current one.
    wait_logged(&mut session, &response);
    wait_logged(&mut health, &answer);
    for (function, request_id, token) in [
        (&session, response.request_id(), &tokens[0]),
        (&health, answer.request_id(), &tokens[0]),
    ] {
        let events: Vec<_> = json_logs(function)
            .into_iter()
            .filter(|event| event["target"] == "gatehouse::auth::rotation")
            .collect();
        assert_eq!(events.len(), 1, "{}", function.process.report());
        let event = &events[0];
        assert_eq!(event["token_fingerprint"], fingerprint(token), "{event}");
        assert_eq!(event["span"]["request_id"], request_id, "{event}");
        assert_eq!(event["level"], "INFO", "{event}");
        let output = function.process.all_output();
        for secret in [&current, &previous] {
            assert!(!output.contains(&secret[..20]));
        }
        assert!(!output.contains(token.as_str()));
    }
}
