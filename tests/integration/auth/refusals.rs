//! Every refusal reason (except `token_revoked` and
//! `session_store_unavailable`, which need session validation) produced by the
//! real `auth-session` binary, with its status, `X-Auth-Reason`,
//! `WWW-Authenticate` shape and a detail and hint that name the cause; what
//! production hides; which credential wins; and hostile input.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::support::function::VercelFunction;
use crate::support::http_client::{Response, get};
use crate::support::jwks_server::{JwksServer, Reply, refused_url};
use crate::support::mint::{jose, jose_one, pyjwt, secret_spec};

fn jwks_setup() -> (JwksServer, VercelFunction) {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let function = start_with_jwks(AUTH_SESSION, &server.url(), &[]);
    (server, function)
}

#[track_caller]
fn send(function: &VercelFunction, headers: &[(&str, &str)]) -> Response {
    get(function.addr(), SESSION, headers)
}

#[test]
fn missing_credentials_say_what_did_arrive() {
    let (_server, function) = jwks_setup();

    let response = send(&function, &[]);
    let body = assert_refused(
        &response,
        "credentials_missing",
        &["no Authorization header and no session cookie"],
        &["credentials: 'include'", "SameSite=None"],
    );
    assert_eq!(body["facts"]["cookies_present"], json!([]), "{response}");

    let response = send(&function, &[("cookie", "theme=dark; lang=en")]);
    let body = assert_refused(
        &response,
        "credentials_missing",
        &[],
        &["other cookies arrived but no session cookie"],
    );
    assert_eq!(
        body["facts"]["cookies_present"],
        json!(["theme", "lang"]),
        "{response}"
    );

    // A cookie that looks like a session under another name: the hint names
    // it and the variable that would make it count.
    let response = send(
        &function,
        &[("cookie", "theme=dark; my-app.session_token=abc")],
    );
    assert_refused(
        &response,
        "credentials_missing",
        &[],
        &[
            "my-app.session_token",
            "AUTH_COOKIE_NAMES",
            "better-auth.session_token",
        ],
    );
}

