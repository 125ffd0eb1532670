//! `GET /api/debug/session` through its binary: what arrived and what the
//! deployment made of it, never a value; present in development and, with
//! `DEBUG_ENDPOINTS=true`, in preview; in production only for an API key
//! with the `admin` scope, and a 404 otherwise.

use serde_json::json;

use super::*;
use crate::support::db::TestDb;
use crate::support::function::{block_on, run_cli};
use crate::support::mint::{jose_one, secret_spec};

const DEBUG_SESSION: &str = env!("CARGO_BIN_EXE_debug-session");
const PATH: &str = "/api/debug/session";

#[test]
fn it_shows_cookie_names_header_kinds_unverified_claims_and_the_verdict_never_a_value() {
    let secret = unique_secret("debug");
    let function = start(DEBUG_SESSION, &[("JWT_SECRET", &secret)]);
    let good = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    let expired = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() - 600 }),
    ));
    let cookie = format!("theme=dark; better-auth.session_token={expired}");
    let response = get(
        function.addr(),
        PATH,
        &[("authorization", &bearer(&good)), ("cookie", &cookie)],
    );
    assert_eq!(response.status, 200, "{response}");
    let body = response.json();
    assert_eq!(
        body["cookies"],
        json!(["theme", "better-auth.session_token"])
    );
    assert_eq!(body["headers"]["authorization"], "bearer");
    assert_eq!(body["used"], "authorization_header");
    let credentials = body["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 2, "{response}");
    assert_eq!(credentials[0]["unverified_claims"]["sub"], "ada");
    assert_eq!(credentials[0]["unverified_header"]["alg"], "HS256");
    assert_eq!(credentials[0]["fingerprint"], fingerprint(&good));
    assert_eq!(credentials[1]["source"], "cookie:better-auth.session_token");
    assert_eq!(body["verdict"]["outcome"], "accepted");
    assert_eq!(body["verdict"]["principal"]["subject"], "ada");
    assert!(
        body["note"]
            .as_str()
            .unwrap()
            .contains("without verification")
    );
    let text = response.text();
    assert!(!text.contains(&good) && !text.contains(&expired) && !text.contains(&secret));

    // The cookie alone: refused, with the check that failed.
    let refused = get(function.addr(), PATH, &[("cookie", &cookie)]).json();
    assert_eq!(refused["verdict"]["reason"], "token_expired", "{refused}");
    let failing: Vec<&str> = refused["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["status"] == "fail")
        .filter_map(|check| check["name"].as_str())
        .collect();
    assert_eq!(failing, ["expiry and clock"]);
    // Nothing at all: the verdict says what to send.
    let nothing = get(function.addr(), PATH, &[]).json();
    assert_eq!(nothing["verdict"]["reason"], "credentials_missing");
    assert_eq!(nothing["credentials"], json!([]));
}

#[test]
fn it_is_absent_in_preview_and_production_except_for_an_admin_api_key() {
    let secret = unique_secret("debug-prod");
    let preview = start(
        DEBUG_SESSION,
        &[("JWT_SECRET", &secret), ("VERCEL_ENV", "preview")],
    );
    get(preview.addr(), PATH, &[]).assert_problem(404, "route_not_found");
    let preview_on = start(
        DEBUG_SESSION,
        &[
            ("JWT_SECRET", &secret),
            ("VERCEL_ENV", "preview"),
            ("DEBUG_ENDPOINTS", "true"),
        ],
    );
    assert_eq!(get(preview_on.addr(), PATH, &[]).status, 200);
    let refused_config = start(
        DEBUG_SESSION,
        &[
            ("JWT_SECRET", &secret),
            ("ENVIRONMENT", "production"),
            ("DEBUG_ENDPOINTS", "true"),
        ],
    );
    let misconfigured = get(refused_config.addr(), PATH, &[]);
    misconfigured.assert_problem(500, "misconfigured");

    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let key = |scope: &str| {
        let output = run_cli(
            &["api-keys", "create", "--name", "ops", "--scope", scope],
            &[("DATABASE_URL", &db.url)],
            "",
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let (admin, other) = (key("admin"), key("tasks:read"));
    let production = start(
        DEBUG_SESSION,
        &[
            ("JWT_SECRET", &secret),
            ("JWT_ISSUER", "https://auth.example.com"),
            ("ENVIRONMENT", "production"),
            ("DATABASE_URL", &db.url),
        ],
    );
    let user = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "iss": "https://auth.example.com", "exp": now() + 600 }),
    ));
    for credential in [bearer(&user), format!("ApiKey {other}")] {
        get(production.addr(), PATH, &[("authorization", &credential)])
            .assert_problem(404, "route_not_found");
    }
    let as_admin = get(production.addr(), PATH, &[("x-api-key", &admin)]);
    assert_eq!(as_admin.status, 200, "{as_admin}");
    assert_eq!(
        as_admin.json()["verdict"]["principal"]["scopes"],
        json!(["admin"])
    );
    assert!(!as_admin.text().contains(&admin));
}
