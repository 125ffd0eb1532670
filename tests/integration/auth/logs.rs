//! The refusal log is a contract: one `gatehouse::auth::refusal` event per
//! refused request, every fixed field present, values that match the case,
//! the request id of the response; and no token, secret or cookie value in
//! any output or response, however the request failed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::support::function::READY_TIMEOUT;
use crate::support::http_client::{Response, get};
use crate::support::jwks_server::{JwksServer, Reply, refused_url};
use crate::support::mint::{jose, pyjwt, secret_spec};

/// Every field a refusal event always carries.
pub(super) const FIXED_FIELDS: [&str; 21] = [
    "reason",
    "status",
    "request_id",
    "route",
    "credential_source",
    "token_fingerprint",
    "token_kind",
    "alg",
    "kid",
    "iss_received",
    "iss_expected",
    "aud_received",
    "aud_expected",
    "exp",
    "nbf",
    "iat",
    "server_time",
    "keys_tried",
    "cookies_present",
    "detail",
    "hint",
];

const DOWN_ISSUER: &str = "https://down.test.example";

/// One request and the event it must produce (`None`: accepted, no event).
struct Case {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    /// Field values; unnamed fields must be empty strings.
    expected: Option<Value>,
}

fn refused(name: &'static str, headers: Vec<(&'static str, String)>, fields: Value) -> Case {
    Case {
        name,
        headers,
        expected: Some(fields),
    }
}

fn accepted(name: &'static str, headers: Vec<(&'static str, String)>) -> Case {
    Case {
        name,
        headers,
        expected: None,
    }
}

fn auth(token: &str) -> Vec<(&'static str, String)> {
    vec![("authorization", bearer(token))]
}

