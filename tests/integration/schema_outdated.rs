//! A database that was never migrated (the `vercel dev` walkthrough without
//! `gatehouse migrate`, a deploy that skipped it): every route that reads the
//! database answers `503 schema_outdated` whose hint is the fix, in
//! production too, and the log names the missing object by its SQLSTATE
//! instead of tokio-postgres' bare "db error". A database that cannot be
//! reached at all is `database_unavailable`, not that.

use std::path::Path;

use gatehouse_app::routes::ROUTES;
use serde_json::json;

use crate::auth::{bearer, now, start, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{HEALTH, block_on};
use crate::support::http_client::send;
use crate::support::mint::{jose_one, secret_spec};

#[test]
fn every_database_route_names_the_missing_migration() {
    let db = block_on(TestDb::create());
    let secret = unique_secret("unmigrated");
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "alice", "exp": now() + 600 }),
    ));
    let authorization = bearer(&token);
    let mut checked = Vec::new();
    for route in ROUTES.iter().filter(|route| route.needs.database) {
        for environment in ["development", "production"] {
            let binary = Path::new(HEALTH).with_file_name(route.binary_name());
            let mut function = start(
                &binary.to_string_lossy(),
                &[
                    ("DATABASE_URL", &db.url),
                    ("JWT_SECRET", &secret),
                    ("ENVIRONMENT", environment),
                    ("LOG_FORMAT", "json"),
                ],
            );
            let path = route
                .pattern
                .replace("[id]", "0190a5b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b");
            let method = route.methods[0].as_str();
            let body = match (method, route.pattern) {
                ("GET", _) => None,
                (_, "/api/tasks") => Some(json!({ "title": "first task" }).to_string()),
                _ => Some("{}".to_owned()),
            };
            let mut headers = vec![("authorization", authorization.as_str())];
            if body.is_some() {
                headers.push(("content-type", "application/json"));
            }
            let response = send(
                function.addr(),
                method,
                &path,
                &headers,
                body.as_deref().unwrap_or_default(),
            );
            // health-detailed answers its own report, with the same fields.
            let problem = if route.pattern == "/api/health/detailed" {
                assert_eq!(response.status, 503, "{response}");
                response.json()
            } else {
                response.assert_problem(503, "schema_outdated")
            };
            assert_eq!(problem["reason"], "schema_outdated", "{response}");
            let hint = problem["hint"].as_str().unwrap_or_default();
            assert!(
                hint.contains("gatehouse migrate"),
                "{method} {path} ({environment}): the hint names the fix: {response}"
            );
            if route.pattern == "/api/tasks" {
                // Written as the response goes out: wait for it.
                function
                    .process
                    .wait_stderr_line("SQLSTATE 42", crate::support::function::READY_TIMEOUT);
            }
            let logs = function.process.stderr();
            assert!(
                !logs.contains("db error\"") && !logs.contains("query failed: db error"),
                "{method} {path}: the log says what failed, not just \"db error\":\n{logs}"
            );
            checked.push(format!("{method} {path} ({environment})"));
        }
    }
    // Every database route (ours: health-detailed, revoke, exchange, logout,
    // tasks, tasks-id; and any a team adds), in both environments, and at
    // least ours.
    let database_routes = ROUTES.iter().filter(|route| route.needs.database).count();
    assert!(database_routes >= 6, "{checked:?}");
    assert_eq!(checked.len(), 2 * database_routes, "{checked:?}");
}

#[test]
fn an_unreachable_database_is_database_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let secret = unique_secret("unreachable");
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "alice", "exp": now() + 600 }),
    ));
    let binary = Path::new(HEALTH).with_file_name("tasks");
    let function = start(
        &binary.to_string_lossy(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("JWT_SECRET", secret.as_str()),
            ("DATABASE_CONNECT_TIMEOUT_SECS", "1"),
        ],
    );
    let authorization = bearer(&token);
    let response = send(
        function.addr(),
        "GET",
        "/api/tasks",
        &[("authorization", authorization.as_str())],
        "",
    );
    let problem = response.assert_problem(503, "database_unavailable");
    assert!(
        problem["hint"]
            .as_str()
            .unwrap_or_default()
            .contains("DATABASE_URL"),
        "{response}"
    );
}
