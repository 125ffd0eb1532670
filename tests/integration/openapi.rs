//! The OpenAPI document (`openapi.json`, served at
//! `/api/openapi.json`) kept true: it names exactly the routes and methods of
//! the route table and exactly the reason codes of `Reason::ALL`, each with
//! its own status; the function serves the file unchanged; and schemathesis,
//! run against `gatehouse dev` with an authenticated user, finds no 5xx and
//! no response that departs from the document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse::Reason;
use gatehouse_app::routes::ROUTES;
use serde_json::{Value, json};

use crate::auth::{now, start, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{TempDir, block_on, finish_within, start_dev};
use crate::support::http_client::{get, send};
use crate::support::mint::{interop_dir, jose_one, secret_spec};

pub const OPENAPI_JSON: &str = env!("CARGO_BIN_EXE_openapi-json");

/// The document as written in the repository.
fn document_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

fn document() -> Value {
    serde_json::from_str(&document_text())
        .unwrap_or_else(|err| panic!("openapi.json is not JSON: {err}"))
}

/// The value a local `$ref` (`#/components/...`) points at.
fn resolve<'d>(doc: &'d Value, reference: &str) -> &'d Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references are used: {reference}"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} points at nothing"))
}

/// `node`, following `$ref`s.
fn deref<'d>(doc: &'d Value, mut node: &'d Value) -> &'d Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        node = resolve(doc, reference);
    }
    node
}

/// Every `$ref` string in `node`.
fn references(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => out.push(reference.clone()),
                    _ => references(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

fn code_of(text: &str) -> Reason {
    *Reason::ALL
        .iter()
        .find(|reason| reason.as_str() == text)
        .unwrap_or_else(|| panic!("the document names `{text}`, which is not a reason code"))
}

const OPERATION_KEYS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[test]
fn the_document_describes_exactly_the_route_table() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["jsonSchemaDialect"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        doc["info"]["version"],
        gatehouse::VERSION,
        "info.version is the crate version"
    );
    let paths = doc["paths"].as_object().expect("paths");

    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for route in ROUTES {
        let path = route.pattern.replace('[', "{").replace(']', "}");
        let methods = route
            .methods
            .iter()
            .map(|method| method.as_str().to_ascii_lowercase())
            .collect();
        expected.insert(path, methods);
    }
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item");
        let methods = item
            .keys()
            .filter(|key| OPERATION_KEYS.contains(&key.as_str()))
            .cloned()
            .collect();
        documented.insert(path.clone(), methods);
    }
    // HEAD and OPTIONS are answered by the pipeline for every route; the
    // document may describe them, and nothing else beyond the table.
    for (path, methods) in &mut documented {
        let takes_get = expected
            .get(path)
            .is_some_and(|methods| methods.contains("get"));
        methods.retain(|method| !(method == "options" || (method == "head" && takes_get)));
    }
    assert_eq!(
        documented, expected,
        "openapi.json must have one path per route in ROUTES (`[id]` as `{{id}}`) with exactly its methods"
    );

    // Every operation is answerable by an id, and every reference resolves.
    let mut ids = BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            if OPERATION_KEYS.contains(&method.as_str()) {
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents no response"
                );
            }
        }
    }
    let mut refs = Vec::new();
    references(&doc, &mut refs);
    for reference in refs {
        resolve(&doc, &reference);
    }
}

#[test]
fn the_problem_reasons_are_exactly_the_reason_codes_each_with_its_status() {
    let doc = document();
    let problem = &doc["components"]["schemas"]["Problem"];
    let reason = deref(&doc, &problem["properties"]["reason"]);
    let documented: Vec<&str> = reason["enum"]
        .as_array()
        .expect("the Problem's reason is an enum")
        .iter()
        .map(|code| code.as_str().expect("reason codes are strings"))
        .collect();
    let codes: Vec<&str> = Reason::ALL.iter().map(|reason| reason.as_str()).collect();
    assert_eq!(
        documented, codes,
        "the Problem's `reason` enum must list Reason::ALL's codes, in order"
    );

    // Each documented problem response narrows `status` to its own status
    // and `reason` to codes answered with that status.
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                let response = deref(&doc, response);
                let Some(schema) = response.pointer("/content/application~1problem+json/schema")
                else {
                    continue;
                };
                let status: u16 = status
                    .parse()
                    .unwrap_or_else(|_| panic!("{method} {path}: status {status}"));
                let narrowed = schema["allOf"]
                    .as_array()
                    .and_then(|parts| parts.iter().find(|part| part.get("properties").is_some()))
                    .unwrap_or_else(|| {
                        panic!("{method} {path} {status}: the problem schema narrows no fields")
                    });
                assert_eq!(
                    narrowed["properties"]["status"]["const"], status,
                    "{method} {path} {status}: `status` must be {status}"
                );
                let reasons = narrowed["properties"]["reason"]["enum"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {path} {status}: no reason enum"));
                for code in reasons {
                    let code = code.as_str().expect("a reason code");
                    let reason = code_of(code);
                    assert_eq!(
                        reason.status().as_u16(),
                        status,
                        "{method} {path}: `{code}` is answered {}, documented under {status}",
                        reason.status()
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} problem responses found");
}

#[test]
fn the_function_serves_the_document_unchanged() {
    let function = start(OPENAPI_JSON, &[]);
    let response = get(function.addr(), "/api/openapi.json", &[]);
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response}"
    );
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=300"),
        "{response}"
    );
    assert!(
        response.text() == document_text(),
        "GET /api/openapi.json must answer openapi.json byte for byte (rebuild the openapi-json binary?)"
    );
    let method = send(function.addr(), "POST", "/api/openapi.json", &[], "");
    method.assert_problem(405, "method_not_allowed");
}

