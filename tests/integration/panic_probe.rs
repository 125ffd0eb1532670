//! A handler that panics ends its own request with `500 internal_error`,
//! not the process: on Vercel one process serves concurrent requests, and a
//! warm Lambda instance keeps its pool. Driven with the test-only
//! `panic-probe` function over both hosts' protocols.

use serde_json::{Value, json};

use crate::lambda_host::http_api_v2;
use crate::support::function::{Process, VercelFunction, panic_probe};
use crate::support::http_client::{Connection, request};
use crate::support::lambda_emulator::LambdaEmulator;

const PANIC_MESSAGE: &str = "panicking on purpose, as asked";

#[test]
fn a_panicking_handler_ends_one_request_over_the_vercel_protocol() {
    let probe = panic_probe();
    let mut function = VercelFunction::start(&probe.to_string_lossy(), &[]);
    let pid = function.process.pid();

    for round in 1..=2u64 {
        let invocation = format!("inv-panic-{round}");
        let raw = request(
            "GET",
            "/api/panic-probe?panic=1",
            &[
                ("x-vercel-internal-invocation-id", &invocation),
                ("x-vercel-internal-request-id", &round.to_string()),
            ],
        );
        let response = Connection::open(function.addr()).send(&raw);
        let problem = response.assert_problem(500, "internal_error");
        assert!(
            !problem.to_string().contains(PANIC_MESSAGE),
            "the panic's text stays in the log: {problem}"
        );
        // Vercel is told the invocation ended, so it does not hang.
        let frame = function.end_frame(&invocation);
        assert_eq!(frame["payload"]["context"]["requestId"], round, "{frame}");

        let served =
            Connection::open(function.addr()).send(&request("GET", "/api/panic-probe", &[]));
        assert_eq!(served.status, 200, "{served}");
        // The same process answered, from the inside: not a restarted one.
        assert_eq!(served.json(), json!({ "pid": pid }), "{served}");
    }
    function.process.assert_running();
    let logs = function.process.stderr();
    assert!(
        logs.matches(PANIC_MESSAGE).count() >= 2,
        "each panic is logged: {}",
        function.process.report()
    );
}

#[test]
fn a_panicking_handler_ends_one_invocation_under_lambda() {
    let probe = panic_probe();
    let mut emulator = LambdaEmulator::start();
    let env = emulator.function_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut function = Process::spawn(&probe.to_string_lossy(), &[], &env);
    let pid = function.pid();

    for _round in 0..2 {
        let mut event = http_api_v2("GET", "/api/panic-probe", None);
        event["rawQueryString"] = json!("panic=1");
        let id = emulator.invoke(event);
        let response = emulator.response(&id, &mut function);
        assert_eq!(response["statusCode"], 500, "{response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())
            .unwrap_or_else(|err| panic!("not JSON ({err}): {response}"));
        assert_eq!(body["reason"], "internal_error", "{response}");
        assert_eq!(body["request_id"], id.as_str(), "{response}");

        let id = emulator.invoke(http_api_v2("GET", "/api/panic-probe", None));
        let response = emulator.response(&id, &mut function);
        assert_eq!(response["statusCode"], 200, "{response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or_default())
            .unwrap_or_else(|err| panic!("not JSON ({err}): {response}"));
        assert_eq!(body, json!({ "pid": pid }), "the same process answered");
    }
    function.assert_running();
}
