//! `gatehouse probe` against `gatehouse dev` and against the Vercel-protocol
//! binaries behind a stand-in for Vercel's edge: what a client, and a
//! browser at an origin, would experience, each failure with its fix.

use std::process::Output;

use serde_json::{Value, json};

use crate::auth::{AUTH_SESSION, AUTH_TOKEN_HEALTH, now, start, unique_secret};
use crate::support::db::TestDb;
use crate::support::function::{HEALTH, HEALTH_DETAILED, block_on, run_cli, start_dev};
use crate::support::mint::{jose_one, secret_spec};
use crate::support::vercel_edge::VercelEdge;

fn probe(args: &[&str]) -> Output {
    let args: Vec<&str> = std::iter::once("probe")
        .chain(args.iter().copied())
        .collect();
    run_cli(&args, &[], "")
}

fn steps(output: &Output) -> Vec<Value> {
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)));
    report["steps"].as_array().expect("steps").clone()
}

fn level_of<'a>(steps: &'a [Value], name: &str) -> &'a str {
    steps
        .iter()
        .find(|step| step["name"] == name)
        .and_then(|step| step["level"].as_str())
        .unwrap_or_else(|| panic!("no step {name} in {steps:?}"))
}

#[test]
fn probe_reports_what_a_client_and_a_browser_would_experience() {
    let db = block_on(TestDb::create());
    let secret = unique_secret("probe");
    let frontend = "http://127.0.0.1:5173";
    let (dev, addr) = start_dev(&[
        ("DATABASE_URL", &db.url),
        ("JWT_SECRET", &secret),
        ("CORS_ORIGINS", frontend),
    ]);
    let base = format!("http://{addr}");
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() + 600 }),
    ));

    // A good token from an allowed origin: every step passes.
    let good = probe(&[&base, "--token", &token, "--origin", frontend, "--json"]);
    let all = steps(&good);
    assert_eq!(good.status.code(), Some(0), "{all:?}");
    for name in [
        "health",
        "health detailed",
        "token health",
        "session",
        "cors preflight",
    ] {
        assert_eq!(level_of(&all, name), "pass", "{name}: {all:?}");
    }

    // An expired token from an origin CORS_ORIGINS does not list.
    let expired = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "ada", "exp": now() - 600 }),
    ));
    let bad = probe(&[
        &base,
        "--token",
        &expired,
        "--origin",
        "https://evil.example",
        "--json",
    ]);
    let all = steps(&bad);
    assert_eq!(bad.status.code(), Some(1), "{all:?}");
    assert_eq!(level_of(&all, "session"), "fail");
    let session = all.iter().find(|s| s["name"] == "session").unwrap();
    assert!(
        session["message"]
            .as_str()
            .unwrap()
            .contains("token_expired"),
        "{session}"
    );
    assert!(
        session["fix"].as_str().unwrap().contains("fresh token"),
        "{session}"
    );
    let cors = all.iter().find(|s| s["name"] == "cors preflight").unwrap();
    assert_eq!(cors["level"], "fail");
    assert!(
        cors["message"].as_str().unwrap().contains("would block"),
        "{cors}"
    );
    assert!(
        cors["fix"].as_str().unwrap().contains("CORS_ORIGINS"),
        "{cors}"
    );

    // Nothing listening: named, with the fix.
    drop(dev);
    let down = probe(&[&base]);
    let out = String::from_utf8_lossy(&down.stdout).into_owned();
    assert_eq!(down.status.code(), Some(1), "{out}");
    assert!(
        out.contains("FAIL  health") && out.contains("fix:"),
        "{out}"
    );
    for output in [&good, &bad, &down] {
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(!text.contains(&token) && !text.contains(&expired) && !text.contains(&secret));
        // A missing value reads `(none)`, never `null`, in text and JSON.
        assert!(!text.contains("null"), "{text}");
    }
}

#[test]
fn probe_works_against_the_vercel_protocol_binaries() {
    let db = block_on(TestDb::create());
    block_on(db.migrate());
    let secret = unique_secret("probe-vercel");
    let frontend = "http://127.0.0.1:5173";
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", secret.as_str()),
        ("CORS_ORIGINS", frontend),
    ];
    // One binary per route, as deployed.
    let mut functions = [
        ("/api/health", start(HEALTH, &env)),
        ("/api/health/detailed", start(HEALTH_DETAILED, &env)),
        ("/api/auth/token-health", start(AUTH_TOKEN_HEALTH, &env)),
        ("/api/auth/session", start(AUTH_SESSION, &env)),
    ];
    let edge = VercelEdge::start(
        functions
            .iter()
            .map(|(path, function)| (*path, function.addr()))
            .collect(),
    );
    let token = jose_one(secret_spec(
        "HS256",
        &secret,
        &json!({ "sub": "grace", "exp": now() + 600 }),
    ));
    let good = probe(&[
        &edge.url(),
        "--token",
        &token,
        "--origin",
        frontend,
        "--json",
    ]);
    let all = steps(&good);
    assert_eq!(good.status.code(), Some(0), "{all:?}");
    for name in [
        "health",
        "health detailed",
        "token health",
        "session",
        "cors preflight",
        "cookies",
    ] {
        assert_eq!(level_of(&all, name), "pass", "{name}: {all:?}");
    }
    let session = all.iter().find(|s| s["name"] == "session").unwrap();
    assert!(
        session["message"].as_str().unwrap().contains("grace"),
        "{session}"
    );

    // A token for another secret: the session route's own refusal, with its fix.
    let other = jose_one(secret_spec(
        "HS256",
        &unique_secret("another-service"),
        &json!({ "sub": "grace", "exp": now() + 600 }),
    ));
    let bad = probe(&[&edge.url(), "--token", &other, "--json"]);
    let all = steps(&bad);
    assert_eq!(bad.status.code(), Some(1), "{all:?}");
    let session = all.iter().find(|s| s["name"] == "session").unwrap();
    assert!(
        session["message"]
            .as_str()
            .unwrap()
            .contains("signature_invalid"),
        "{session}"
    );
    assert!(
        session["fix"].as_str().unwrap().contains("JWT_SECRET"),
        "{session}"
    );

    // Every request reached its binary over the Vercel protocol: one `end`
    // IPC frame per request the edge forwarded.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let ends: usize = functions
        .iter_mut()
        .map(|(_, function)| {
            function
                .unconsumed_frames()
                .iter()
                .filter(|frame| frame["type"] == "end")
                .count()
        })
        .sum();
    // Five requests with an origin (the preflight included), four without.
    assert_eq!(edge.forwarded(), 9);
    assert_eq!(ends, edge.forwarded());
    for output in [&good, &bad] {
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(!text.contains(&token) && !text.contains(&other) && !text.contains(&secret));
    }
}