#[test]
fn unreadable_tokens_are_token_malformed_and_named_for_what_they_are() {
    let (server, function) = jwks_setup();

    let response = send(
        &function,
        &[("authorization", "Bearer garbage.garbage.garbage")],
    );
    let body = assert_refused(
        &response,
        "token_malformed",
        &["three segments but the first is not a base64url JSON header"],
        &["three base64url parts"],
    );
    assert_eq!(body["facts"]["token_kind"], "malformed", "{response}");

    let response = send(&function, &[("authorization", "Basic dXNlcjpwYXNz")]);
    assert_refused(&response, "token_malformed", &["`Basic` scheme"], &[]);

    let response = send(&function, &[("authorization", "Bearer undefined")]);
    assert_refused(
        &response,
        "token_malformed",
        &["a variable that was never set"],
        &[],
    );

    // Better Auth's signed session cookie, URL-encoded as browsers send it.
    let cookie = format!(
        "theme=dark; better-auth.session_token={}",
        better_auth_session_token(true)
    );
    let response = send(&function, &[("cookie", &cookie)]);
    let body = assert_refused(
        &response,
        "token_malformed",
        &["Better Auth session token", "not a JWT"],
        &["GET /api/auth/token"],
    );
    assert_eq!(body["facts"]["token_kind"], "better_auth_session");
    assert_eq!(
        body["facts"]["credential_source"],
        "cookie:better-auth.session_token"
    );

    // The same token in the header, as the bearer plugin hands it out.
    let response = send(
        &function,
        &[("authorization", &bearer(&better_auth_session_token(false)))],
    );
    let body = assert_refused(
        &response,
        "token_malformed",
        &["Better Auth session token"],
        &[],
    );
    assert_eq!(body["facts"]["credential_source"], "authorization_header");

    // A JWE (an Auth.js session cookie): five segments, `enc` in the header.
    let jwe = format!(
        "{}..{}.{}.{}",
        b64(br#"{"alg":"dir","enc":"A256CBC-HS512","kid":"x"}"#),
        b64(b"0123456789abcdef"),
        b64(b"ciphertext-ciphertext"),
        b64(b"tag-tag-tag-tag-")
    );
    let response = send(&function, &[("authorization", &bearer(&jwe))]);
    let body = assert_refused(
        &response,
        "token_malformed",
        &["encrypted token (JWE)"],
        &["AUTH_SECRET"],
    );
    assert_eq!(body["facts"]["token_kind"], "jwe");

    // Nothing here needed a key.
    assert_eq!(server.requests(), 0);
}

#[test]
fn algorithms_are_pinned_by_configuration_and_keys() {
    let (server, function) = jwks_setup();
    let valid = claims("user-alg");

    // alg none: never.
    let none = forged(&json!({"alg": "none", "typ": "JWT"}), &valid, "");
    let response = session_with(&function, &none);
    let body = assert_refused(
        &response,
        "algorithm_not_allowed",
        &["`none`"],
        &["`none` is never accepted"],
    );
    assert_eq!(body["facts"]["alg"], "none");

    // The classic key confusion attack, done for real: an HS256 token whose
    // HMAC key is the issuer's own public key, as a verifier that takes the
    // algorithm from the header would use it (the PEM text, and its DER
    // bytes). Refused without trying the public key as a secret.
    let pem = mint::fixture_text("rsa-2048.pub.pem");
    let der = {
        use base64::Engine;
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    };
    for (form, key) in [("PEM", pem.as_bytes()), ("DER", der.as_slice())] {
        let header = json!({ "alg": "HS256", "typ": "JWT", "kid": KID_RSA });
        let unsigned = forged(&header, &valid, "");
        let signing_input = unsigned.trim_end_matches('.');
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
        let token = format!("{signing_input}.{}", b64(tag.as_ref()));
        let response = session_with(&function, &token);
        assert_refused(
            &response,
            "algorithm_not_allowed",
            &["HS256", "JWT_SECRET is not set"],
            &["never with a public key"],
        );
        assert_eq!(response.json()["facts"]["alg"], "HS256", "{form}");
    }

    // RS256 signed with the RSA key but naming the kid of the ES256 key.
    let confused = jose_one(mint::pem_spec(
        "RS256",
        "rsa-2048.key.pem",
        Some(KID_P256),
        &valid,
    ));
    let response = session_with(&function, &confused);
    let body = assert_refused(
        &response,
        "algorithm_not_allowed",
        &["RS256", KID_P256, "ES256"],
        &["pinned by the key"],
    );
    assert_eq!(body["facts"]["kid"], KID_P256);
    assert_eq!(body["facts"]["alg"], "RS256");
    assert_eq!(server.requests(), 1, "one fetch for the kid lookup");
}

#[test]
fn an_unknown_kid_after_the_refetch_interval_is_key_not_found() {
    let (server, function) = jwks_setup();
    let tokens = jose(&[
        spec("RS256", KID_RSA, &claims("user-kid")),
        mint::pem_spec(
            "EdDSA",
            "ed25519-b.key.pem",
            Some("retired-2025"),
            &claims("user-kid"),
        ),
    ]);
    assert_accepted(&session_with(&function, &tokens[0]));
    assert_eq!(server.requests(), 1);

    // Past JWKS_REFETCH_MIN_SECS=1 an unknown kid triggers one refetch (the
    // issuer may have rotated); the key is still not there.
    std::thread::sleep(Duration::from_millis(1200));
    let response = session_with(&function, &tokens[1]);
    assert_refused(
        &response,
        "key_not_found",
        &["no key with kid retired-2025", KID_RSA, KID_ED_A],
        &["JWKS URL"],
    );
    assert_eq!(server.requests(), 2, "exactly one refetch for the kid");
}

#[test]
fn tampered_tokens_and_foreign_secrets_are_signature_invalid() {
    let (_server, function) = jwks_setup();
    let token = jose_one(spec("RS256", KID_RSA, &claims("user-sig")));
    assert_accepted(&session_with(&function, &token));

    // Same header and signature, payload promoting the user.
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(with(&claims("user-sig"), json!({"role": "admin"}))
            .to_string()
            .as_bytes()),
        parts[2]
    );
    let response = session_with(&function, &tampered);
    let body = assert_refused(
        &response,
        "signature_invalid",
        &["does not verify"],
        &["altered"],
    );
    assert_eq!(body["facts"]["keys_tried"], json!([KID_RSA]));

    // Shared secrets: a token from a service holding another secret. The
    // hint gives our secret's fingerprint, never the secret.
    let secret = unique_secret("ours");
    let mut function = start(
        AUTH_SESSION,
        &[("JWT_SECRET", &secret), ("JWT_ISSUER", ISSUER)],
    );
    let foreign = pyjwt(&[secret_spec(
        "HS256",
        &unique_secret("theirs"),
        &claims("user-sig"),
    )])
    .remove(0);
    let response = session_with(&function, &foreign);
    let body = assert_refused(
        &response,
        "signature_invalid",
        &["different secret"],
        &[
            &format!("sha256:{}", fingerprint(&secret)),
            "JWT_SECRET_PREVIOUS",
        ],
    );
    assert_eq!(body["facts"]["keys_tried"], json!(["shared_secret"]));
    assert!(!response.text().contains(&secret[..16]), "{response}");
    wait_logged(&mut function, &response);
    assert!(!function.process.all_output().contains(&secret[..16]));
}

