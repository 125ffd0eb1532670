//! `gatehouse explain` on credentials minted by `jose`: the verdict, the
//! failing check and its fix are the ones a function gives, and the
//! credential and secret never appear in the output.

use std::process::Output;

use serde_json::{Value, json};

use crate::auth::{better_auth_session_token, now, unique_secret};
use crate::support::function::run_cli;
use crate::support::mint::{jose_one, secret_spec};

/// `gatehouse explain <args>` with only `env`, feeding `stdin`.
fn explain(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let args: Vec<&str> = std::iter::once("explain")
        .chain(args.iter().copied())
        .collect();
    run_cli(&args, env, stdin)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn explain_gives_the_verdict_the_failing_check_and_the_fix() {
    let secret = unique_secret("explain");
    let env = [("JWT_SECRET", secret.as_str())];
    let valid = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    let expired = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() - 600 }),
    ));
    let foreign = jose_one(secret_spec(
        "HS256",
        &unique_secret("other"),
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));

    let accepted = explain(&[&valid], &env, "");
    let out = text(&accepted);
    assert_eq!(accepted.status.code(), Some(0), "{out}");
    assert!(
        out.contains("verdict     accepted: subject ada, method jwt_shared_secret"),
        "{out}"
    );
    assert!(out.contains("check       signature          pass"), "{out}");
    assert!(
        out.contains("check       revocation         skipped"),
        "{out}"
    );

    // From stdin, as JSON: the expiry check fails, later ones are not reached.
    let refused = explain(&["--json", "-"], &env, &expired);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let report: Value = serde_json::from_slice(&refused.stdout).expect("JSON on stdout");
    assert_eq!(report["verdict"]["outcome"], "refused");
    assert_eq!(report["verdict"]["reason"], "token_expired");
    assert!(
        report["verdict"]["hint"]
            .as_str()
            .unwrap()
            .contains("fresh token")
    );
    let checks = report["checks"].as_array().unwrap();
    let status_of = |name: &str| {
        checks
            .iter()
            .find(|check| check["name"] == name)
            .map(|check| check["status"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no check {name}: {report}"))
    };
    assert_eq!(status_of("signature"), "pass");
    assert_eq!(status_of("expiry and clock"), "fail");
    assert_eq!(status_of("token version"), "not_reached");
    assert_eq!(report["unverified_claims"]["sub"], "ada");

    // Another service's secret: the signature check, with our fingerprint.
    let wrong = explain(&[&foreign], &env, "");
    let out = text(&wrong);
    assert_eq!(wrong.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL  signature_invalid"), "{out}");
    assert!(
        out.contains("fix         the service that minted it holds another secret"),
        "{out}"
    );

    // An opaque Better Auth session token where only JWTs are configured.
    let session = better_auth_session_token(false);
    let opaque = explain(&[&session], &env, "");
    let out = text(&opaque);
    assert!(out.contains("a Better Auth signed session token"), "{out}");
    assert!(out.contains("FAIL  token_malformed"), "{out}");
    assert!(
        out.contains("BETTER_AUTH_SECRET with DATABASE_URL"),
        "{out}"
    );

    // Nothing configured to verify with: named, with the fix, exit 2.
    let bare = explain(&[&valid], &[], "");
    assert_eq!(bare.status.code(), Some(2), "{}", text(&bare));
    assert!(text(&bare).contains("verifies no credential"));

    for output in [&accepted, &refused, &wrong, &opaque, &bare] {
        let out = text(output);
        for value in [&valid, &expired, &foreign, &session, &secret] {
            assert!(
                !out.contains(value.as_str()),
                "a credential or secret was printed: {out}"
            );
        }
    }
}
