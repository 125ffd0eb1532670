//! `gatehouse explain`: what this deployment's functions would make of one
//! credential, check by check, with the reason and fix a function would
//! give. It runs the functions' own authenticator on the same environment
//! (plus `--env-file`), so it cannot disagree with them. The credential is
//! shown only as its fingerprint; no secret is ever printed.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use gatehouse::auth::explain::{Explanation, Status, Verdict, explain};
use gatehouse::clock::rfc3339;
use gatehouse::clock::unix_now;
use gatehouse::config::{Config, Needs};
use gatehouse::state::State;
use serde_json::Value;

use crate::args::Options;

/// Credentials larger than this are not read from stdin.
const MAX_CREDENTIAL_BYTES: u64 = 64 * 1024;

/// A credential from stdin (`-`), which keeps it out of shell history.
pub fn read_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_CREDENTIAL_BYTES)
        .read_to_string(&mut text)
        .map_err(|err| format!("could not read the credential from stdin: {err}"))?;
    Ok(text.trim().to_owned())
}

pub async fn run(
    options: Options,
    credential: String,
    cookie: Option<String>,
    json: bool,
) -> ExitCode {
    let credential = if credential == "-" {
        match read_stdin() {
            Ok(text) => text,
            Err(message) => {
                eprintln!("gatehouse: {message}");
                return ExitCode::from(2);
            }
        }
    } else {
        credential.trim().to_owned()
    };
    if credential.is_empty() {
        eprintln!(
            "gatehouse: the credential is empty\n  fix: pass the token or cookie value, or `-` to read it from stdin"
        );
        return ExitCode::from(2);
    }
    // No logging set-up: the refusal event a function would log is the
    // verdict printed below.
    let env = match crate::environment(&options) {
        Ok(env) => env,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::load(&env, Needs::NONE) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!(
                "gatehouse: the configuration has {} problem(s), so the functions would answer `misconfigured`:",
                errors.problems.len()
            );
            for problem in &errors.problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::from(2);
        }
    };
    let state = Arc::new(State::new(config));
    let Ok(authenticator) = state.authenticator() else {
        eprintln!(
            "gatehouse: this configuration verifies no credential at all\n  fix: set BETTER_AUTH_URL, JWT_JWKS_URL (with JWT_ISSUER and JWT_AUDIENCE), JWT_SECRET, BETTER_AUTH_SECRET with DATABASE_URL, AUTH_SERVER_URL or AUTH_SECRET"
        );
        return ExitCode::from(2);
    };
    let now = unix_now();
    let explanation = explain(authenticator, &credential, cookie.as_deref(), now).await;
    if json {
        if let Err(code) = crate::print_json(&explanation) {
            return code;
        }
    } else {
        print_text(&explanation, now);
    }
    match explanation.verdict {
        Verdict::Accepted { .. } => ExitCode::SUCCESS,
        Verdict::Refused { .. } => ExitCode::FAILURE,
    }
}

fn print_text(explanation: &Explanation, now: i64) {
    println!(
        "credential  {} (sha256:{})",
        explanation.kind, explanation.fingerprint
    );
    if let Some(header) = &explanation.unverified_header {
        println!("header      {} (unverified)", Value::Object(header.clone()));
    }
    if let Some(claims) = &explanation.unverified_claims {
        println!("claims      {} (unverified)", Value::Object(claims.clone()));
        for name in ["exp", "nbf", "iat"] {
            if let Some(at) = claims.get(name).and_then(Value::as_i64) {
                println!("  {name:<9} {} ({})", rfc3339(at), relative(at - now));
            }
        }
    }
    for check in &explanation.checks {
        let status = match check.status {
            Status::Pass => "pass".to_owned(),
            Status::Fail => format!("FAIL  {}", check.reason.unwrap_or_default()),
            Status::NotReached => "not reached".to_owned(),
            Status::Skipped => "skipped (not configured here)".to_owned(),
        };
        println!("check       {:<18} {status}", check.name);
    }
    match &explanation.verdict {
        Verdict::Accepted { principal } => {
            println!(
                "verdict     accepted: subject {}, method {}",
                principal.subject,
                serde_json::to_value(principal.method)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            );
            if let Some(expires_at) = principal.expires_at {
                println!(
                    "expires     {} ({})",
                    rfc3339(expires_at),
                    relative(expires_at - now)
                );
            }
        }
        Verdict::Refused {
            reason,
            status,
            detail,
            hint,
        } => {
            println!("verdict     refused: {status} {reason}");
            println!("detail      {detail}");
            println!("fix         {hint}");
        }
    }
}

fn relative(seconds: i64) -> String {
    match seconds {
        s if s >= 0 => format!("in {s} s"),
        s => format!("{} s ago", -s),
    }
}