/// Test cases per operation and phase: enough to cover every operation's
/// statuses, few enough for the run to take well under a minute.
const MAX_EXAMPLES: &str = "50";
/// The longest one schemathesis run may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(150);

/// Schemathesis hooks (Python).
///
/// - Each schema-valid `Idempotency-Key` is made unique, as the document asks
///   of clients ("one per distinct request"): Hypothesis draws short keys such
///   as `0` over and over, and a key reused with another body is rightly 422
///   `idempotency_key_reused`, a refusal no schema can rule out. Invalid keys
///   are left as drawn, so their rejection is still tested.
/// - `POST /api/auth/revoke` gets a fresh user per request (a JWT minted with
///   PyJWT for `JWT_SECRET`, with its own subject and `jti`): the first
///   revocation would otherwise end the credential every later request
///   presents, and the rest would only ever see `401 token_revoked`.
const HOOKS: &str = r#"import os
import re
import time
import uuid

import jwt
import schemathesis

VALID_KEY = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and VALID_KEY.fullmatch(value):
            headers[name] = str(uuid.uuid4())


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path="/api/auth/revoke")
class FreshUser:
    def get(self, case, context):
        now = int(time.time())
        claims = {"sub": "revoker-" + uuid.uuid4().hex, "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600}
        return jwt.encode(claims, os.environ["GATEHOUSE_JWT_SECRET"], algorithm="HS256")

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
"#;

/// The configuration: no check is excluded. Where a schema-valid request
/// is refused because of server state no schema can express, the state is
/// supplied or the documented refusal is expected.
fn config(dir: &Path) -> String {
    // A cursor as the API issues it (here: from the start of time), so it
    // stays valid whatever the encoding becomes.
    let cursor = gatehouse_app::tasks::Cursor {
        created_micros: 0,
        id: uuid::Uuid::nil(),
    }
    .encode();
    let hooks = dir.join("hooks.py");
    format!(
        r#"hooks = "{hooks}"

# `cursor` is opaque: only a `next_cursor` this API issued is one, and any
# other string is 422 as documented. Schemathesis gets a real cursor.
[[operations]]
include-path = "/api/tasks"
include-method = "GET"
parameters = {{ "query.cursor" = "{cursor}" }}

# Whether an ETag is still current is server state: a schema-valid If-Match
# naming an older version is rightly 412 (RFC 9110), and PATCH without
# If-Match rightly 428 Precondition Required (RFC 6585). Each list is
# schemathesis's default with that one status added.
[[operations]]
include-path = "/api/tasks/{{id}}"
include-method = ["PATCH", "DELETE"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
checks.missing_required_header.expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]
"#,
        hooks = hooks.display()
    )
}

/// Runs `schemathesis run` against the dev server at `base` with the
/// configuration and hooks in `dir`, every check, and `extra` (which
/// operations, how to authenticate, where to report); returns whether it
/// passed and everything it printed.
fn schemathesis(dir: &Path, base: &str, secret: &str, extra: &[&str]) -> (bool, String) {
    let program = interop_dir().join(".venv/bin/schemathesis");
    assert!(
        program.is_file(),
        "schemathesis is not installed in tests/interop/.venv: run tests/run (it installs tests/interop/requirements.txt), or `tests/interop/.venv/bin/pip install -r tests/interop/requirements.txt`"
    );
    let config = dir.join("schemathesis.toml");
    let schema = format!("{base}/api/openapi.json");
    let mut args: Vec<&str> = vec![
        "--config-file",
        config.to_str().expect("a UTF-8 path"),
        "run",
        &schema,
        "--checks",
        "all",
        "--max-examples",
        MAX_EXAMPLES,
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        "--output-truncate",
        "false",
    ];
    args.extend_from_slice(extra);
    let child = Command::new(&program)
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("PYTHONIOENCODING", "utf-8")
        // For the hooks' fresh users.
        .env("GATEHOUSE_JWT_SECRET", secret)
        // Reproduction commands on one line each.
        .env("COLUMNS", "200")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", program.display()));
    let finished = finish_within(child, None, RUN_TIMEOUT);
    let output = format!("{}{}", finished.stdout, finished.stderr);
    match finished.status {
        Some(status) => (status.success(), output),
        None => (
            false,
            format!("schemathesis did not finish within {RUN_TIMEOUT:?}\n{output}"),
        ),
    }
}

/// `(method, route pattern)` of every request in a HAR report that was
/// answered 2xx.
fn answered_2xx(har: &Path) -> BTreeSet<(String, &'static str)> {
    let text = std::fs::read_to_string(har)
        .unwrap_or_else(|err| panic!("no HAR report at {}: {err}", har.display()));
    let har: Value = serde_json::from_str(&text).expect("the HAR report is JSON");
    let mut answered = BTreeSet::new();
    for entry in har["log"]["entries"].as_array().expect("HAR entries") {
        let status = entry["response"]["status"].as_u64().unwrap_or_default();
        let url = entry["request"]["url"].as_str().unwrap_or_default();
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|slash| &rest[slash..]))
            .unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        if (200..300).contains(&status)
            && let Some(route) = ROUTES.iter().find(|route| route.match_path(path).is_some())
        {
            let method = entry["request"]["method"].as_str().unwrap_or_default();
            answered.insert((method.to_owned(), route.pattern));
        }
    }
    answered
}