#[test]
fn time_claims_expired_not_yet_valid_and_clock_skew() {
    let (_server, function) = jwks_setup();
    let now = now();
    let base = claims("user-time");
    let tokens = jose(&[
        spec(
            "ES256",
            KID_P256,
            &with(&base, json!({"iat": now - 7200, "exp": now - 3600})),
        ),
        spec("ES256", KID_P256, &with(&base, json!({"nbf": now + 3600}))),
        // The issuer's clock five minutes ahead of ours.
        spec(
            "ES256",
            KID_P256,
            &with(&base, json!({"iat": now + 300, "exp": now + 900})),
        ),
    ]);

    let response = session_with(&function, &tokens[0]);
    let body = assert_refused(
        &response,
        "token_expired",
        &["the token expired at", "s ago", "leeway 30 s"],
        &["fresh token"],
    );
    assert_eq!(body["facts"]["exp"], now - 3600);

    let response = session_with(&function, &tokens[1]);
    let body = assert_refused(
        &response,
        "token_not_yet_valid",
        &["not valid before"],
        &["clock"],
    );
    assert_eq!(body["facts"]["nbf"], now + 3600);

    let response = session_with(&function, &tokens[2]);
    let body = assert_refused(
        &response,
        "token_not_yet_valid",
        &["s in the future"],
        &["NTP", "JWT_LEEWAY_SECS"],
    );
    let detail = body["detail"].as_str().unwrap();
    let seconds: i64 = detail
        .trim_start_matches("the token was issued ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the skew in seconds: {detail}"));
    assert!((290..=300).contains(&seconds), "{detail}");
    assert_eq!(body["facts"]["iat"], now + 300);
}

