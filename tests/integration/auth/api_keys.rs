//! API keys made by the real `gatehouse api-keys` CLI in a migrated
//! PostgreSQL database, presented to the real `auth-session` and
//! `auth-revoke` binaries: both headers, scopes (403), revocation by the
//! CLI, bad keys, a deployment without a database, and one whose database
//! is down.

use std::time::Duration;

use serde_json::Value;

use super::*;
use crate::support::db::TestDb;
use crate::support::function::{Process, VercelFunction, block_on, free_port, gatehouse_cli};
use crate::support::http_client::{Response, exchange, get, request};

const AUTH_REVOKE: &str = env!("CARGO_BIN_EXE_auth-revoke");
const REVOKE: &str = "/api/auth/revoke";
const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh database with Gatehouse's migrations.
fn migrated() -> TestDb {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    db
}

/// Runs `gatehouse <args>` against `database_url`; panics unless it succeeds.
/// Returns stdout and stderr.
#[track_caller]
pub(super) fn cli(args: &[&str], database_url: &str) -> (String, String) {
    let program = gatehouse_cli().to_string_lossy().into_owned();
    let mut process = Process::spawn(&program, args, &[("DATABASE_URL", database_url)]);
    let status = process.wait_exit(CLI_TIMEOUT);
    assert!(
        status.success(),
        "gatehouse {args:?} failed\n{}",
        process.report()
    );
    (process.stdout(), process.stderr())
}

/// A new key from `gatehouse api-keys create`; returns the key and its lookup.
#[track_caller]
pub(super) fn create_key(database_url: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let mut args = vec!["api-keys", "create", "--name", name];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let (stdout, stderr) = cli(&args, database_url);
    let key = stdout.trim_end_matches('\n').to_owned();
    assert!(
        key.starts_with("gk_") && key.len() == 59,
        "the key alone on stdout: {stdout}\n{stderr}"
    );
    let lookup = key[3..15].to_owned();
    assert!(stderr.contains(&lookup), "{stderr}");
    (key, lookup)
}

/// `key` with one character of its secret part changed.
pub(super) fn tampered(key: &str) -> String {
    let index = key.len() - 10;
    let replacement = if &key[index..=index] == "A" { "B" } else { "A" };
    let mut changed = key.to_owned();
    changed.replace_range(index..=index, replacement);
    changed
}

/// A key of the right shape that no database holds.
fn unknown_key() -> String {
    format!("gk_{}_{}", "Q".repeat(12), "z".repeat(43))
}

#[track_caller]
fn with_header(function: &VercelFunction, name: &str, value: &str) -> Response {
    get(function.addr(), SESSION, &[(name, value)])
}

/// A `postgres://` URL on a port nothing listens on.
fn closed_database() -> String {
    format!(
        "postgres://postgres@127.0.0.1:{}/gatehouse?connect_timeout=2",
        free_port()
    )
}

#[track_caller]
fn assert_nothing_leaked(output: &str, values: &[&str]) {
    for value in values {
        assert!(!output.contains(value), "an API key reached the output");
    }
}

#[test]
fn keys_from_the_cli_are_accepted_scoped_and_revoked() {
    let db = migrated();
    let (key, lookup) = create_key(&db.url, "session reader", &["auth:session"]);
    let (narrow, _) = create_key(&db.url, "orders worker", &["orders:read"]);
    let mut function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("LOG_LEVEL", LOG_EVERY_REQUEST),
        ],
    );

    // X-API-Key.
    let principal = assert_accepted(&with_header(&function, "x-api-key", &key));
    assert_eq!(principal["method"], "api_key", "{principal}");
    assert_eq!(principal["credential_source"], "x-api-key_header");
    let subject = principal["subject"].as_str().unwrap_or_default();
    let id = subject;
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "the key's id: {principal}"
    );
    assert_eq!(principal["namespace"], "api-key", "{principal}");
    assert_eq!(principal["scopes"], serde_json::json!(["auth:session"]));
    assert_eq!(principal["claims"]["name"], "session reader");
    assert_eq!(principal["claims"]["lookup"], lookup.as_str());
    assert_eq!(principal["expires_at"], Value::Null, "no --expires-in-days");
    // The list the CLI prints names the same key.
    let (listed, _) = cli(&["api-keys", "list", "--json"], &db.url);
    assert!(listed.contains(id), "{listed}");

    // Authorization: ApiKey, and a gk_ key sent as a bearer token.
    let by_scheme = assert_accepted(&with_header(
        &function,
        "authorization",
        &format!("ApiKey {key}"),
    ));
    assert_eq!(by_scheme["subject"], subject);
    assert_eq!(
        by_scheme["credential_source"],
        "authorization_header:apikey"
    );
    let by_bearer = assert_accepted(&session_with(&function, &key));
    assert_eq!(by_bearer["subject"], subject);
    assert_eq!(by_bearer["method"], "api_key");

    // A valid key without the route's scope: 403, naming both.
    let response = with_header(&function, "x-api-key", &narrow);
    assert_refused(
        &response,
        "insufficient_scope",
        &["orders:read", "auth:session"],
        &["--scope auth:session"],
    );

    // One character of the secret changed; not a key at all.
    let altered = tampered(&key);
    let response = with_header(&function, "x-api-key", &altered);
    assert_refused(
        &response,
        "api_key_invalid",
        &["no API key matches"],
        &["gatehouse api-keys create"],
    );
    let response = with_header(&function, "x-api-key", "gk_garbage");
    assert_refused(&response, "api_key_invalid", &["59 characters"], &["gk_"]);
    let response = session_with(&function, "gk_garbage");
    assert_refused(&response, "api_key_invalid", &[], &[]);
    let response = with_header(&function, "x-api-key", &unknown_key());
    assert_refused(&response, "api_key_invalid", &["no API key matches"], &[]);

    // Revoked by the CLI: refused from the next request on.
    let (stdout, _) = cli(&["api-keys", "revoke", &lookup], &db.url);
    assert!(stdout.contains("revoked"), "{stdout}");
    for response in [
        with_header(&function, "x-api-key", &key),
        with_header(&function, "authorization", &format!("ApiKey {key}")),
    ] {
        assert_refused(&response, "api_key_invalid", &["revoked at"], &[]);
    }
    let response = with_header(&function, "x-api-key", &key);
    wait_logged(&mut function, &response);

    assert_nothing_leaked(
        &function.process.all_output(),
        &[&key, &key[16..], &narrow, &narrow[16..], &altered],
    );
}