#[test]
fn schemathesis_finds_no_failure_against_the_dev_server() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("openapi");
    let (mut dev, addr) = start_dev(&[
        ("DATABASE_URL", &db.url),
        ("JWT_SECRET", &secret),
        // Thousands of requests: only warnings and errors (every 5xx) are kept.
        ("LOG_LEVEL", "warn"),
    ]);
    let base = format!("http://{addr}");
    // The user every request but revocations authenticates as.
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "openapi-user", "iat": now(), "exp": now() + 3600 }),
    ));
    let authorization = format!("Authorization: Bearer {token}");

    let dir = TempDir::new();
    std::fs::write(dir.path().join("hooks.py"), HOOKS).expect("write hooks.py");
    std::fs::write(dir.path().join("schemathesis.toml"), config(dir.path()))
        .expect("write schemathesis.toml");

    let main_har = dir.path().join("main.har");
    let revoke_har = dir.path().join("revoke.har");
    let started = Instant::now();
    // Every operation but revocation, which would revoke the token the rest
    // of the run authenticates with, through every phase (the stateful one
    // follows the document's links: create, read, update, delete a task).
    let (passed, output) = schemathesis(
        dir.path(),
        &base,
        &secret,
        &[
            "--header",
            &authorization,
            "--exclude-path",
            "/api/auth/revoke",
            "--report",
            "har",
            "--report-har-path",
            main_har.to_str().expect("a UTF-8 path"),
        ],
    );
    assert!(
        passed,
        "schemathesis found failures (every operation but revoke):\n{output}\n{}",
        dev.report()
    );
    // Revocation, each request as a fresh user (see HOOKS). It has no links
    // to follow, so no stateful phase.
    let (passed, revoke_output) = schemathesis(
        dir.path(),
        &base,
        &secret,
        &[
            "--include-path",
            "/api/auth/revoke",
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "har",
            "--report-har-path",
            revoke_har.to_str().expect("a UTF-8 path"),
        ],
    );
    assert!(
        passed,
        "schemathesis found failures (POST /api/auth/revoke):\n{revoke_output}\n{}",
        dev.report()
    );
    let elapsed = started.elapsed();
    // The runs were authenticated and followed the links: every operation
    // succeeded at least once (a run refused throughout would pass too).
    let mut answered = answered_2xx(&main_har);
    answered.extend(answered_2xx(&revoke_har));
    for route in ROUTES {
        for method in route.methods {
            assert!(
                answered.contains(&(method.as_str().to_owned(), route.pattern)),
                "schemathesis never got a 2xx from {method} {}:\n{output}\n{revoke_output}",
                route.pattern
            );
        }
    }
    dev.assert_running();
    assert!(
        !dev.stderr().contains("panicked"),
        "the dev server panicked:\n{}",
        dev.report()
    );
    // What ran, for the test log.
    let summary = |text: &str| {
        text.lines()
            .filter(|line| line.contains(" generated, ") || line.starts_with("Seed:"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    eprintln!(
        "schemathesis: {} | revoke: {} | {elapsed:.1?}",
        summary(&output),
        summary(&revoke_output)
    );
}