#[test]
fn issuer_audience_and_missing_claims() {
    let (_server, function) = jwks_setup();
    let base = claims("user-claims");
    let staging = "https://auth.staging.example";
    let tokens = jose(&[
        spec("EdDSA", KID_ED_A, &with(&base, json!({"iss": staging}))),
        spec(
            "EdDSA",
            KID_ED_A,
            &with(&base, json!({"aud": ["https://other-api.example"]})),
        ),
        spec("EdDSA", KID_ED_A, &with(&base, json!({"exp": null}))),
        spec("EdDSA", KID_ED_A, &with(&base, json!({"sub": null}))),
    ]);

    let response = session_with(&function, &tokens[0]);
    let body = assert_refused(
        &response,
        "issuer_mismatch",
        &[staging],
        &[staging, ISSUER, "JWT_ISSUER"],
    );
    assert_eq!(body["facts"]["iss_received"], staging);
    assert_eq!(body["facts"]["iss_expected"], ISSUER);

    let response = session_with(&function, &tokens[1]);
    let body = assert_refused(
        &response,
        "audience_mismatch",
        &["https://other-api.example"],
        &["https://other-api.example", AUDIENCE, "JWT_AUDIENCE"],
    );
    assert_eq!(body["facts"]["aud_received"], "https://other-api.example");
    assert_eq!(body["facts"]["aud_expected"], AUDIENCE);

    let response = session_with(&function, &tokens[2]);
    assert_refused(
        &response,
        "claim_missing",
        &["claim `exp`", "no expiry"],
        &["`exp`"],
    );

    let response = session_with(&function, &tokens[3]);
    assert_refused(&response, "claim_missing", &["claim `sub`"], &["`sub`"]);
}

#[test]
fn tokens_older_than_token_version_are_stale() {
    let secret = unique_secret("version");
    let function = start(
        AUTH_SESSION,
        &[
            ("JWT_SECRET", &secret),
            ("JWT_AUDIENCE", AUDIENCE),
            ("TOKEN_VERSION", "2"),
        ],
    );
    let base = claims("user-version");
    let tokens = pyjwt(&[
        secret_spec("HS256", &secret, &with(&base, json!({"token_version": 1}))),
        secret_spec("HS256", &secret, &base),
        secret_spec("HS256", &secret, &with(&base, json!({"token_version": 2}))),
        secret_spec("HS256", &secret, &with(&base, json!({"token_version": 3}))),
    ]);

    let response = session_with(&function, &tokens[0]);
    let body = assert_refused(
        &response,
        "token_version_stale",
        &["version is 1, older than this server's 2"],
        &["sign in again", "TOKEN_VERSION"],
    );
    assert_eq!(body["facts"]["token_version"], 1);

    let response = session_with(&function, &tokens[1]);
    assert_refused(
        &response,
        "token_version_stale",
        &["version is absent, older than this server's 2"],
        &[],
    );

    for (token, version) in [(&tokens[2], 2), (&tokens[3], 3)] {
        let principal = assert_accepted(&session_with(&function, token));
        assert_eq!(principal["token_version"], version);
    }
}

#[test]
fn keys_that_never_loaded_are_503_jwks_unavailable_with_retry_after() {
    let token = jose_one(spec("RS256", KID_RSA, &claims("user-jwks")));
    let not_found = JwksServer::start(Reply::status(404));
    let html = JwksServer::start(Reply::html());
    let refused = refused_url();
    let cases: [(&str, &str); 3] = [
        (&not_found.url(), "answers 404"),
        (&html.url(), "returned HTML"),
        (&refused, "could not connect"),
    ];
    for (url, cause) in cases {
        let function = start_with_jwks(AUTH_SESSION, url, &[]);
        let response = session_with(&function, &token);
        let body = assert_refused(
            &response,
            "jwks_unavailable",
            &["could not be loaded", cause],
            &["not your token", "retry"],
        );
        assert_eq!(body["facts"]["keys_tried"], json!(["jwks:jwt"]));
    }
    assert_eq!(not_found.requests(), 1);
    assert_eq!(html.requests(), 1);
}

