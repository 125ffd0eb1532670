//! The same `health` binary under AWS Lambda: `AWS_LAMBDA_RUNTIME_API` set,
//! driven through a Runtime API emulator with API Gateway (HTTP v2 and REST
//! v1) and ALB events, one warm process for many events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::function::{HEALTH, Process, READY_TIMEOUT};
use crate::support::lambda_emulator::LambdaEmulator;

/// The example events shipped for `cargo lambda invoke --data-file` (each a
/// `GET /api/health`): the tests send the very files the README points to.
pub const HTTP_API_V2: &str = include_str!("../../deploy/aws/events/apigw-http-v2.json");
pub const REST_API_V1: &str = include_str!("../../deploy/aws/events/apigw-rest-v1.json");
pub const ALB: &str = include_str!("../../deploy/aws/events/alb.json");

fn event(file: &str) -> Value {
    serde_json::from_str(file).expect("deploy/aws/events holds JSON")
}

/// An API Gateway HTTP API (v2, same as Function URLs) event.
pub fn http_api_v2(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = event(HTTP_API_V2);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["body"] = json!(body);
    event
}

/// An API Gateway REST API (v1) proxy event.
fn rest_api_v1(path: &str) -> Value {
    let mut event = event(REST_API_V1);
    event["resource"] = json!(path);
    event["path"] = json!(path);
    event["requestContext"]["resourcePath"] = json!(path);
    event["requestContext"]["path"] = json!(format!("/prod{path}"));
    event
}

/// An Application Load Balancer target-group event.
fn alb(path: &str) -> Value {
    let mut event = event(ALB);
    event["path"] = json!(path);
    event
}

fn start(emulator: &LambdaEmulator) -> Process {
    let mut env = emulator.function_env();
    // As a developer sets it: a Lambda function without it is production.
    env.push(("ENVIRONMENT".into(), "development".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Process::spawn(HEALTH, &[], &env)
}

/// The JSON document a proxy response carries as its `body` string.
fn body_json(response: &Value) -> Value {
    let body = response["body"]
        .as_str()
        .unwrap_or_else(|| panic!("no string body: {response}"));
    serde_json::from_str(body).unwrap_or_else(|err| panic!("body is not JSON ({err}): {response}"))
}

#[test]
fn one_warm_process_answers_http_v2_rest_v1_and_alb_events() {
    let mut emulator = LambdaEmulator::start();
    let mut function = start(&emulator);

    for _round in 0..2 {
        let id = emulator.invoke(http_api_v2("GET", "/api/health", None));
        let response = emulator.response(&id, &mut function);
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["isBase64Encoded"], false, "{response}");
        assert_eq!(
            response["headers"]["content-type"], "application/json",
            "{response}"
        );
        assert_eq!(
            response["headers"]["x-request-id"],
            id.as_str(),
            "{response}"
        );
        assert_eq!(body_json(&response), json!({ "status": "healthy" }));

        let id = emulator.invoke(rest_api_v1("/api/health"));
        let response = emulator.response(&id, &mut function);
        assert_eq!(response["statusCode"], 200, "{response}");
        // REST v1 responses carry headers in multiValueHeaders only.
        assert_eq!(
            response["multiValueHeaders"]["x-request-id"],
            json!([id]),
            "{response}"
        );
        assert_eq!(
            response["multiValueHeaders"]["content-type"],
            json!(["application/json"]),
            "{response}"
        );
        assert_eq!(body_json(&response), json!({ "status": "healthy" }));

        let id = emulator.invoke(alb("/api/health"));
        let response = emulator.response(&id, &mut function);
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["statusDescription"], "200 OK", "{response}");
        assert_eq!(
            response["headers"]["x-request-id"],
            id.as_str(),
            "{response}"
        );
        assert_eq!(body_json(&response), json!({ "status": "healthy" }));
    }
    // Nothing restarts a child here: the one process spawned answered every
    // event and is still running.
    function.assert_running();
    assert!(
        !function.stderr().contains("panicked"),
        "{}",
        function.report()
    );
}

#[test]
fn refusals_keep_their_status_reason_and_request_id() {
    let mut emulator = LambdaEmulator::start();
    let mut function = start(&emulator);

    let id = emulator.invoke(http_api_v2("POST", "/api/health", Some("{}")));
    let response = emulator.response(&id, &mut function);
    assert_eq!(response["statusCode"], 405, "{response}");
    assert_eq!(
        response["headers"]["allow"], "GET, HEAD, OPTIONS",
        "{response}"
    );
    assert_eq!(
        response["headers"]["content-type"], "application/problem+json",
        "{response}"
    );
    assert_eq!(
        response["headers"]["x-request-id"],
        id.as_str(),
        "{response}"
    );
    let problem = body_json(&response);
    assert_eq!(problem["reason"], "method_not_allowed", "{response}");
    assert_eq!(problem["request_id"], id.as_str(), "{response}");

    let large = "x".repeat(1024 * 1024 + 1);
    let id = emulator.invoke(http_api_v2("GET", "/api/health", Some(&large)));
    let response = emulator.response(&id, &mut function);
    assert_eq!(response["statusCode"], 413, "{response}");
    assert_eq!(
        body_json(&response)["reason"],
        "body_too_large",
        "{response}"
    );
    assert_eq!(
        response["headers"]["x-request-id"],
        id.as_str(),
        "{response}"
    );
    // Under our `request` span (lambda_runtime's own span says `requestId`).
    let line = function.wait_stderr_line(&format!("request_id={id}"), READY_TIMEOUT);
    assert!(
        line.contains("body_too_large"),
        "logged under its id: {line}"
    );

    // Still serving.
    let id = emulator.invoke(http_api_v2("GET", "/api/health", None));
    assert_eq!(emulator.response(&id, &mut function)["statusCode"], 200);
    assert!(
        !function.stderr().contains("panicked"),
        "{}",
        function.report()
    );
}

