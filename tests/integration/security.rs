//! Attacks from the security review (issue 12), each performed against the
//! real binaries and seen refused.

use serde_json::json;

use crate::auth::unique_secret;
use crate::lambda_host::http_api_v2;
use crate::support::function::{Process, VercelFunction, start_dev};
use crate::support::http_client::get;
use crate::support::lambda_emulator::LambdaEmulator;

const DEBUG_SESSION: &str = env!("CARGO_BIN_EXE_debug-session");

/// Neither `ENVIRONMENT` nor `VERCEL_ENV` (Lambda; Vercel without system
/// variables): a platform-started function is production, so the debug route
/// that would show the secret's fingerprint and the expected issuers to
/// anyone is not there, and the cold-start log says why and what to set.
#[test]
fn a_deployed_function_without_an_environment_runs_as_production() {
    let secret = unique_secret("no-environment");
    let env = [("JWT_SECRET", secret.as_str()), ("LOG_FORMAT", "json")];

    let function = VercelFunction::start_as_deployed(DEBUG_SESSION, &env);
    get(function.addr(), "/api/debug/session", &[]).assert_problem(404, "route_not_found");
    let logs = function.process.stderr();
    assert!(
        logs.contains("Vercel started this function: it runs as production")
            && logs.contains("ENVIRONMENT=production"),
        "the cold-start log says so, with the fix:\n{logs}"
    );

    let mut emulator = LambdaEmulator::start();
    let mut lambda_env = emulator.function_env();
    lambda_env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let lambda_env: Vec<(&str, &str)> = lambda_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut lambda = Process::spawn(DEBUG_SESSION, &[], &lambda_env);
    let id = emulator.invoke(http_api_v2("GET", "/api/debug/session", None));
    let response = emulator.response(&id, &mut lambda);
    assert_eq!(response["statusCode"], 404, "{response}");
    assert!(
        lambda.stderr().contains("AWS Lambda started this function"),
        "{}",
        lambda.report()
    );

    // `gatehouse dev` is development without being told.
    let (_dev, addr) = start_dev(&[("JWT_SECRET", secret.as_str())]);
    let response = get(addr, "/api/debug/session", &[]);
    assert_eq!(response.status, 200, "{response}");
    assert_eq!(response.json()["environment"], json!("development"), "{response}");
}