#[test]
fn production_hides_facts_but_keeps_reason_detail_and_hint() {
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let now = now();
    let expired = jose_one(spec(
        "RS256",
        KID_RSA,
        &with(
            &claims("user-prod"),
            json!({"iat": now - 7200, "exp": now - 60}),
        ),
    ));

    let production = start_with_jwks(
        AUTH_SESSION,
        &server.url(),
        &[("ENVIRONMENT", "production")],
    );
    let response = session_with(&production, &expired);
    let body = assert_refused(
        &response,
        "token_expired",
        &["has expired"],
        &["fresh token"],
    );
    // Received and expected values (here the expiry and the server clock)
    // go to the log only in production.
    for leaked in ["expired at", "server time", "leeway"] {
        assert!(
            !response.to_string().contains(leaked),
            "production response shows `{leaked}`: {response}"
        );
    }
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "detail",
            "hint",
            "reason",
            "request_id",
            "status",
            "title",
            "type"
        ],
        "production: no facts: {response}"
    );

    let development = start_with_jwks(
        AUTH_SESSION,
        &server.url(),
        &[("ENVIRONMENT", "development")],
    );
    let response = session_with(&development, &expired);
    let body = assert_refused(&response, "token_expired", &[], &[]);
    let facts = &body["facts"];
    assert_eq!(facts["iss_expected"], ISSUER, "{response}");
    assert_eq!(facts["iss_received"], ISSUER, "{response}");
    assert_eq!(facts["aud_expected"], AUDIENCE, "{response}");
    assert_eq!(facts["aud_received"], AUDIENCE, "{response}");
    assert_eq!(facts["kid"], KID_RSA, "{response}");
    assert_eq!(facts["alg"], "RS256", "{response}");
    assert_eq!(facts["exp"], now - 60, "{response}");
    assert_eq!(facts["keys_tried"], json!([KID_RSA]), "{response}");
    assert_eq!(facts["credential_source"], "authorization_header");
    assert_eq!(facts["token_fingerprint"], fingerprint(&expired));
    let server_time = facts["server_time"].as_i64().unwrap();
    assert!((server_time - super::now()).abs() <= 5, "{response}");
}

#[test]
fn the_authorization_header_wins_over_a_session_cookie() {
    let (_server, function) = jwks_setup();
    let tokens = jose(&[
        spec("ES384", KID_P384, &claims("from-header")),
        spec("ES384", KID_P384, &claims("from-cookie")),
    ]);

    // Both valid: the header's subject.
    let cookie = format!("better-auth.session_token={}", tokens[1]);
    let response = send(
        &function,
        &[("authorization", &bearer(&tokens[0])), ("cookie", &cookie)],
    );
    let principal = assert_accepted(&response);
    assert_eq!(principal["subject"], "from-header");
    assert_eq!(principal["credential_source"], "authorization_header");

    // A broken header is not rescued by a valid cookie: the header was the
    // client's explicit choice.
    let response = send(
        &function,
        &[("authorization", "Bearer not-a-jwt"), ("cookie", &cookie)],
    );
    let body = assert_refused(&response, "token_malformed", &[], &[]);
    assert_eq!(body["facts"]["credential_source"], "authorization_header");
    assert_eq!(
        body["facts"]["cookies_present"],
        json!(["better-auth.session_token"])
    );

    // The cookie alone is used.
    let principal = assert_accepted(&send(&function, &[("cookie", &cookie)]));
    assert_eq!(principal["subject"], "from-cookie");
    assert_eq!(
        principal["credential_source"],
        "cookie:better-auth.session_token"
    );
}