#[test]
fn the_revoke_route_refuses_api_keys() {
    let db = migrated();
    let (key, _) = create_key(&db.url, "revoker", &["auth:session"]);
    let secret = unique_secret("revoke-api-key");
    let mut function = start(
        AUTH_REVOKE,
        &[("DATABASE_URL", db.url.as_str()), ("JWT_SECRET", &secret)],
    );
    let mut raw = request(
        "POST",
        REVOKE,
        &[
            ("x-api-key", &key),
            ("content-type", "application/json"),
            ("content-length", "2"),
        ],
    );
    raw.extend_from_slice(b"{}");
    let response = exchange(function.addr(), &raw);
    let body = response.assert_problem(403, "forbidden");
    assert!(
        body["hint"]
            .as_str()
            .is_some_and(|hint| hint.contains("gatehouse api-keys revoke")),
        "{response}"
    );
    // Still a working key: the route refused to revoke it.
    let (listed, _) = cli(&["api-keys", "list", "--json"], &db.url);
    let listed: Value = serde_json::from_str(&listed).expect("JSON list");
    assert_eq!(listed[0]["revoked_at"], Value::Null, "{listed}");

    // Authorization: ApiKey, on a request without a body.
    let response = revoke_without_body(&function, &format!("ApiKey {key}"));
    response.assert_problem(403, "forbidden");
    wait_logged(&mut function, &response);
    assert_nothing_leaked(&function.process.all_output(), &[&key, &key[16..], &secret]);
}

/// `POST /api/auth/revoke` with an empty body and `authorization`.
fn revoke_without_body(function: &VercelFunction, authorization: &str) -> Response {
    let raw = request(
        "POST",
        REVOKE,
        &[("authorization", authorization), ("content-length", "0")],
    );
    exchange(function.addr(), &raw)
}

#[test]
fn a_deployment_without_api_keys_names_the_setting() {
    let key = unknown_key();
    // No DATABASE_URL: API keys have nowhere to live.
    let mut function = start(AUTH_SESSION, &[("JWT_SECRET", &unique_secret("no-db"))]);
    for response in [
        with_header(&function, "x-api-key", &key),
        with_header(&function, "authorization", &format!("ApiKey {key}")),
        session_with(&function, &key),
    ] {
        assert_refused(
            &response,
            "api_key_invalid",
            &["does not accept API keys"],
            &["DATABASE_URL", "gatehouse migrate"],
        );
    }
    let response = with_header(&function, "x-api-key", &key);
    wait_logged(&mut function, &response);
    assert_nothing_leaked(&function.process.all_output(), &[&key]);

    // A database, but API_KEYS=off.
    let database = closed_database();
    let off = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", database.as_str()),
            ("JWT_SECRET", &unique_secret("off")),
            ("API_KEYS", "off"),
        ],
    );
    assert_refused(
        &with_header(&off, "x-api-key", &key),
        "api_key_invalid",
        &["does not accept API keys"],
        &["API_KEYS"],
    );
}

#[test]
fn a_database_that_is_down_is_a_503_and_bad_keys_never_reach_it() {
    let database = closed_database();
    let mut function = start(
        AUTH_SESSION,
        &[
            ("DATABASE_URL", database.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    let key = unknown_key();
    let response = with_header(&function, "x-api-key", &key);
    assert_refused(
        &response,
        "session_store_unavailable",
        &["could not be read"],
        &[],
    );
    // The shape is checked first: a malformed key is refused as such.
    let response = with_header(&function, "x-api-key", "gk_garbage");
    assert_refused(&response, "api_key_invalid", &["59 characters"], &[]);
    wait_logged(&mut function, &response);
    assert_nothing_leaked(&function.process.all_output(), &[&key]);
}
