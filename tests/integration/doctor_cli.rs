//! `gatehouse doctor` against a real PostgreSQL and a local JWKS server:
//! a healthy deployment passes; a wrong JWKS URL, an unmigrated database and
//! a missing Better Auth schema each fail with their fix, and the exit code
//! says so.

use std::process::Output;

use serde_json::json;

use crate::auth::{AUDIENCE, ISSUER, now, standard_keys, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{block_on, run_cli};
use crate::support::jwks_server::{JwksServer, Reply};
use crate::support::mint::{jose_one, secret_spec};

/// `gatehouse doctor <args>` with only `env`.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = std::iter::once("doctor")
        .chain(args.iter().copied())
        .collect();
    run_cli(&args, env, "")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_healthy_deployment_passes_and_each_broken_part_fails_with_its_fix() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let jwks_url = server.url();
    let healthy = doctor(
        &[],
        &[
            ("DATABASE_URL", &db.url),
            ("JWT_JWKS_URL", &jwks_url),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
        ],
    );
    let out = text(&healthy);
    assert_eq!(healthy.status.code(), Some(0), "{out}");
    assert!(
        out.contains("PASS  postgres") && out.contains("migrations applied"),
        "{out}"
    );
    assert!(
        out.contains("PASS  jwks") && out.contains("key(s)"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");

    // An unmigrated database that is not Better Auth's, and a JWKS URL
    // that answers 404: three failures, each with its fix.
    let bare = block_on(TestDb::create());
    let missing = JwksServer::start(Reply::status(404));
    let secret = unique_secret("doctor");
    let broken = doctor(
        &["--json"],
        &[
            ("DATABASE_URL", &bare.url),
            ("BETTER_AUTH_SECRET", &secret),
            ("JWT_JWKS_URL", &missing.url()),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
        ],
    );
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).expect("JSON");
    let failures: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "fail")
        .map(|f| format!("{} | {}", f["message"], f["fix"]))
        .collect();
    let all = failures.join("\n");
    assert_eq!(failures.len(), 3, "{all}");
    assert!(all.contains("gatehouse migrate"), "{all}");
    assert!(all.contains("404"), "{all}");
    assert!(
        all.contains("\\\"session\\\" and \\\"user\\\" tables are not"),
        "{all}"
    );
    assert!(!text(&broken).contains(&secret), "a secret was printed");

    // An issuer whose clock is 5 minutes ahead: named, with the fix.
    let ahead =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(300));
    let skewed = JwksServer::start(Reply::jwks(&standard_keys()).with_date(&ahead));
    let skew = doctor(
        &[],
        &[
            ("JWT_JWKS_URL", &skewed.url()),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
        ],
    );
    let out = text(&skew);
    assert_eq!(skew.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  clock") && out.contains("ahead of"),
        "{out}"
    );
    assert!(
        out.contains("not yet valid") && out.contains("NTP"),
        "{out}"
    );
    assert!(text(&healthy).contains("PASS  clock"), "{}", text(&healthy));

    // A configuration the functions would refuse: the validator's problems.
    let invalid = doctor(&[], &[("JWT_SECRET", "short")]);
    assert_eq!(invalid.status.code(), Some(1), "{}", text(&invalid));
    assert!(
        text(&invalid).contains("FAIL  configuration  JWT_SECRET"),
        "{}",
        text(&invalid)
    );
}

#[test]
fn a_sample_from_stdin_is_verified_and_a_vercel_app_pair_is_named() {
    let secret = unique_secret("doctor-sample");
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));
    let env = [
        ("JWT_SECRET", secret.as_str()),
        ("CORS_ORIGINS", "https://myapp-git-main-team.vercel.app"),
    ];
    let output = run_cli(
        &[
            "doctor",
            "--json",
            "--url",
            "https://api-team.vercel.app",
            "--token",
            "-",
        ],
        &env,
        &token,
    );
    let out = text(&output);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let line = |area: &str, level: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["area"] == area && f["level"] == level)
            .map(|f| f["message"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        line("consistency", "pass").contains("is accepted for subject ada"),
        "{out}"
    );
    // Bearer tokens only: another site is fine, and the reason is named.
    let browser = line("browser", "pass");
    assert!(
        browser.contains("vercel.app is a public suffix")
            && browser.contains("fine while credentials go in Authorization"),
        "{out}"
    );
    assert!(!out.contains(&token) && !out.contains(&secret), "{out}");

    // Without the inputs, the checks that need them say so.
    let bare = doctor(&[], &env);
    let out = text(&bare);
    assert!(
        out.contains("SKIP  consistency") && out.contains("--token"),
        "{out}"
    );
    assert!(
        out.contains("SKIP  browser") && out.contains("--url"),
        "{out}"
    );
}