#[test]
fn hostile_input_on_auth_routes_is_4xx_and_the_process_survives() {
    let (_server, mut function) = jwks_setup();
    let addr = function.addr();
    let valid = jose_one(spec("EdDSA", KID_ED_A, &claims("user-hostile")));

    // Over the 32 KiB header budget.
    let huge = format!("Bearer {}", "a".repeat(40 * 1024));
    let response = get(addr, SESSION, &[("authorization", &huge)]);
    response.assert_problem(431, "headers_too_large");

    // Under the header budget, over the 16 KiB token limit.
    let long = format!("Bearer {}.{}.{}", "a".repeat(9000), "b".repeat(9000), "c");
    let response = get(addr, SESSION, &[("authorization", &long)]);
    assert_refused(&response, "token_malformed", &["longer than 16 KiB"], &[]);

    for token in ["' OR 1=1 --", "1; DROP TABLE users; --", "%00%0d%0a"] {
        let response = get(addr, SESSION, &[("authorization", &bearer(token))]);
        let body = assert_refused(&response, "token_malformed", &[], &[]);
        assert!(!response.text().contains(token), "never echoed: {body}");
    }

    // A cookie header that is not UTF-8, sent as raw bytes.
    let mut raw =
        format!("GET {SESSION} HTTP/1.1\r\nhost: 127.0.0.1\r\ncookie: better-auth.session_token=")
            .into_bytes();
    raw.extend_from_slice(b"\xff\xfe\xc3(\r\n\r\n");
    let response = crate::support::http_client::exchange(addr, &raw);
    let body = response.assert_problem(400, "header_invalid");
    assert!(
        body["detail"].as_str().unwrap().contains("cookie"),
        "{response}"
    );

    // Still serving, nothing panicked.
    assert_accepted(&session_with(&function, &valid));
    function.process.assert_running();
    assert!(!function.process.stderr().contains("panicked"));
}

/// Guards the taxonomy: every reason `Reason::ALL` names fails here until a
/// test asserts a binary produced it, with `assert_refused(.., "<code>", ..)`
/// or `.assert_problem(<status>, "<code>")`. Only real calls count: the
/// arguments are read from the call, and this guard's own text is skipped.
#[test]
fn every_refusal_reason_is_produced_by_a_test() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration");
    let mut sources = Vec::new();
    collect_sources(std::path::Path::new(root), &mut sources);
    let mut asserted = std::collections::BTreeSet::new();
    for (path, text) in &sources {
        let text = match text.find("fn every_refusal_reason_is_produced_by_a_test") {
            Some(at) if path.ends_with("refusals.rs") => &text[..at],
            _ => text.as_str(),
        };
        for call in ["assert_refused(", "assert_problem("] {
            for (at, _) in text.match_indices(call) {
                if let Some(code) = reason_argument(&text[at + call.len()..]) {
                    asserted.insert(code);
                }
            }
        }
    }
    let missing: Vec<&str> = gatehouse::error::Reason::ALL
        .iter()
        .map(|reason| reason.as_str())
        .filter(|code| !asserted.contains(*code))
        .collect();
    assert!(
        missing.is_empty(),
        "no test asserts that a binary produced these reasons: {missing:?}"
    );
    // The parser found the calls it was written for.
    assert!(
        asserted.contains("token_expired") && asserted.contains("not_found"),
        "{asserted:?}"
    );
}

/// Every `.rs` file under `dir`, with its text.
fn collect_sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("the test directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).expect("a test file");
            out.push((path.to_string_lossy().into_owned(), text));
        }
    }
}

/// The reason a call passes: the first string literal among its first two
/// arguments (`&response, "code"` or `401, "code"`), read up to the call's
/// closing parenthesis. `None` when the reason is a variable, not a literal.
fn reason_argument(after_paren: &str) -> Option<String> {
    // The call's arguments, split at the commas outside any nested
    // parentheses (`assert_refused(&session_with(&f, &t), "code", ..)`).
    let mut depth = 1usize;
    let mut arguments = Vec::new();
    let mut start = 0;
    for (index, ch) in after_paren.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth -= 1;
                if depth == 0 {
                    arguments.push(&after_paren[start..index]);
                    break;
                }
            }
            ',' if depth == 1 => {
                arguments.push(&after_paren[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    arguments.iter().take(2).find_map(|argument| {
        let code = argument.trim().strip_prefix('"')?.strip_suffix('"')?;
        code.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
            .then(|| code.to_owned())
    })
}
