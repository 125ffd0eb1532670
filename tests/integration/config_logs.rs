//! A function started with a broken environment keeps running, logs every
//! problem once at cold start, answers `misconfigured` (with the details only
//! outside production), and never prints or returns a secret.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::function::{HEALTH, READY_TIMEOUT, VercelFunction, json_logs};
use crate::support::http_client::get;

/// A value no log line or response could contain by accident.
fn unique(prefix: &str, len: usize) -> String {
    let mut value = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    value.truncate(len);
    value
}

fn config_events(logs: &[Value]) -> Vec<&Value> {
    logs.iter()
        .filter(|event| {
            event["message"]
                .as_str()
                .is_some_and(|message| message.starts_with("configuration invalid"))
        })
        .collect()
}

struct Broken {
    function: VercelFunction,
    secret: String,
    password: String,
}

/// `health` with four bad variables (and a good LOG_LEVEL) in `environment`.
fn start_broken(environment: &str) -> Broken {
    let secret = unique("jwt-", 20); // 20 bytes: too short for a shared secret
    let password = unique("pw-", 24);
    let url = format!("postgres://app:{password}@db.example.com/x?sslmode=disable");
    let function = VercelFunction::start(
        HEALTH,
        &[
            ("ENVIRONMENT", environment),
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "info"),
            ("DATABASE_POOL_MAX", "0"),
            ("JWT_SECRET", &secret),
            ("DATABASE_URL", &url),
            ("DEBUG_ENDPOINTS", "true"),
        ],
    );
    Broken {
        function,
        secret,
        password,
    }
}

fn assert_no_secret(broken: &Broken, bodies: &[String]) {
    let output = broken.function.process.all_output();
    for value in [&broken.secret, &broken.password] {
        assert!(
            !output.contains(value.as_str()),
            "{value} leaked into the output:\n{output}"
        );
        for body in bodies {
            assert!(
                !body.contains(value.as_str()),
                "{value} leaked into a response: {body}"
            );
        }
    }
}

#[test]
fn production_logs_every_problem_once_and_answers_without_names() {
    let mut broken = start_broken("production");
    let function = &mut broken.function;
    let first = get(function.addr(), "/api/health", &[]);
    let second = get(function.addr(), "/api/health", &[]);
    // The refusal is logged under its request id: by then the start-up
    // events are on stderr too.
    function
        .process
        .wait_stderr_line(second.request_id(), READY_TIMEOUT);

    let logs = json_logs(function);
    let events = config_events(&logs);
    assert_eq!(
        events.len(),
        1,
        "exactly one configuration event: {logs:#?}"
    );
    let event = events[0];
    assert_eq!(event["level"], "ERROR", "{event}");
    assert_eq!(event["environment"], "production", "{event}");
    assert_eq!(event["count"], 4, "{event}");
    let problems: Vec<Value> = serde_json::from_str(event["problems"].as_str().expect("problems"))
        .expect("problems is a JSON list");
    let variables: BTreeSet<&str> = problems
        .iter()
        .map(|problem| problem["variable"].as_str().expect("variable"))
        .collect();
    assert_eq!(
        variables,
        BTreeSet::from([
            "DATABASE_POOL_MAX",
            "DATABASE_URL",
            "DEBUG_ENDPOINTS",
            "JWT_SECRET"
        ]),
        "{event}"
    );
    assert!(
        problems
            .iter()
            .all(|p| !p["fix"].as_str().unwrap_or("").is_empty()),
        "every problem names its fix: {event}"
    );

    for response in [&first, &second] {
        let problem = response.assert_problem(500, "misconfigured");
        assert!(problem.get("problems").is_none(), "{response}");
        let text = response.text();
        for variable in &variables {
            assert!(
                !text.contains(variable),
                "production hides {variable}: {response}"
            );
        }
        assert!(
            text.contains("configuration invalid"),
            "points at the log: {response}"
        );
    }
    function.process.assert_running();
    assert_no_secret(&broken, &[first.text(), second.text()]);
}

#[test]
fn development_shows_the_problems_in_the_response() {
    let mut broken = start_broken("development");
    let function = &mut broken.function;
    let response = get(function.addr(), "/api/health", &[]);
    let problem = response.assert_problem(500, "misconfigured");
    let variables: BTreeSet<&str> = problem["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("development lists the problems: {response}"))
        .iter()
        .map(|problem| problem["variable"].as_str().expect("variable"))
        .collect();
    // In development, plain text to a remote database and debug routes are
    // allowed; the pool size and the short secret are not.
    assert_eq!(
        variables,
        BTreeSet::from(["DATABASE_POOL_MAX", "JWT_SECRET"]),
        "{response}"
    );
    function
        .process
        .wait_stderr_line(response.request_id(), READY_TIMEOUT);
    assert_eq!(config_events(&json_logs(function)).len(), 1);
    function.process.assert_running();
    assert_no_secret(&broken, &[response.text()]);
}
