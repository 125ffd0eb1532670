//! The one function for all routes (`lambda/all-routes.rs`; the module is
//! not named `all_routes`, which `cargo test routes::` would also run): one warm
//! process answers every route of the table by the request's path, through
//! the same pipeline as the functions per route (auth, refusals, request
//! ids, the misconfiguration guard per route), under the Lambda Runtime API
//! (API Gateway HTTP API v2 as a proxy integration or a Function URL sends
//! it, and REST v1 with a stage in the path) and under Vercel's protocol.

use serde_json::{Value, json};

use crate::auth::{bearer, now, unique_secret};
use crate::lambda_host::http_api_v2;
use crate::support::db::TestDb;
use crate::support::function::{Process, READY_TIMEOUT, VercelFunction, block_on};
use crate::support::http_client::{get, send};
use crate::support::lambda_emulator::LambdaEmulator;
use crate::support::mint::{jose_one, secret_spec};

const ALL_ROUTES: &str = env!("CARGO_BIN_EXE_all-routes");

/// The JSON document a proxy response carries as its `body` string.
fn body_json(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no string body: {response}"));
    serde_json::from_str(body).unwrap_or_else(|err| panic!("body is not JSON ({err}): {response}"))
}

/// A refusal as a v2 proxy response: status, problem document, reason, and
/// the invocation's request id in the header and the body.
#[track_caller]
fn assert_problem(response: &Value, id: &str, status: u16, reason: &str) -> Value {
    assert_eq!(response["statusCode"], status, "{response}");
    assert_eq!(
        response["headers"]["content-type"], "application/problem+json",
        "{response}"
    );
    assert_eq!(response["headers"]["x-request-id"], id, "{response}");
    let problem = body_json(response);
    assert_eq!(problem["reason"], reason, "{response}");
    assert_eq!(problem["request_id"], id, "{response}");
    problem
}

/// An API Gateway REST API (v1) proxy event on stage `prod`: `lambda_http`
/// gives the function `/prod<path>`.
fn rest_api_v1_on_stage(method: &str, path: &str, authorization: &str) -> Value {
    let mut event: Value = serde_json::from_str(crate::lambda_host::REST_API_V1).unwrap();
    event["httpMethod"] = json!(method);
    event["resource"] = json!("/api/{proxy+}");
    event["path"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["resourcePath"] = json!("/api/{proxy+}");
    event["requestContext"]["stage"] = json!("prod");
    event["requestContext"]["path"] = json!(format!("/prod{path}"));
    event["headers"]["Authorization"] = json!(authorization);
    event["multiValueHeaders"]["Authorization"] = json!([authorization]);
    event
}

#[test]
fn one_lambda_serves_every_route_by_its_path() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("all-routes");
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    let authorization = bearer(&token);

    let mut emulator = LambdaEmulator::start();
    let mut env = emulator.function_env();
    env.extend([
        ("ENVIRONMENT".to_owned(), "development".to_owned()),
        ("DATABASE_URL".to_owned(), db.url.clone()),
        ("JWT_SECRET".to_owned(), secret.clone()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut function = Process::spawn(ALL_ROUTES, &[], &env);
    let mut invoke = |event: Value| -> (String, Value) {
        let id = emulator.invoke(event);
        let response = emulator.response(&id, &mut function);
        (id, response)
    };
    let authorized = |method: &str, path: &str, body: Option<&str>| {
        let mut event = http_api_v2(method, path, body);
        event["headers"]["authorization"] = json!(authorization);
        if body.is_some() {
            event["headers"]["content-type"] = json!("application/json");
        }
        event
    };

    let (id, response) = invoke(http_api_v2("GET", "/api/health", None));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["x-request-id"], id.as_str());
    assert_eq!(body_json(&response), json!({ "status": "healthy" }));

    let (_, response) = invoke(http_api_v2("GET", "/api/openapi.json", None));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response)["openapi"], "3.1.0", "{response}");

    // A route that authenticates, then the database: create, then read by
    // the path parameter.
    let (_, response) = invoke(authorized("GET", "/api/auth/session", None));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response)["principal"]["subject"], "ada");
    let (_, response) = invoke(authorized(
        "POST",
        "/api/tasks",
        Some(r#"{"title":"one function"}"#),
    ));
    assert_eq!(response["statusCode"], 201, "{response}");
    let task = body_json(&response);
    let task_id = task["id"].as_str().expect("a task id").to_owned();
    let (_, response) = invoke(authorized("GET", &format!("/api/tasks/{task_id}"), None));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response)["id"], task_id.as_str(), "{response}");
    assert_eq!(body_json(&response)["title"], "one function", "{response}");

    // REST v1 on a named stage: the stage prefix is not part of the route.
    let (_, response) = invoke(rest_api_v1_on_stage(
        "GET",
        &format!("/api/tasks/{task_id}"),
        &authorization,
    ));
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response)["id"], task_id.as_str(), "{response}");

    // Refusals, each by the route the path names.
    let (id, response) = invoke(http_api_v2("GET", "/api/nope", None));
    assert_problem(&response, &id, 404, "route_not_found");
    let (id, response) = invoke(http_api_v2("GET", "/api/tasks/1/extra", None));
    assert_problem(&response, &id, 404, "route_not_found");
    let (id, response) = invoke(http_api_v2("POST", "/api/health", Some("{}")));
    assert_problem(&response, &id, 405, "method_not_allowed");
    assert_eq!(
        response["headers"]["allow"], "GET, HEAD, OPTIONS",
        "{response}"
    );
    let (id, response) = invoke(http_api_v2("DELETE", "/api/tasks", None));
    assert_problem(&response, &id, 405, "method_not_allowed");
    assert_eq!(
        response["headers"]["allow"], "GET, POST, HEAD, OPTIONS",
        "{response}"
    );
    let (id, response) = invoke(http_api_v2("GET", "/api/tasks/x", None));
    assert_problem(&response, &id, 401, "credentials_missing");

    // One process answered all of it.
    function.assert_running();
    let stderr = function.stderr();
    assert!(!stderr.contains("panicked"), "{}", function.report());
    assert!(
        !stderr.contains(&token) && !stderr.contains(&secret),
        "a secret reached the log"
    );
}