/// Lambda Managed Instances send up to `AWS_LAMBDA_MAX_CONCURRENCY` events
/// at once; classic Lambda (and `cargo lambda watch`) sets 1 or nothing. The
/// function polls with that many loops, and never logs lambda_runtime's
/// "concurrency-tokio feature is not enabled" warning.
#[test]
fn managed_instance_concurrency_is_honoured() {
    for (limit, loops) in [(None, 1), (Some("1"), 1), (Some("3"), 3)] {
        let mut emulator = LambdaEmulator::start();
        let mut env = emulator.function_env();
        if let Some(limit) = limit {
            env.push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), limit.into()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut function = Process::spawn(HEALTH, &[], &env);
        let ids: Vec<String> = (0..6)
            .map(|_| emulator.invoke(http_api_v2("GET", "/api/health", None)))
            .collect();
        for id in &ids {
            assert_eq!(emulator.response(id, &mut function)["statusCode"], 200);
        }
        // Every loop is back waiting for the next event.
        let deadline = std::time::Instant::now() + READY_TIMEOUT;
        while emulator.most_concurrent_polls() < loops && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            emulator.most_concurrent_polls(),
            loops,
            "AWS_LAMBDA_MAX_CONCURRENCY={limit:?}\n{}",
            function.report()
        );
        assert!(
            !function.stderr().contains("concurrency-tokio"),
            "{}",
            function.report()
        );
    }
}

#[test]
fn missing_lambda_variable_exits_with_a_message_not_a_panic() {
    let emulator = LambdaEmulator::start();
    let env: Vec<(String, String)> = emulator
        .function_env()
        .into_iter()
        .filter(|(key, _)| key != "AWS_LAMBDA_FUNCTION_NAME")
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut function = Process::spawn(HEALTH, &[], &env);
    let status = function.wait_exit(Duration::from_secs(20));
    assert!(
        !status.success(),
        "must exit non-zero: {status}\n{}",
        function.report()
    );
    let stderr = function.stderr();
    assert!(
        stderr.contains("AWS_LAMBDA_FUNCTION_NAME"),
        "{}",
        function.report()
    );
    assert!(!stderr.contains("panicked"), "{}", function.report());
}

/// Lambda beyond liveness: credentials in headers and in HTTP API v2's
/// `cookies` array, `Set-Cookie` from `/api/auth/exchange` as each event
/// kind carries it (v2 `cookies`, REST v1 `multiValueHeaders`), and a route
/// that reads Postgres.
#[test]
fn credentials_cookies_and_the_database_work_under_lambda() {
    use crate::auth::{bearer, now, unique_secret};
    use crate::support::db::TestDb;
    use crate::support::function::block_on;
    use crate::support::mint::{jose_one, secret_spec};

    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("lambda");
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    let authorization = bearer(&token);
    let run = |binary: &str, event: Value| -> Value {
        let mut emulator = LambdaEmulator::start();
        let mut env = emulator.function_env();
        env.extend([
            ("ENVIRONMENT".to_owned(), "development".to_owned()),
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("JWT_SECRET".to_owned(), secret.clone()),
        ]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut function = Process::spawn(binary, &[], &env);
        let id = emulator.invoke(event);
        emulator.response(&id, &mut function)
    };

    // Exchange over HTTP API v2: the cookie comes back in `cookies`.
    let mut event = http_api_v2("POST", "/api/auth/exchange", None);
    event["headers"]["authorization"] = json!(authorization);
    let response = run(env!("CARGO_BIN_EXE_auth-exchange"), event);
    assert_eq!(response["statusCode"], 201, "{response}");
    let cookie = response["cookies"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-gatehouse_session=gs_"),
        "{response}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();

    // Over REST v1 the same header is in multiValueHeaders.
    let mut event = rest_api_v1("/api/auth/exchange");
    event["httpMethod"] = json!("POST");
    event["requestContext"]["httpMethod"] = json!("POST");
    event["headers"]["Authorization"] = json!(authorization);
    event["multiValueHeaders"]["Authorization"] = json!([authorization]);
    let response = run(env!("CARGO_BIN_EXE_auth-exchange"), event);
    assert_eq!(response["statusCode"], 201, "{response}");
    let set_cookie = &response["multiValueHeaders"]["set-cookie"];
    assert!(
        set_cookie[0]
            .as_str()
            .unwrap_or_default()
            .starts_with("__Host-gatehouse_session=gs_"),
        "{response}"
    );

    // The session from v2's `cookies` array authenticates.
    let mut event = http_api_v2("GET", "/api/auth/session", None);
    event["cookies"] = json!([pair, "unrelated=1"]);
    let response = run(env!("CARGO_BIN_EXE_auth-session"), event);
    assert_eq!(response["statusCode"], 200, "{response}");
    let principal = body_json(&response)["principal"].clone();
    assert_eq!(principal["method"], "gatehouse_session", "{response}");
    assert_eq!(principal["subject"], "ada", "{response}");

    // A route that reads Postgres.
    let mut event = http_api_v2("GET", "/api/tasks", None);
    event["headers"]["authorization"] = json!(authorization);
    let response = run(env!("CARGO_BIN_EXE_tasks"), event);
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response)["items"], json!([]), "{response}");
}