/// A CORS wildcard anyone can register under fails the doctor, in
/// production even with the opt-in that keeps it for previews.
#[test]
fn a_cors_wildcard_under_a_public_suffix_fails_the_doctor() {
    let secret = unique_secret("doctor-cors");
    for (environment, opt_in) in [
        ("production", false),
        ("production", true),
        ("preview", false),
    ] {
        let mut env = vec![
            ("JWT_SECRET", secret.as_str()),
            ("CORS_ORIGINS", "https://myapp-*-team.vercel.app"),
            ("ENVIRONMENT", environment),
        ];
        if opt_in {
            env.push(("CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS", "true"));
        }
        let output = run_cli(&["doctor"], &env, "");
        let out = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{environment} {opt_in}: {out}"
        );
        assert!(
            out.contains("FAIL") && out.contains("vercel.app, a public suffix"),
            "{environment} {opt_in}: {out}"
        );
    }
    // Outside production the opt-in turns it into a warning.
    let output = run_cli(
        &["doctor"],
        &[
            ("JWT_SECRET", secret.as_str()),
            ("CORS_ORIGINS", "https://myapp-*-team.vercel.app"),
            ("ENVIRONMENT", "preview"),
            ("CORS_UNSAFE_PUBLIC_SUFFIX_WILDCARDS", "true"),
        ],
        "",
    );
    let out = text(&output);
    assert!(
        out.contains("WARN") && out.contains("public suffix"),
        "{out}"
    );
}

#[test]
fn the_doctor_lists_the_accepted_credentials_and_judges_a_key_as_a_key() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let server = JwksServer::start(Reply::jwks(&standard_keys()));
    let secret = unique_secret("kinds");
    let jwks_url = server.url();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_JWKS_URL", jwks_url.as_str()),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("AUTH_SECRET", secret.as_str()),
    ];
    let report = doctor(&[], &env);
    let out = text(&report);
    let line = out
        .lines()
        .find(|line| line.contains("PASS  credentials"))
        .unwrap_or_else(|| panic!("no credentials finding: {out}"));
    for kind in [
        "JWTs of issuer `jwt`",
        ISSUER,
        "Auth.js session cookies",
        "API keys",
        "this API's own sessions",
    ] {
        assert!(line.contains(kind), "{kind} missing: {line}");
    }
    assert!(!line.contains("Better Auth"), "{line}");

    // An API key as the sample: accepted, and judged as what it is.
    let created = run_cli(
        &[
            "api-keys",
            "create",
            "--name",
            "doctor",
            "--scope",
            "auth:session",
        ],
        &[("DATABASE_URL", db.url.as_str())],
        "",
    );
    assert!(created.status.success(), "{}", text(&created));
    let key = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let sampled = run_cli(&["doctor", "--token", "-"], &env, &key);
    let out = text(&sampled);
    let line = out
        .lines()
        .find(|line| line.contains("consistency") && line.contains("is accepted"))
        .unwrap_or_else(|| panic!("the key was not accepted: {out}"));
    assert!(
        line.contains("the key is active in this deployment's database"),
        "{line}"
    );
    assert!(!line.contains("issuer and audience"), "{line}");
    assert!(!out.contains(&key), "the key was printed");
}

/// The doctor's text, its exit code, and whether its output names each of
/// `fragments`.
#[track_caller]
fn doctor_says(env: &[(&str, &str)], code: i32, fragments: &[&str]) -> String {
    let output = doctor(&[], env);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(code), "{out}");
    for fragment in fragments {
        assert!(out.contains(fragment), "lacks {fragment:?}:\n{out}");
    }
    out
}