/// Without `DATABASE_URL`, routes that need none serve; those that do answer
/// `500 misconfigured` (with the variable), and the cold start says which,
/// as a function per route does for its own route.
#[test]
fn each_route_is_refused_only_for_what_it_needs() {
    let mut emulator = LambdaEmulator::start();
    let mut env = emulator.function_env();
    env.extend([
        ("ENVIRONMENT".to_owned(), "development".to_owned()),
        ("JWT_SECRET".to_owned(), unique_secret("all-routes-nodb")),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut function = Process::spawn(ALL_ROUTES, &[], &env);
    let line = function.wait_stderr_line("configuration incomplete", READY_TIMEOUT);
    for route in [
        "/api/health/detailed",
        "/api/auth/revoke",
        "/api/tasks",
        "/api/tasks/[id]",
    ] {
        assert!(line.contains(route), "{route} not named: {line}");
    }
    assert!(line.contains("DATABASE_URL"), "{line}");
    assert!(
        !line.contains("/api/health,") && !line.contains("/api/openapi.json"),
        "{line}"
    );

    let id = emulator.invoke(http_api_v2("GET", "/api/health", None));
    assert_eq!(emulator.response(&id, &mut function)["statusCode"], 200);
    let id = emulator.invoke(http_api_v2("GET", "/api/tasks", None));
    let response = emulator.response(&id, &mut function);
    let problem = assert_problem(&response, &id, 500, "misconfigured");
    assert!(problem.to_string().contains("DATABASE_URL"), "{problem}");
    function.assert_running();
}

/// The same binary under Vercel's protocol, as `gatehouse-launch` starts it:
/// routed by the path it receives, as `gatehouse dev` routes.
#[test]
fn the_same_binary_routes_by_path_under_vercel() {
    let function = VercelFunction::start(ALL_ROUTES, &[("ENVIRONMENT", "development")]);
    get(function.addr(), "/api/health", &[]).assert_healthy();
    let response = get(function.addr(), "/api/openapi.json", &[]);
    assert_eq!(response.status, 200, "{response}");
    get(function.addr(), "/api/nope", &[]).assert_problem(404, "route_not_found");
    get(function.addr(), "/api/tasks/42", &[]).assert_problem(500, "misconfigured");
    send(function.addr(), "PUT", "/api/health", &[], "").assert_problem(405, "method_not_allowed");
}
