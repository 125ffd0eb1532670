//! The same `health` binary under AWS Lambda: `AWS_LAMBDA_RUNTIME_API` set,
//! driven through a Runtime API emulator with API Gateway (HTTP v2 and REST
//! v1) and ALB events, one warm process for many events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::function::{HEALTH, Process, READY_TIMEOUT};
use crate::support::lambda_emulator::LambdaEmulator;

/// An API Gateway HTTP API (v2, same as Function URLs) event.
fn http_api_v2(method: &str, path: &str, body: Option<&str>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "10/Mar/2025:10:00:00 +0000",
            "timeEpoch": 1_741_600_800_000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// An API Gateway REST API (v1) proxy event.
fn rest_api_v1(path: &str) -> Value {
    json!({
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {
            "Accept": "*/*",
            "Host": "wt6mne2s9k.execute-api.us-west-2.amazonaws.com",
            "User-Agent": "curl/8.5.0",
            "X-Forwarded-For": "203.0.113.7",
            "X-Forwarded-Proto": "https"
        },
        "multiValueHeaders": {
            "Accept": ["*/*"],
            "Host": ["wt6mne2s9k.execute-api.us-west-2.amazonaws.com"]
        },
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "us4z18",
            "stage": "prod",
            "requestId": "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9",
            "requestTimeEpoch": 1_741_600_800_000u64,
            "identity": { "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0" },
            "resourcePath": path,
            "httpMethod": "GET",
            "apiId": "wt6mne2s9k",
            "path": format!("/prod{path}"),
            "protocol": "HTTP/1.1"
        },
        "body": null,
        "isBase64Encoded": false
    })
}

/// An Application Load Balancer target-group event.
fn alb(path: &str) -> Value {
    json!({
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gatehouse/6d0ecf831eec9f09"
            }
        },
        "httpMethod": "GET",
        "path": path,
        "queryStringParameters": {},
        "headers": {
            "accept": "*/*",
            "host": "gatehouse-123.us-east-1.elb.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        },
        "isBase64Encoded": false,
        "body": ""
    })
}

fn start(emulator: &LambdaEmulator) -> Process {
    let env = emulator.function_env();
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
    let pid = function.pid();

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
    function.assert_running();
    assert_eq!(function.pid(), pid);
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