#[test]
fn each_preset_is_named_and_its_providers_traps_are_diagnosed() {
    use base64::Engine;
    let rsa = JwksServer::start(Reply::jwks(&standard_keys()));
    let empty = JwksServer::start(Reply::jwks(&[]));
    let clerk_key = format!(
        "pk_test_{}",
        base64::engine::general_purpose::STANDARD.encode("clean-mole-12.clerk.accounts.dev$")
    );

    // Clerk: the issuer from the publishable key, the 5 s skew, azp unchecked.
    doctor_says(
        &[
            ("CLERK_PUBLISHABLE_KEY", &clerk_key),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        0,
        &[
            "PASS  preset",
            "Clerk (`clerk`, from CLERK_PUBLISHABLE_KEY): iss https://clean-mole-12.clerk.accounts.dev;",
            "azp not checked (CLERK_AUTHORIZED_PARTIES is not set)",
            "clock skew 5 s",
            "PASS  jwks",
        ],
    );

    // Auth0: the preset puts the slash; an issuer set by hand without it fails.
    doctor_says(
        &[
            ("AUTH0_DOMAIN", "dev-k3x9q2w8.us.auth0.com"),
            ("AUTH0_AUDIENCE", AUDIENCE),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        0,
        &[
            "Auth0 (`auth0`, from AUTH0_DOMAIN): iss https://dev-k3x9q2w8.us.auth0.com/; aud https://api.test.example",
        ],
    );
    doctor_says(
        &[
            ("JWT_ISSUER", "https://dev-k3x9q2w8.us.auth0.com"),
            ("JWT_AUDIENCE", AUDIENCE),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        1,
        &[
            "FAIL  preset",
            "without the trailing slash Auth0 puts in `iss` (https://dev-k3x9q2w8.us.auth0.com/)",
            "fix: set AUTH0_DOMAIN=dev-k3x9q2w8.us.auth0.com and AUTH0_AUDIENCE",
        ],
    );

    // Supabase: the legacy secret beside published signing keys is a
    // warning; with no keys published it is what verifies; without it, no
    // token can pass.
    let secret = unique_secret("supabase-doctor");
    let supabase = |jwks: &JwksServer, secret: Option<&str>| {
        let url = jwks.url();
        let mut env = vec![
            (
                "SUPABASE_URL",
                "https://abcdefghijklmnopqrst.supabase.co".to_owned(),
            ),
            ("JWT_JWKS_URL", url),
        ];
        if let Some(secret) = secret {
            env.push(("SUPABASE_JWT_SECRET", secret.to_owned()));
        }
        env
    };
    let run = |env: Vec<(&'static str, String)>, code, fragments: &[&str]| {
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        doctor_says(&refs, code, fragments)
    };
    let out = run(
        supabase(&rsa, Some(&secret)),
        0,
        &[
            "Supabase (`supabase`, from SUPABASE_URL): iss https://abcdefghijklmnopqrst.supabase.co/auth/v1; aud authenticated",
            "HS256 with SUPABASE_JWT_SECRET",
            "WARN  jwks",
            "moved to asymmetric JWT signing keys",
            "unset SUPABASE_JWT_SECRET",
        ],
    );
    assert!(!out.contains(&secret[..20]), "a secret was printed");
    let out = run(
        supabase(&empty, Some(&secret)),
        0,
        &[
            "PASS  jwks",
            "publishes no asymmetric signing key",
            "verified with SUPABASE_JWT_SECRET",
        ],
    );
    assert!(!out.contains("WARN  jwks"), "{out}");
    run(
        supabase(&empty, None),
        1,
        &[
            "FAIL  jwks",
            "SUPABASE_JWT_SECRET is not set, so every one is refused",
            "fix: set SUPABASE_JWT_SECRET",
        ],
    );

    // Cognito: the client id left out is refused with its fix; set, the
    // preset is named with what it checks; a pool behind JWT_AUDIENCE warns.
    doctor_says(
        &[
            ("COGNITO_USER_POOL_ID", "us-east-1_AbCdEf123"),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        1,
        &[
            "FAIL  configuration",
            "COGNITO_CLIENT_ID: is not set",
            "app client id",
        ],
    );
    doctor_says(
        &[
            ("COGNITO_USER_POOL_ID", "us-east-1_AbCdEf123"),
            ("COGNITO_CLIENT_ID", "4b7c2d9e1f3a5g6h8i0j2k4l6m"),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        0,
        &[
            "Amazon Cognito (`cognito`, from COGNITO_USER_POOL_ID): iss https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
            "token_use access, app client 4b7c2d9e1f3a5g6h8i0j2k4l6m",
        ],
    );
    doctor_says(
        &[
            (
                "JWT_ISSUER",
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
            ),
            ("JWT_AUDIENCE", "4b7c2d9e1f3a5g6h8i0j2k4l6m"),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        0,
        &[
            "WARN  preset",
            "Cognito access tokens have no `aud`",
            "COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID",
        ],
    );

    // Firebase: named with its project's issuer and audience.
    doctor_says(
        &[
            ("FIREBASE_PROJECT_ID", "gatehouse-demo-4f2a1"),
            ("JWT_JWKS_URL", &rsa.url()),
        ],
        0,
        &[
            "Firebase Auth (`firebase`, from FIREBASE_PROJECT_ID): iss https://securetoken.google.com/gatehouse-demo-4f2a1; aud gatehouse-demo-4f2a1",
        ],
    );
}