/// The fields a token's own claims put in the event (before any check).
fn claim_fields(claims: &Value) -> Value {
    let text = |name: &str| match &claims[name] {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    json!({
        "iss_received": text("iss"),
        "aud_received": text("aud"),
        "exp": text("exp"),
        "nbf": text("nbf"),
        "iat": text("iat"),
    })
}

fn merge(parts: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    for part in parts {
        for (key, value) in part.as_object().unwrap() {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

#[test]
fn every_refusal_logs_one_complete_event_and_nothing_secret_leaks() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let secret = unique_secret("logs-current");
    let previous = unique_secret("logs-previous");
    let foreign = unique_secret("logs-foreign");
    let trusted = json!([{
        "name": "down",
        "issuer": DOWN_ISSUER,
        "jwks_url": refused_url(),
        "audiences": [AUDIENCE],
    }])
    .to_string();
    let mut function = start_with_jwks(
        AUTH_SESSION,
        &server.url(),
        &[
            ("JWT_TRUSTED_ISSUERS", &trusted),
            ("JWT_SECRET", &secret),
            ("JWT_SECRET_PREVIOUS", &previous),
            ("JWT_SECRET_AUDIENCE", AUDIENCE),
            ("TOKEN_VERSION", "2"),
        ],
    );

    let now = now();
    let good = with(&claims("log-user"), json!({"token_version": 2}));
    let claim_sets = [
        (
            "expired",
            with(&good, json!({"iat": now - 7200, "exp": now - 3600})),
        ),
        ("early", with(&good, json!({"nbf": now + 3600}))),
        (
            "skewed",
            with(&good, json!({"iat": now + 300, "exp": now + 900})),
        ),
        (
            "staging",
            with(&good, json!({"iss": "https://auth.staging.example"})),
        ),
        (
            "other-aud",
            with(&good, json!({"aud": "https://other-api.example"})),
        ),
        ("no-exp", with(&good, json!({"exp": null}))),
        ("no-sub", with(&good, json!({"sub": null}))),
        ("v1", with(&good, json!({"token_version": 1}))),
        ("down", with(&good, json!({"iss": DOWN_ISSUER}))),
    ];
    let claims_of = |name: &str| {
        claim_sets
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.clone())
            .unwrap()
    };
    let mut specs = vec![
        spec("RS256", KID_RSA, &good),
        mint::pem_spec("RS256", "rsa-2048.key.pem", Some(KID_P256), &good),
        mint::pem_spec("EdDSA", "ed25519-b.key.pem", Some("unknown-kid-7"), &good),
    ];
    specs.extend(claim_sets.iter().map(|(_, c)| spec("RS256", KID_RSA, c)));
    let jose_tokens = jose(&specs);
    let hs = pyjwt(&[
        secret_spec("HS256", &foreign, &good),
        secret_spec("HS256", &previous, &good),
    ]);
    let valid = &jose_tokens[0];
    let kid_confused = &jose_tokens[1];
    let unknown_kid = &jose_tokens[2];
    let by_claims = |name: &str| {
        let index = claim_sets.iter().position(|(n, _)| *n == name).unwrap();
        jose_tokens[3 + index].clone()
    };
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(with(&good, json!({"sub": "someone-else"}))
            .to_string()
            .as_bytes()),
        parts[2]
    );
    let none = forged(&json!({"alg": "none"}), &good, "");
    let jwe = format!(
        "{}..{}.{}.{}",
        b64(br#"{"alg":"dir","enc":"A256CBC-HS512"}"#),
        b64(b"iv-iv-iv-iv-iv-i"),
        b64(b"secret-ciphertext-bytes"),
        b64(b"tag-tag-tag-tag-")
    );
    let session_cookie = better_auth_session_token(true);

    let jwt_fields = |token: &str, claims: &Value, alg: &str, kid: &str| {
        merge(&[
            json!({
                "credential_source": "authorization_header",
                "token_fingerprint": fingerprint(token),
                "token_kind": "jwt",
                "alg": alg,
                "kid": kid,
            }),
            claim_fields(claims),
        ])
    };
    let checked = |token: &str, claims: &Value, reason: &str, extra: Value| {
        merge(&[
            json!({"reason": reason, "status": 401}),
            jwt_fields(token, claims, "RS256", KID_RSA),
            json!({"iss_expected": ISSUER, "aud_expected": AUDIENCE, "keys_tried": KID_RSA}),
            extra,
        ])
    };
    let both_issuers = format!("{ISSUER}; {DOWN_ISSUER}");

    let cases = vec![
        accepted("valid RS256", auth(valid)),
        refused(
            "no credentials",
            vec![("cookie", "theme=dark".to_owned())],
            json!({"reason": "credentials_missing", "status": 401, "cookies_present": "theme"}),
        ),
        refused(
            "garbage",
            auth("garbage.garbage.garbage"),
            json!({
                "reason": "token_malformed", "status": 401,
                "credential_source": "authorization_header",
                "token_fingerprint": fingerprint("garbage.garbage.garbage"),
                "token_kind": "malformed",
            }),
        ),
        refused(
            "Better Auth session cookie",
            vec![(
                "cookie",
                format!("theme=dark; better-auth.session_token={session_cookie}"),
            )],
            json!({
                "reason": "token_malformed", "status": 401,
                "credential_source": "cookie:better-auth.session_token",
                "token_fingerprint": fingerprint(&session_cookie),
                "token_kind": "better_auth_session",
                "cookies_present": "theme,better-auth.session_token",
            }),
        ),
        refused(
            "JWE",
            auth(&jwe),
            json!({
                "reason": "token_malformed", "status": 401,
                "credential_source": "authorization_header",
                "token_fingerprint": fingerprint(&jwe),
                "token_kind": "jwe",
            }),
        ),
        refused(
            "alg none",
            auth(&none),
            merge(&[
                json!({"reason": "algorithm_not_allowed", "status": 401}),
                json!({"iss_expected": ISSUER, "aud_expected": AUDIENCE}),
                jwt_fields(&none, &good, "none", ""),
            ]),
        ),
        refused(
            "RS256 under an ES256 kid",
            auth(kid_confused),
            merge(&[
                json!({"reason": "algorithm_not_allowed", "status": 401, "iss_expected": ISSUER, "aud_expected": AUDIENCE}),
                jwt_fields(kid_confused, &good, "RS256", KID_P256),
            ]),
        ),
        refused(
            "unknown kid",
            auth(unknown_kid),
            merge(&[
                json!({"reason": "key_not_found", "status": 401, "iss_expected": ISSUER, "aud_expected": AUDIENCE}),
                jwt_fields(unknown_kid, &good, "EdDSA", "unknown-kid-7"),
            ]),
        ),
        refused(
            "tampered",
            auth(&tampered),
            merge(&[
                json!({"reason": "signature_invalid", "status": 401}),
                jwt_fields(
                    &tampered,
                    &with(&good, json!({"sub": "someone-else"})),
                    "RS256",
                    KID_RSA,
                ),
                json!({"iss_expected": ISSUER, "aud_expected": AUDIENCE, "keys_tried": KID_RSA}),
            ]),
        ),
        refused(
            "HS256 with a foreign secret",
            auth(&hs[0]),
            merge(&[
                json!({"reason": "signature_invalid", "status": 401}),
                jwt_fields(&hs[0], &good, "HS256", ""),
                json!({"aud_expected": AUDIENCE, "keys_tried": "shared_secret,previous_shared_secret"}),
            ]),
        ),
        accepted("HS256 with the previous secret", auth(&hs[1])),
        refused(
            "expired",
            auth(&by_claims("expired")),
            checked(
                &by_claims("expired"),
                &claims_of("expired"),
                "token_expired",
                json!({}),
            ),
        ),
        refused(
            "nbf ahead",
            auth(&by_claims("early")),
            checked(
                &by_claims("early"),
                &claims_of("early"),
                "token_not_yet_valid",
                json!({}),
            ),
        ),
        refused(
            "issued 300 s ahead",
            auth(&by_claims("skewed")),
            checked(
                &by_claims("skewed"),
                &claims_of("skewed"),
                "token_not_yet_valid",
                json!({}),
            ),
        ),
        refused(
            "issuer of another environment",
            auth(&by_claims("staging")),
            checked(
                &by_claims("staging"),
                &claims_of("staging"),
                "issuer_mismatch",
                json!({"iss_expected": both_issuers, "aud_expected": "", "keys_tried": ""}),
            ),
        ),
        refused(
            "another audience",
            auth(&by_claims("other-aud")),
            checked(
                &by_claims("other-aud"),
                &claims_of("other-aud"),
                "audience_mismatch",
                json!({}),
            ),
        ),
        refused(
            "no exp",
            auth(&by_claims("no-exp")),
            checked(
                &by_claims("no-exp"),
                &claims_of("no-exp"),
                "claim_missing",
                json!({}),
            ),
        ),
        refused(
            "no sub",
            auth(&by_claims("no-sub")),
            checked(
                &by_claims("no-sub"),
                &claims_of("no-sub"),
                "claim_missing",
                json!({}),
            ),
        ),
        refused(
            "token_version 1",
            auth(&by_claims("v1")),
            checked(
                &by_claims("v1"),
                &claims_of("v1"),
                "token_version_stale",
                json!({}),
            ),
        ),
        refused(
            "issuer whose JWKS is down",
            auth(&by_claims("down")),
            checked(
                &by_claims("down"),
                &claims_of("down"),
                "jwks_unavailable",
                json!({"status": 503, "iss_expected": DOWN_ISSUER, "keys_tried": "jwks:down"}),
            ),
        ),
    ];

    // Run them; the unknown kid must come after the refetch interval.
    let mut responses: Vec<(&Case, Response)> = Vec::new();
    for case in &cases {
        if case.name == "unknown kid" {
            std::thread::sleep(Duration::from_millis(1100));
        }
        let headers: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let response = get(function.addr(), SESSION, &headers);
        match &case.expected {
            None => {
                assert_accepted(&response);
            }
            Some(expected) => {
                assert_eq!(
                    response.status,
                    expected["status"].as_u64().unwrap() as u16,
                    "{}: {response}",
                    case.name
                );
                assert_eq!(
                    response.json()["reason"],
                    expected["reason"],
                    "{}",
                    case.name
                );
            }
        }
        responses.push((case, response));
    }
    let last_id = responses.last().unwrap().1.request_id().to_owned();
    function.process.wait_stderr_line(&last_id, READY_TIMEOUT);

    // Exactly one event per refused request, none for the accepted ones.
    let events = refusal_events(&function);
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for event in &events {
        let id = event["request_id"].as_str().unwrap_or_default().to_owned();
        by_id.entry(id).or_default().push(event);
    }
    let refused_count = cases.iter().filter(|case| case.expected.is_some()).count();
    assert_eq!(refused_count, 18);
    assert_eq!(events.len(), refused_count, "{}", function.process.report());

    for (case, response) in &responses {
        let found = by_id
            .get(response.request_id())
            .cloned()
            .unwrap_or_default();
        let Some(expected) = &case.expected else {
            assert!(
                found.is_empty(),
                "{}: an accepted request logged a refusal",
                case.name
            );
            continue;
        };
        assert_eq!(found.len(), 1, "{}: one event per refusal", case.name);
        let event = found[0];
        for field in FIXED_FIELDS {
            assert!(
                event.get(field).is_some(),
                "{}: field {field} missing from {event}",
                case.name
            );
        }
        let body = response.json();
        assert_eq!(event["target"], "gatehouse::auth::refusal");
        assert_eq!(event["message"], "request refused");
        let level = if expected["status"] == 503 {
            "WARN"
        } else {
            "INFO"
        };
        assert_eq!(event["level"], level, "{}: {event}", case.name);
        assert_eq!(event["route"], SESSION, "{}", case.name);
        assert_eq!(event["detail"], body["detail"], "{}", case.name);
        assert_eq!(event["hint"], body["hint"], "{}", case.name);
        assert_eq!(event["span"]["request_id"], response.request_id());
        let server_time: i64 = event["server_time"].as_str().unwrap().parse().unwrap();
        assert!(
            (server_time - super::now()).abs() < 30,
            "{}: {event}",
            case.name
        );
        let mut want = merge(&[
            json!({
                "credential_source": "", "token_fingerprint": "", "token_kind": "",
                "alg": "", "kid": "", "iss_received": "", "iss_expected": "",
                "aud_received": "", "aud_expected": "", "exp": "", "nbf": "",
                "iat": "", "keys_tried": "", "cookies_present": "",
            }),
            expected.clone(),
        ]);
        want["request_id"] = json!(response.request_id());
        for (field, value) in want.as_object().unwrap() {
            assert_eq!(
                &event[field], value,
                "{}: field {field} in {event}",
                case.name
            );
        }
    }

    // No secret material anywhere: process output, response bodies, headers.
    let mut haystack = function.process.all_output();
    for (_, response) in &responses {
        haystack.push_str(&response.to_string());
    }
    let session_id = session_cookie.split('.').next().unwrap().to_owned();
    let mut needles: Vec<(String, String)> = vec![
        ("JWT_SECRET".into(), secret.clone()),
        ("JWT_SECRET prefix".into(), secret[..24].to_owned()),
        ("JWT_SECRET_PREVIOUS".into(), previous.clone()),
        (
            "JWT_SECRET_PREVIOUS prefix".into(),
            previous[..24].to_owned(),
        ),
        ("the foreign secret".into(), foreign[..24].to_owned()),
        ("the session cookie".into(), session_cookie.clone()),
        ("the session id".into(), session_id),
        ("the JWE ciphertext".into(), b64(b"secret-ciphertext-bytes")),
    ];
    for (case, _) in &responses {
        for (_, value) in &case.headers {
            let token = value.trim_start_matches("Bearer ");
            if token.split('.').count() == 3 && !token.starts_with("garbage") {
                needles.push((format!("{}: token", case.name), token.to_owned()));
                let signature = token.rsplit('.').next().unwrap();
                if signature.len() > 16 {
                    needles.push((format!("{}: signature", case.name), signature.to_owned()));
                }
            }
        }
    }
    assert!(needles.len() > 25);
    for (what, needle) in &needles {
        assert!(!haystack.contains(needle.as_str()), "{what} leaked");
    }
    function.process.assert_running();
}
